package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nixfile/nixfile/internal/storetar"
	nixllb "github.com/nixfile/nixfile/llb"
)

// archiveCommand is the nix stage's use of this binary (nixllb.ArchiveCommand).
const archiveCommand = nixllb.ArchiveCommand

// archiveClosure reads the closure the nix stage listed in META, groups it
// into layers within the budget, writes each layer's archive into DIR and
// lists the layers in META (nixllb.MetaLayers), last: the list is there
// only once every archive is.
func archiveClosure(args []string) error {
	started := time.Now()
	if len(args) != 3 {
		return fmt.Errorf("usage: %s DIR META MAX-LAYERS", archiveCommand)
	}
	dir, meta := args[0], args[1]
	max, err := strconv.Atoi(args[2])
	if err != nil || max < 0 {
		return fmt.Errorf("%q is not a layer budget", args[2])
	}
	files := map[string][]byte{}
	for _, name := range nixllb.MetaFiles {
		if name == nixllb.MetaLayers {
			continue
		}
		if files[name], err = os.ReadFile(filepath.Join(meta, name)); err != nil {
			return err
		}
	}
	c, err := nixllb.ReadClosure(files)
	if err != nil {
		return err
	}
	layers := nixllb.ArchiveLayers(c, max)
	archives := make([]storetar.Archive, len(layers))
	for i, l := range layers {
		archives[i] = storetar.Archive{Name: l.Archive, Paths: l.Paths}
	}
	if err := storetar.WriteAll(dir, archives); err != nil {
		return err
	}
	tmp := filepath.Join(meta, "."+nixllb.MetaLayers)
	if err := os.WriteFile(tmp, nixllb.FormatLayers(layers), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(meta, nixllb.MetaLayers)); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "nixfile: archived the closure out of the store (%d paths, %d layers) in %d ms\n", len(c.Paths), len(layers), time.Since(started).Milliseconds())
	return nil
}

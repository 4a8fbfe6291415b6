package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/nixfile/nixfile/internal/storetar"
	nixllb "github.com/nixfile/nixfile/llb"
)

// archiveCommand is the nix stage's use of this binary (nixllb.ArchiveCommand).
const archiveCommand = nixllb.ArchiveCommand

// archiveClosure writes the archive of each store path listed on in, a line
// each, into the directory args names.
func archiveClosure(args []string, in io.Reader) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: %s DIR <PATHS", archiveCommand)
	}
	var paths []string
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		p := strings.TrimSpace(sc.Text())
		if p == "" {
			continue
		}
		if err := nixllb.ValidateStorePath(p); err != nil {
			return err
		}
		paths = append(paths, p)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return storetar.WriteAll(args[0], paths)
}

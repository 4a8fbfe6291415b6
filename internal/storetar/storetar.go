// Package storetar writes nix store paths as tar archives that unpack at /
// to exactly those paths: the nix stage writes an archive a layer, which the
// image's layer unpacks (see nixllb.CopyClosure).
//
// A layer's copy of an archive is keyed by BuildKit on the checksum of one
// file, where a copy of the paths' trees is keyed on every file of them: a
// closure of 30,000 files cost 5 s of checksums each time the nix stage ran
// again, for a package more. The archive of the same paths is the same
// bytes whenever and wherever it is written, so an unchanged layer stays a
// cache hit.
//
// What nix's NAR format holds is all an archive holds: directories, files
// with their permission bits, symlinks. Owners are root, and every time is
// the store's (1 s after the epoch), as nix itself sets them. Hard links
// are written as files: a store that nix optimised (hard links between
// identical files) gives the same archive as one it did not. The parents
// nix/ and nix/store/ come first, so that unpacking gives them the store's
// time too.
package storetar

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	nixllb "github.com/nixfile/nixfile/llb"
)

// Archive is one archive file: the store paths it holds.
type Archive struct {
	// Name is the file's name in the directory WriteAll writes.
	Name  string
	Paths []string
}

// WriteAll writes each archive into dir, several at a time.
func WriteAll(dir string, archives []Archive) error {
	return writeAll(dir, archives, "/")
}

// writeAll is WriteAll of a store under root (tests use a directory).
func writeAll(dir string, archives []Archive, root string) error {
	for _, a := range archives {
		if a.Name == "" || a.Name[0] == '.' || strings.ContainsRune(a.Name, filepath.Separator) {
			return fmt.Errorf("%q is not an archive's name", a.Name)
		}
	}
	work := make(chan Archive)
	errs := make(chan error, len(archives))
	var wg sync.WaitGroup
	for range max(1, min(runtime.NumCPU(), len(archives))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range work {
				errs <- writeFile(filepath.Join(dir, a.Name), root, a.Paths)
			}
		}()
	}
	for _, a := range archives {
		work <- a
	}
	close(work)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func writeFile(name, root string, paths []string) (err error) {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chtimes(name, nixllb.StoreTime, nixllb.StoreTime)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if err := write(w, root, paths); err != nil {
		return err
	}
	return w.Flush()
}

// Write writes one archive of the store paths to w, in the order of their
// names (whatever the order given): the same paths, the same bytes.
func Write(w io.Writer, paths ...string) error {
	return write(w, "/", paths)
}

// write is Write of a store under root: entries are named from root.
func write(w io.Writer, root string, paths []string) error {
	store := filepath.Join(root, nixllb.StoreDir)
	for _, p := range paths {
		if filepath.Dir(p) != store {
			return fmt.Errorf("%s is not a store path", p)
		}
	}
	tw := tar.NewWriter(w)
	for _, dir := range []string{"nix/", "nix/store/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: nixllb.StoreTime}); err != nil {
			return err
		}
	}
	for _, p := range slices.Sorted(slices.Values(paths)) {
		err := filepath.WalkDir(p, func(file string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return writeEntry(tw, file, strings.TrimPrefix(file, root), d)
		})
		if err != nil {
			return fmt.Errorf("archiving %s: %w", p, err)
		}
	}
	return tw.Close()
}

// writeEntry writes one file of a store path; WalkDir gives them in
// lexical order, so an archive's order is fixed.
func writeEntry(tw *tar.Writer, file, name string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	hdr := &tar.Header{
		Name:    strings.TrimPrefix(name, "/"),
		Mode:    int64(fi.Mode().Perm()),
		ModTime: nixllb.StoreTime,
	}
	switch {
	case fi.Mode().IsRegular():
		hdr.Typeflag = tar.TypeReg
		hdr.Size = fi.Size()
	case fi.IsDir():
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case fi.Mode()&fs.ModeSymlink != 0:
		hdr.Typeflag = tar.TypeSymlink
		if hdr.Linkname, err = os.Readlink(file); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s is a %s: a store path holds only files, directories and symlinks", file, fi.Mode().Type())
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if n, err := io.Copy(tw, f); err != nil {
		return err
	} else if n != hdr.Size {
		return fmt.Errorf("%s changed while it was archived", file)
	}
	return nil
}

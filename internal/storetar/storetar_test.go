package storetar

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// entry is what a user sees of an archive's member once unpacked.
type entry struct {
	name, link, data string
	typ              byte
	mode             int64
	mtime            time.Time
	uid, gid         int
	uname, gname     string
}

func readArchive(t *testing.T, data []byte) []entry {
	t.Helper()
	var out []entry
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		out = append(out, entry{hdr.Name, hdr.Linkname, string(body), hdr.Typeflag, hdr.Mode, hdr.ModTime, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname})
	}
}

// The tests archive a store under a temporary directory, named from it.
func TestWriteGivesTheStorePathAsNixHasIt(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "nix/store/0c6kzph7l0dcbfmjap64f0czdafn3b7x-odd name+v?=1")
	must(t, os.MkdirAll(filepath.Join(p, "bin"), 0o755))
	must(t, os.MkdirAll(filepath.Join(p, "share/doc with spaces"), 0o755))
	must(t, os.WriteFile(filepath.Join(p, "bin/hello"), []byte("#!/bin/sh\necho hi\n"), 0o555))
	must(t, os.WriteFile(filepath.Join(p, "share/doc with spaces/ä.txt"), []byte("text"), 0o444))
	must(t, os.Link(filepath.Join(p, "bin/hello"), filepath.Join(p, "bin/hello-again")))
	must(t, os.Symlink("hello", filepath.Join(p, "bin/hi")))
	long := strings.Repeat("l", 200)
	must(t, os.WriteFile(filepath.Join(p, "share", long), nil, 0o444))
	for _, d := range []string{"bin", "share/doc with spaces", "share", ""} {
		must(t, os.Chmod(filepath.Join(p, d), 0o555))
	}
	t.Cleanup(func() {
		_ = filepath.Walk(root, func(f string, fi os.FileInfo, _ error) error { return os.Chmod(f, 0o755) })
	})

	var buf bytes.Buffer
	must(t, write(&buf, root, []string{p}))
	got := readArchive(t, buf.Bytes())
	base := "nix/store/0c6kzph7l0dcbfmjap64f0czdafn3b7x-odd name+v?=1"
	want := []entry{
		{name: "nix/", typ: tar.TypeDir, mode: 0o755},
		{name: "nix/store/", typ: tar.TypeDir, mode: 0o755},
		{name: base + "/", typ: tar.TypeDir, mode: 0o555},
		{name: base + "/bin/", typ: tar.TypeDir, mode: 0o555},
		{name: base + "/bin/hello", typ: tar.TypeReg, mode: 0o555, data: "#!/bin/sh\necho hi\n"},
		// A hard link is a file of its own: optimised or not, one archive.
		{name: base + "/bin/hello-again", typ: tar.TypeReg, mode: 0o555, data: "#!/bin/sh\necho hi\n"},
		{name: base + "/bin/hi", typ: tar.TypeSymlink, mode: 0o777, link: "hello"},
		{name: base + "/share/", typ: tar.TypeDir, mode: 0o555},
		{name: base + "/share/doc with spaces/", typ: tar.TypeDir, mode: 0o555},
		{name: base + "/share/doc with spaces/ä.txt", typ: tar.TypeReg, mode: 0o444, data: "text"},
		{name: base + "/share/" + long, typ: tar.TypeReg, mode: 0o444},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		w := want[i]
		w.mtime = time.Unix(1, 0)
		if got[i] != w {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, got[i], w)
		}
	}

	// The same path archived again, after its files' times and owners
	// moved, is the same bytes.
	must(t, os.Chtimes(filepath.Join(p, "bin/hello"), time.Now(), time.Now()))
	var again bytes.Buffer
	must(t, write(&again, root, []string{p}))
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("a second archive of the same path differs")
	}
}

// WriteAll writes each archive with its paths, whatever their kind (a file,
// a directory, a symlink), in name order: the same set, the same bytes.
func TestWriteAllWritesEachArchive(t *testing.T) {
	root := t.TempDir()
	var paths []string
	for _, name := range []string{"a-file", "b-dir", "c-link"} {
		paths = append(paths, filepath.Join(root, "nix/store", "0c6kzph7l0dcbfmjap64f0czdafn3b7x-"+name))
	}
	must(t, os.MkdirAll(filepath.Join(root, "nix/store"), 0o755))
	must(t, os.WriteFile(paths[0], []byte("a"), 0o444))
	must(t, os.Mkdir(paths[1], 0o755))
	must(t, os.Symlink(paths[0], paths[2]))
	out := t.TempDir()
	must(t, writeAll(out, []Archive{
		{Name: "one.tar", Paths: []string{paths[2], paths[0], paths[1]}},
		{Name: "two.tar", Paths: []string{paths[1]}},
		{Name: "three.tar", Paths: paths},
	}, root))
	rel := func(p string) string { return strings.TrimPrefix(p, root+"/") }
	for name, want := range map[string][]string{
		"one.tar": {"nix/", "nix/store/", rel(paths[0]), rel(paths[1]) + "/", rel(paths[2])},
		"two.tar": {"nix/", "nix/store/", rel(paths[1]) + "/"},
	} {
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range readArchive(t, data) {
			got = append(got, e.name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s holds %q, want %q", name, got, want)
		}
		fi, err := os.Stat(filepath.Join(out, name))
		if err != nil || !fi.ModTime().Equal(time.Unix(1, 0)) {
			t.Errorf("%s has time %v", name, fi.ModTime())
		}
	}
	one, _ := os.ReadFile(filepath.Join(out, "one.tar"))
	three, _ := os.ReadFile(filepath.Join(out, "three.tar"))
	if !bytes.Equal(one, three) {
		t.Error("the same paths in another order made another archive")
	}
	for _, bad := range []string{"", "../x.tar", ".hidden", "a/b.tar"} {
		if err := writeAll(out, []Archive{{Name: bad, Paths: paths[:1]}}, root); err == nil {
			t.Errorf("an archive named %q was written", bad)
		}
	}
}

func TestWriteRefusesWhatNixCannotStore(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "nix/store/0c6kzph7l0dcbfmjap64f0czdafn3b7x-fifo")
	must(t, os.MkdirAll(p, 0o755))
	if err := syscall.Mkfifo(filepath.Join(p, "pipe"), 0o644); err != nil {
		t.Skip(err)
	}
	err := write(io.Discard, root, []string{p})
	if err == nil || !strings.Contains(err.Error(), "only files, directories and symlinks") {
		t.Errorf("got %v", err)
	}
	if err := Write(io.Discard, "/tmp/x"); err == nil {
		t.Error("a path outside the store was archived")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

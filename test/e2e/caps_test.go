package e2e

import (
	"slices"
	"testing"

	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	"github.com/nixfile/nixfile/internal/testbed"
)

// On a daemon without MergeOp (Docker's classic image store) or the symlink
// file action (BuildKit before v0.19), the frontend makes the same image: the
// same layers by diff ID, the same files, the same config, and it runs.
func TestSameImageWithoutMergeOpOrSymlink(t *testing.T) {
	bed := testbed.Require(t)
	dir := writeContext(t, map[string]string{
		"Nixfile": "PACKAGES busybox hello cacert\nUSER app\nWORKDIR /srv\nCOPY a.txt /srv/\nENTRYPOINT [\"hello\"]\n",
		"a.txt":   "a\n",
	})
	run := [][]string{nil, {"sh", "-c", "readlink /bin/hello; cat /srv/a.txt; readlink /etc/ssl/certs/ca-bundle.crt; id"}}
	want, err := build(t, bed, dir, buildOpts{run: run})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs := diffIDs(t, want)
	for _, tc := range []struct {
		name string
		hide []apicaps.CapID
	}{
		{"no MergeOp", []apicaps.CapID{pb.CapMergeOp}},
		{"no symlink action", []apicaps.CapID{pb.CapFileSymlinkCreate}},
		{"neither", []apicaps.CapID{pb.CapMergeOp, pb.CapFileSymlinkCreate}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := build(t, bed, dir, buildOpts{run: run, hideCaps: tc.hide})
			if err != nil {
				t.Fatal(err)
			}
			if ids := diffIDs(t, got); !slices.Equal(ids, wantIDs) {
				t.Errorf("layers (diff IDs):\n%v\nwant, as with every capability:\n%v", ids, wantIDs)
			}
			if got.digest != want.digest {
				t.Errorf("image digest %s, want %s", got.digest, want.digest)
			}
			for p, f := range want.files {
				g, ok := got.files[p]
				switch {
				case !ok:
					t.Errorf("/%s is missing", p)
				case g.typeflag != f.typeflag || g.linkname != f.linkname || g.mode != f.mode || g.uid != f.uid || g.gid != f.gid || !g.modTime.Equal(f.modTime) || string(g.data) != string(f.data):
					t.Errorf("/%s differs: %+v, want %+v", p, g.header(), f.header())
				}
			}
			for p := range got.files {
				if _, ok := want.files[p]; !ok {
					t.Errorf("/%s is extra", p)
				}
			}
			for i, o := range got.outputs {
				if o.err != nil || o.stdout != want.outputs[i].stdout {
					t.Errorf("run %d: %q (err %v), want %q", i, o.stdout, o.err, want.outputs[i].stdout)
				}
			}
		})
	}
}

func diffIDs(t *testing.T, img *image) []string {
	t.Helper()
	cfg := img.config
	var out []string
	for _, d := range cfg.RootFS.DiffIDs {
		out = append(out, d.String())
	}
	if len(out) == 0 {
		t.Fatal("the image has no layers")
	}
	return out
}

// header is a fileEntry without its data, for messages.
func (f fileEntry) header() fileEntry { f.data = nil; return f }

// Over the layer budget, a layer of several store paths is one copy with
// include patterns; a BuildKit without them gets a copy a path, and the
// same layers. odd's store name has a "?", which a pattern must not take
// for any character.
func TestSameLayersWithoutCopyPatterns(t *testing.T) {
	bed := testbed.Require(t)
	dir := writeContext(t, map[string]string{
		"Nixfile": "PACKAGES greeter tools.greet odd cacert tzdata\nLAYERS 2\nROOTFS none\n",
	})
	want, err := build(t, bed, dir, buildOpts{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := build(t, bed, dir, buildOpts{hideCaps: []apicaps.CapID{pb.CapFileCopyIncludeExcludePatterns}})
	if err != nil {
		t.Fatal(err)
	}
	if len(want.storeEntries()) != 7 {
		t.Fatalf("the image has store paths %v, want 7", want.storeEntries())
	}
	if ids := diffIDs(t, got); !slices.Equal(ids, diffIDs(t, want)) {
		t.Errorf("layers (diff IDs) without include patterns:\n%v\nwant, as with them:\n%v", ids, diffIDs(t, want))
	}
	if got.digest != want.digest {
		t.Errorf("image digest %s without include patterns, want %s", got.digest, want.digest)
	}
	for p, f := range want.files {
		if g, ok := got.files[p]; !ok {
			t.Errorf("/%s is missing without include patterns", p)
		} else if g.typeflag != f.typeflag || g.linkname != f.linkname || g.mode != f.mode || g.uid != f.uid || g.gid != f.gid || !g.modTime.Equal(f.modTime) || string(g.data) != string(f.data) {
			t.Errorf("/%s differs without include patterns: %+v, want %+v", p, g.header(), f.header())
		}
	}
	for p := range got.files {
		if _, ok := want.files[p]; !ok {
			t.Errorf("/%s is extra without include patterns", p)
		}
	}
	count := map[string]int{}
	layers := 0
	for _, l := range want.layerContents(t) {
		if len(l.paths) > 0 {
			layers++
		}
		for _, p := range l.paths {
			count[p]++
		}
	}
	if layers != 2 {
		t.Errorf("the closure takes %d layers, want 2", layers)
	}
	for _, p := range want.storeEntries() {
		if count[p] != 1 {
			t.Errorf("%s is in %d layers, want 1", p, count[p])
		}
	}
}

package nixfile2llb_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	apicapspb "github.com/moby/buildkit/util/apicaps/pb"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	nixllb "github.com/nixfile/nixfile/llb"
	digest "github.com/opencontainers/go-digest"
)

// capsWithout is every LLB capability of this BuildKit but the given ones,
// as an older daemon (or Docker's classic image store) reports them.
func capsWithout(ids ...apicaps.CapID) *apicaps.CapSet {
	var list []*apicapspb.APICap
	for _, c := range pb.Caps.All() {
		if !slices.Contains(ids, apicaps.CapID(c.ID)) {
			list = append(list, c)
		}
	}
	cs := pb.Caps.CapSet(list)
	return &cs
}

// Without MergeOp (Docker's classic image store) or the symlink file action
// (BuildKit before v0.19), the image has the same files, the closure still a
// layer a store path, and the LLB uses neither.
func TestAssembleWithoutMergeOpOrSymlink(t *testing.T) {
	const nixfile = "PACKAGES hello busybox\nUSER app\nCOPY a /a\n"
	closure := closureOf(t, []string{"hello-2.12.1", "busybox-1.36.1"}, []string{"glibc-2.39-52", "cacert-3.101"}, []string{"hello-2.12.1", "busybox-1.36.1"})
	closure.Features = map[string][]string{nixllb.FeatureCACert: {storePath(t, "cacert-3.101") + "/etc/ssl/certs/ca-bundle.crt"}}
	closure.BinEntries = map[string][]string{closure.Bins[0]: {"busybox", "sh"}, closure.Bins[1]: {"hello"}}

	assemble := func(t *testing.T, caps *apicaps.CapSet) *image {
		t.Helper()
		res, err := newPlan(t, nixfile, nixfile2llb.ConvertOpt{LLBCaps: caps}).Assemble(closure)
		if err != nil {
			t.Fatalf("Assemble: %v", err)
		}
		img := viewImage(t, marshalImage(t, res.State))
		if len(img.bad) > 0 {
			t.Fatalf("the image is not built on scratch: its layers stand on %q", img.bad)
		}
		return img
	}
	newest := assemble(t, nil)
	if len(newest.merges) == 0 || len(newest.byOrigin(fromSymlink)) == 0 {
		t.Fatalf("with every capability, want a merge and symlink actions; got %d merges, %d symlinks", len(newest.merges), len(newest.byOrigin(fromSymlink)))
	}

	for _, tc := range []struct {
		name              string
		missing           []apicaps.CapID
		wantMerge, wantLn bool
	}{
		{name: "no MergeOp", missing: []apicaps.CapID{pb.CapMergeOp}, wantLn: false},
		{name: "no symlink action", missing: []apicaps.CapID{pb.CapFileSymlinkCreate}, wantMerge: true, wantLn: true},
		{name: "neither (Docker 26 classic store)", missing: []apicaps.CapID{pb.CapMergeOp, pb.CapFileSymlinkCreate}, wantLn: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := assemble(t, capsWithout(tc.missing...))
			if got := len(img.merges) > 0; got != tc.wantMerge {
				t.Errorf("merges: %t, want %t", got, tc.wantMerge)
			}
			// Every op the daemon runs must be one it has.
			for d, op := range img.g.ops {
				if op.GetMerge() != nil && !tc.wantMerge {
					t.Errorf("op %s is a MergeOp", d)
				}
				for _, a := range op.GetFile().GetActions() {
					if a.GetSymlink() != nil && tc.wantLn {
						t.Errorf("op %s has a symlink action", d)
					}
				}
			}
			// The same files, by path and kind of source: links are made
			// by ln in the nix image instead of the symlink action.
			if got, want := writeSet(img, tc.wantLn), writeSet(newest, false); !slices.Equal(got, want) {
				t.Errorf("the image writes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			// One layer a store path still.
			layers := map[digest.Digest]bool{}
			for _, w := range img.byOrigin(fromStage) {
				layers[w.layer] = true
			}
			if len(layers) != len(closure.Paths) {
				t.Errorf("the closure is %d layers, want one a store path (%d)", len(layers), len(closure.Paths))
			}
			if tc.wantLn {
				checkLinker(t, img, newest)
			}
		})
	}
}

// writeSet lists "path origin" for every write; with links, symlinks copied
// from the linker's output count as symlinks.
func writeSet(img *image, links bool) []string {
	var out []string
	for _, w := range img.writes {
		o := w.origin
		if links && o == fromExec {
			o = fromSymlink
		}
		out = append(out, w.path+" "+string(o))
	}
	slices.Sort(out)
	return out
}

// checkLinker checks the ln step: it runs in the nix image with no network
// and makes exactly the links the symlink actions make, with their targets.
func checkLinker(t *testing.T, img, newest *image) {
	t.Helper()
	var want []string
	for _, op := range newest.g.ops {
		for _, a := range op.GetFile().GetActions() {
			if s := a.GetSymlink(); s != nil {
				want = append(want, s.Newpath+" -> "+s.Oldpath)
			}
		}
	}
	var got []string
	for _, op := range img.g.ops {
		e := op.GetExec()
		if e == nil || !strings.Contains(strings.Join(e.Meta.Args, " "), "ln -s") {
			continue
		}
		if e.Network != pb.NetMode_NONE {
			t.Errorf("the ln step has network %v, want none", e.Network)
		}
		args := e.Meta.Args[4:]
		for i := 0; i+1 < len(args); i += 2 {
			got = append(got, args[i+1]+" -> "+args[i])
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("the ln step makes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

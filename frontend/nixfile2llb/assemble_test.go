package nixfile2llb_test

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	nixllb "github.com/nixfile/nixfile/llb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// storeTime is the time every store path has in an image (docs: "The
// image", Filesystem).
var storeTime = time.Unix(1, 0)

// wantCopy is one COPY instruction as an image layer.
type wantCopy struct {
	line int
	srcs []string // paths in the context, as the copy reads them
	dest string   // each source's destination
	mode int32    // -1 is none
	// owner is "UID:GID" or "name:NAME[:NAME]".
	owner string
	// excludes are the --exclude patterns each source's copy has.
	excludes []string
}

func owner(c *pb.ChownOpt) string {
	id := func(u *pb.UserOpt) string {
		switch {
		case u == nil:
			return "-"
		case u.GetByName() != nil:
			return "name=" + u.GetByName().Name
		}
		return fmt.Sprint(u.GetByID())
	}
	if c == nil {
		return "none"
	}
	return id(c.User) + ":" + id(c.Group)
}

func TestAssemble(t *testing.T) {
	epoch := time.Unix(1700000000, 0).UTC()
	tests := []struct {
		name    string
		nixfile string
		opt     nixfile2llb.ConvertOpt
		// roots and deps make the closure; nil roots is no nix stage.
		roots, deps []string
		// sizes are the NarSizes of some of them, by name.
		sizes map[string]int64
		// rootfs is whether the image gets the files of the default
		// ROOTFS (users, /tmp...); without, only the closure and the
		// COPYs may write.
		rootfs bool
		// wantLayers is how many layers the closure takes; 0 is one a
		// store path.
		wantLayers int
		// wantMerge is whether the closure's layers are merged.
		wantMerge  bool
		wantCopies []wantCopy
	}{
		{
			name:    "one store path",
			nixfile: "ROOTFS none\nPACKAGES hello\n",
			roots:   []string{"hello-2.12.1"},
		},
		{
			name:      "several store paths",
			nixfile:   "ROOTFS none\nPACKAGES hello busybox\n",
			roots:     []string{"hello-2.12.1", "busybox-1.36.1"},
			deps:      []string{"glibc-2.39-52", "libidn2-2.3.7", "libunistring-1.2"},
			wantMerge: true,
		},
		{
			// Over the budget, half of it goes to paths of at least 1 MiB,
			// a layer each (glibc), the rest to buckets.
			name:       "a layer budget",
			nixfile:    "ROOTFS none\nLAYERS 2\nPACKAGES hello busybox\n",
			roots:      []string{"hello-2.12.1", "busybox-1.36.1"},
			deps:       []string{"glibc-2.39-52", "libidn2-2.3.7", "libunistring-1.2"},
			sizes:      map[string]int64{"glibc-2.39-52": 30 << 20, "busybox-1.36.1": 900 << 10},
			wantLayers: 2,
			wantMerge:  true,
		},
		{
			name:       "a layer budget of one",
			nixfile:    "ROOTFS none\nPACKAGES hello busybox\n",
			opt:        nixfile2llb.ConvertOpt{BuildArgs: map[string]string{nixfile2llb.MaxLayersArg: "1"}},
			roots:      []string{"hello-2.12.1", "busybox-1.36.1"},
			deps:       []string{"glibc-2.39-52"},
			wantLayers: 1,
		},
		{
			name: "COPY instructions",
			nixfile: "ROOTFS none\n" + // 1
				"PACKAGES hello\n" + // 2
				"COPY etc/passwd etc/group /etc/\n" + // 3
				"COPY --chmod=0640 --chown=1000:50 config.toml /srv/app/\n" + // 4
				"COPY static /srv/app/static\n" + // 5
				"COPY --chown=65534 ./bin/tool opt/tool\n" + // 6
				"COPY --chmod=4755 su /usr/local/bin/su\n", // 7
			roots:     []string{"hello-2.12.1"},
			deps:      []string{"glibc-2.39-52"},
			wantMerge: true,
			wantCopies: []wantCopy{
				{line: 3, srcs: []string{"/etc/passwd", "/etc/group"}, dest: "/etc/", mode: -1, owner: "0:0"},
				{line: 4, srcs: []string{"/config.toml"}, dest: "/srv/app/", mode: 0o640, owner: "1000:50"},
				{line: 5, srcs: []string{"/static"}, dest: "/srv/app/static", mode: -1, owner: "0:0"},
				{line: 6, srcs: []string{"/bin/tool"}, dest: "/opt/tool", mode: -1, owner: "65534:65534"},
				{line: 7, srcs: []string{"/su"}, dest: "/usr/local/bin/su", mode: 0o4755, owner: "0:0"},
			},
		},
		{
			// Each string is one path, spaces and quotes as written; only
			// $VARIABLES expand.
			name: "COPY in JSON form",
			nixfile: "ROOTFS none\n" + // 1
				"ARG DIR='conf d'\n" + // 2
				"COPY [\"my file.txt\", \"it's \\\"x\\\".conf\", \"/etc/$DIR/\"]\n" + // 3
				"COPY --chmod=0600 [\"a\\\\b\", \"/k\"]\n", // 4
			wantCopies: []wantCopy{
				{line: 3, srcs: []string{"/my file.txt", `/it's "x".conf`}, dest: "/etc/conf d/", mode: -1, owner: "0:0"},
				{line: 4, srcs: []string{`/a\b`}, dest: "/k", mode: 0o600, owner: "0:0"},
			},
		},
		{
			// --exclude applies to each source, as a Dockerfile's; --link
			// changes nothing.
			name: "COPY --exclude and --link",
			nixfile: "ROOTFS none\n" + // 1
				"ARG SKIP='*.tmp'\n" + // 2
				"COPY --exclude=*.md --exclude=$SKIP --link src/ conf /app/\n" + // 3
				"COPY --link=false --exclude=**/test [\"a b\", \"/c\"]\n", // 4
			wantCopies: []wantCopy{
				{line: 3, srcs: []string{"/src", "/conf"}, dest: "/app/", mode: -1, owner: "0:0", excludes: []string{"*.md", "*.tmp"}},
				{line: 4, srcs: []string{"/a b"}, dest: "/c", mode: -1, owner: "0:0", excludes: []string{"**/test"}},
			},
		},
		{
			name:    "COPY with a SOURCE_DATE_EPOCH",
			nixfile: "ROOTFS none\nPACKAGES hello\nCOPY a b /dst\n",
			opt:     nixfile2llb.ConvertOpt{Epoch: &epoch},
			roots:   []string{"hello-2.12.1"},
			wantCopies: []wantCopy{
				{line: 3, srcs: []string{"/a", "/b"}, dest: "/dst/", mode: -1, owner: "0:0"},
			},
		},
		{
			name:    "COPY without a nix stage",
			nixfile: "ROOTFS none\nCOPY . /app\n",
			wantCopies: []wantCopy{
				{line: 2, srcs: []string{"/"}, dest: "/app", mode: -1, owner: "0:0"},
			},
		},
		{
			name:      "the default root files",
			nixfile:   "PACKAGES hello busybox\nCOPY a /a\n",
			roots:     []string{"hello-2.12.1", "busybox-1.36.1"},
			deps:      []string{"glibc-2.39-52"},
			rootfs:    true,
			wantMerge: true,
			wantCopies: []wantCopy{
				{line: 2, srcs: []string{"/a"}, dest: "/a", mode: -1, owner: "0:0"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := tt.opt
			opt.SourceMap = llb.NewSourceMap(nil, "Nixfile", "Nixfile", []byte(tt.nixfile))
			plan := newPlan(t, tt.nixfile, opt)
			var closure *nixllb.Closure
			if tt.roots != nil {
				closure = closureOf(t, tt.roots, tt.deps, tt.roots)
				for name, size := range tt.sizes {
					p := storePath(t, name)
					closure.Info[p] = nixllb.PathInfo{Path: p, NarSize: size}
				}
			}
			if (plan.Stage != nil) != (closure != nil) {
				t.Fatalf("plan.Stage is %v, want one iff the test gives a closure", plan.Stage)
			}
			res, err := plan.Assemble(closure)
			if err != nil {
				t.Fatalf("Assemble: %v", err)
			}
			wantEpoch := time.Unix(0, 0).UTC()
			if tt.opt.Epoch != nil {
				wantEpoch = *tt.opt.Epoch
			}
			if !res.Epoch.Equal(wantEpoch) {
				t.Errorf("res.Epoch = %v, want %v", res.Epoch, wantEpoch)
			}

			g := marshalImage(t, res.State)
			img := viewImage(t, g)
			if len(img.bad) > 0 {
				t.Fatalf("the image is not built on scratch: its layers stand on %q", img.bad)
			}
			checkClosureLayers(t, img, closure, tt.wantLayers, tt.wantMerge)
			checkHistory(t, img, res.Image.History, wantEpoch)
			checkCopies(t, img, tt.wantCopies, wantEpoch)

			// Nothing but store paths comes from the nix stage, and
			// without the root files nothing but the closure and the COPYs
			// is written.
			dests := map[string]bool{}
			for _, c := range tt.wantCopies {
				dests[path.Clean(c.dest)] = true
			}
			for _, w := range img.writes {
				switch {
				case w.origin == fromStage:
					if !strings.HasPrefix(w.path, nixllb.StoreDir+"/") {
						t.Errorf("%s is copied from the nix stage, want store paths only", w.path)
					}
				case w.origin == fromContext:
					if !dests[path.Clean(w.path)] {
						t.Errorf("%s is copied from the context, want only the COPY destinations %v", w.path, dests)
					}
				case !tt.rootfs:
					t.Errorf("%s is written (%s), want only store paths and COPY destinations", w.path, w.origin)
				case w.origin == fromOther || w.origin == fromRm || w.origin == fromExec:
					t.Errorf("%s is written (%s)", w.path, w.origin)
				case strings.HasPrefix(w.path, nixllb.StoreDir):
					t.Errorf("%s is written (%s), want the store to hold the closure only", w.path, w.origin)
				}
			}
		})
	}
}

// checkClosureLayers checks that every store path of the closure is copied
// once, from the stage's closure to the same path, in wantLayers layers (0:
// a layer each), merged when there are several.
func checkClosureLayers(t *testing.T, img *image, c *nixllb.Closure, wantLayers int, wantMerge bool) {
	t.Helper()
	copied := map[string]int{}
	layers := map[digest.Digest]bool{}
	for _, w := range img.byOrigin(fromStage) {
		cp := w.copy
		copied[cp.Dest]++
		layers[w.layer] = true
		if cp.Src != cp.Dest {
			t.Errorf("store path %s copied to %s, want the same path", cp.Src, cp.Dest)
		}
		if err := nixllb.ValidateStorePath(cp.Dest); err != nil {
			t.Errorf("closure copy: %v", err)
		}
		if got := owner(cp.Owner); got != "0:0" {
			t.Errorf("%s is owned by %s, want 0:0", cp.Dest, got)
		}
		if cp.Timestamp != storeTime.UnixNano() {
			t.Errorf("%s has time %v, want %v", cp.Dest, time.Unix(0, cp.Timestamp).UTC(), storeTime.UTC())
		}
		if cp.AllowWildcard || cp.FollowSymlink {
			t.Errorf("%s is copied with wildcards or following symlinks", cp.Dest)
		}
	}
	var paths []string
	if c != nil {
		paths = c.Paths
	}
	for _, p := range paths {
		if copied[p] != 1 {
			t.Errorf("%s is copied %d times, want once", p, copied[p])
		}
	}
	if len(copied) != len(paths) {
		t.Errorf("%d store paths copied, want the %d of the closure", len(copied), len(paths))
	}
	if wantLayers == 0 {
		wantLayers = len(paths)
	}
	if len(layers) != wantLayers {
		t.Errorf("the closure is %d layers, want %d", len(layers), wantLayers)
	}
	// A merge whose inputs are exactly the closure's layers.
	merged := false
	for _, d := range img.merges {
		op := img.g.ops[d]
		var ins []digest.Digest
		for _, in := range op.Inputs {
			ins = append(ins, digest.Digest(in.Digest))
		}
		if len(ins) == len(layers) && !slices.ContainsFunc(ins, func(d digest.Digest) bool { return !layers[d] }) {
			merged = true
		}
	}
	if merged != wantMerge {
		t.Errorf("the closure's %d layers merged: %t, want %t", len(layers), merged, wantMerge)
	}
}

// checkCopies checks the COPY layers: one a COPY, in Nixfile order, each
// source copied from the context with the mode and owner asked for.
func checkCopies(t *testing.T, img *image, want []wantCopy, epoch time.Time) {
	t.Helper()
	if len(img.copyOps) != len(want) {
		t.Fatalf("%d layers copy from the context, want %d (one a COPY)", len(img.copyOps), len(want))
	}
	for i, d := range img.copyOps {
		w := want[i]
		var srcs []string
		stamped := false
		for _, wr := range img.writes {
			if wr.layer != d || wr.origin != fromContext {
				continue
			}
			cp := wr.copy
			srcs = append(srcs, cp.Src)
			if cp.Dest != w.dest {
				t.Errorf("line %d: %s is copied to %s, want %s", w.line, cp.Src, cp.Dest, w.dest)
			}
			if cp.Mode != w.mode {
				t.Errorf("line %d: %s has mode %#o, want %#o", w.line, cp.Src, cp.Mode, w.mode)
			}
			if got := owner(cp.Owner); got != w.owner {
				t.Errorf("line %d: %s is owned by %s, want %s", w.line, cp.Src, got, w.owner)
			}
			if !slices.Equal(cp.ExcludePatterns, w.excludes) {
				t.Errorf("line %d: %s excludes %q, want %q", w.line, cp.Src, cp.ExcludePatterns, w.excludes)
			}
			if !cp.AllowWildcard || cp.AllowEmptyWildcard || !cp.DirCopyContents || !cp.FollowSymlink || !cp.CreateDestPath {
				t.Errorf("line %d: %s: wildcards %t (empty %t), contents only %t, follow symlinks %t, create dest %t; want true, false, true, true, true",
					w.line, cp.Src, cp.AllowWildcard, cp.AllowEmptyWildcard, cp.DirCopyContents, cp.FollowSymlink, cp.CreateDestPath)
			}
			if cp.Timestamp == epoch.UnixNano() {
				stamped = true
			}
		}
		// The time is stamped by the copy itself or by the copy of its
		// staging layer.
		for _, a := range img.g.ops[d].GetFile().GetActions() {
			if cp := a.GetCopy(); cp != nil && cp.Timestamp == epoch.UnixNano() {
				stamped = true
			}
		}
		if !stamped {
			t.Errorf("line %d: the COPY layer is not stamped with %v", w.line, epoch)
		}
		if !slices.Equal(srcs, w.srcs) {
			t.Errorf("line %d: copies %q, want %q", w.line, srcs, w.srcs)
		}
		var lines []int
		for _, r := range img.g.ranges(d) {
			lines = append(lines, int(r.GetStart().GetLine()))
		}
		if !slices.Equal(lines, []int{w.line}) {
			t.Errorf("COPY %d (%s) has source lines %v, want [%d]", i, img.g.name(d), lines, w.line)
		}
	}
}

// checkHistory checks that the config's history has an entry a layer, in
// the layers' order, saying what the layer is, stamped with the epoch.
func checkHistory(t *testing.T, img *image, history []ocispecs.History, epoch time.Time) {
	t.Helper()
	if len(history) != len(img.fileOps) {
		t.Errorf("%d history entries for %d layers", len(history), len(img.fileOps))
		return
	}
	for i, d := range img.fileOps {
		h := history[i]
		if h.EmptyLayer {
			t.Errorf("history %d (%s) is an empty layer", i, h.CreatedBy)
		}
		if h.Created == nil || !h.Created.Equal(epoch) {
			t.Errorf("history %d (%s) was created %v, want %v", i, h.CreatedBy, h.Created, epoch)
		}
		var stage []string
		context := false
		for _, w := range img.writes {
			if w.layer != d {
				continue
			}
			switch w.origin {
			case fromStage:
				stage = append(stage, w.path)
			case fromContext:
				context = true
			}
		}
		switch {
		case len(stage) == 1:
			if want := "nix: " + stage[0]; h.CreatedBy != want {
				t.Errorf("history %d is %q, want %q", i, h.CreatedBy, want)
			}
		case len(stage) > 1:
			if want := fmt.Sprintf("nix: %d store paths: ", len(stage)); !strings.HasPrefix(h.CreatedBy, want) {
				t.Errorf("history %d is %q, want it to start with %q", i, h.CreatedBy, want)
			}
		case context:
			if want := "nixfile: " + img.g.name(d); h.CreatedBy != want {
				t.Errorf("history %d is %q, want %q", i, h.CreatedBy, want)
			}
		default:
			if !strings.HasPrefix(h.CreatedBy, "nixfile: rootfs") {
				t.Errorf("history %d is %q, want the rootfs layer's", i, h.CreatedBy)
			}
		}
	}
}

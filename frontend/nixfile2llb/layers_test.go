package nixfile2llb_test

import (
	"path"
	"strings"
	"testing"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// origin says where a path an image layer writes comes from.
type origin string

const (
	fromStage   origin = "stage"   // copied from the store cache by a layer step
	fromContext origin = "context" // copied from the build context
	fromMeta    origin = "meta"    // copied from the nix stage's Meta
	fromExec    origin = "exec"    // copied from another output of an exec
	fromScratch origin = "scratch" // a directory made by copying scratch
	fromMkfile  origin = "mkfile"
	fromMkdir   origin = "mkdir"
	fromSymlink origin = "symlink"
	fromRm      origin = "rm"
	fromOther   origin = "other"
)

// write is one path an image's layers write, and how.
type write struct {
	path   string
	origin origin
	// copy is the copy action, for copies from the context (and from a
	// layer step, for an image whose user is not root).
	copy *pb.FileActionCopy
	// layer is the image-chain op (a file op or a layer step) the write
	// ends up in.
	layer digest.Digest
}

// image is an assembled state's filesystem, as layers.
type image struct {
	g *graph
	// writes are every path the image's layers write, bottom layer first.
	writes []write
	// layers and merges are the ops of the image chain itself; each layer
	// is a file op or a layer step of the nix stage, bottom first.
	layers []digest.Digest
	merges []digest.Digest
	// copyOps are the file ops that copy from the build context, bottom
	// first: one a COPY instruction.
	copyOps []digest.Digest
	// bad are ops in the image chain that are neither file ops, merge ops
	// nor layer steps: the image would not start from scratch.
	bad []string
}

// viewImage walks an assembled state from its output down to scratch.
func viewImage(t *testing.T, g *graph) *image {
	t.Helper()
	img := &image{g: g}
	if g.out == nil {
		return img // scratch
	}
	img.walk(t, g.out)
	return img
}

// walk visits the layer in and everything below it, lower layers first.
func (img *image) walk(t *testing.T, in *pb.Input) {
	t.Helper()
	d := digest.Digest(in.Digest)
	op := img.g.ops[d]
	switch {
	case op.GetMerge() != nil:
		img.merges = append(img.merges, d)
		for _, mi := range op.GetMerge().Inputs {
			img.walk(t, op.Inputs[mi.Input])
		}
	case op.GetFile() != nil:
		actions := op.GetFile().Actions
		if len(actions) > 0 {
			if base := actions[0].Input; base >= 0 && int(base) < len(op.Inputs) {
				img.walk(t, op.Inputs[base])
			}
		}
		img.layers = append(img.layers, d)
		isCopyLayer := false
		for _, a := range actions {
			ws := img.actionWrites(t, op, a)
			for i := range ws {
				ws[i].layer = d
				if ws[i].origin == fromContext {
					isCopyLayer = true
				}
			}
			img.writes = append(img.writes, ws...)
		}
		if isCopyLayer {
			img.copyOps = append(img.copyOps, d)
		}
	case layerStepOutput(op, in):
		img.layers = append(img.layers, d)
		for _, w := range layerStepWrites(op, nil) {
			w.layer = d
			img.writes = append(img.writes, w)
		}
	default:
		img.bad = append(img.bad, op.String())
	}
}

// actionWrites are the paths one file action writes into the layer.
func (img *image) actionWrites(t *testing.T, op *pb.Op, a *pb.FileAction) []write {
	t.Helper()
	switch {
	case a.GetMkfile() != nil:
		return []write{{path: a.GetMkfile().Path, origin: fromMkfile}}
	case a.GetMkdir() != nil:
		return []write{{path: a.GetMkdir().Path, origin: fromMkdir}}
	case a.GetSymlink() != nil:
		return []write{{path: a.GetSymlink().Newpath, origin: fromSymlink}}
	case a.GetRm() != nil:
		return []write{{path: a.GetRm().Path, origin: fromRm}}
	case a.GetCopy() != nil:
	default:
		return []write{{path: "?", origin: fromOther}}
	}
	cp := a.GetCopy()
	src := a.SecondaryInput
	if src < 0 {
		return []write{{path: cp.Dest, origin: fromScratch, copy: cp}}
	}
	if int(src) >= len(op.Inputs) {
		t.Fatalf("copy %s from the output of another action: not expected", cp.Src)
	}
	in := op.Inputs[src]
	from := img.g.op(in)
	switch {
	case layerStepOutput(from, in):
		// A layer step's output, copied whole to be root's.
		if cp.Src != "/" || cp.Dest != "/" || !cp.DirCopyContents {
			t.Errorf("a layer step's output is copied from %s to %s (contents only: %t), want all of it", cp.Src, cp.Dest, cp.DirCopyContents)
		}
		return layerStepWrites(from, cp)
	case img.g.stageOutput(in) == "/nixfile/out":
		return []write{{path: cp.Dest, origin: fromMeta, copy: cp}}
	case from.GetExec() != nil:
		return []write{{path: cp.Dest, origin: fromExec, copy: cp}}
	case from.GetSource() != nil && strings.HasPrefix(from.GetSource().Identifier, "local://"):
		return []write{{path: cp.Dest, origin: fromContext, copy: cp}}
	case from.GetFile() != nil && cp.Src == "/":
		// A staging op on scratch, copied whole: what it writes, under dest.
		var out []write
		for _, sa := range from.GetFile().Actions {
			if base := sa.Input; base >= 0 && int(base) < len(from.Inputs) {
				t.Errorf("a staging op is not on scratch")
			}
			for _, w := range img.actionWrites(t, from, sa) {
				w.path = path.Join(cp.Dest, w.path)
				out = append(out, w)
			}
		}
		return out
	}
	return []write{{path: cp.Dest, origin: fromOther, copy: cp}}
}

// layerStepOutput reports whether in is the layer a layer step of the nix
// stage makes (an exec of layer.sh, its NIXFILE_LAYER mount).
func layerStepOutput(op *pb.Op, in *pb.Input) bool {
	e := op.GetExec()
	if e == nil || len(e.Meta.Args) < 2 || e.Meta.Args[1] != "/nixfile/expr/layer.sh" {
		return false
	}
	dir, _ := envValue(e.Meta.Env, "NIXFILE_LAYER")
	for _, m := range e.Mounts {
		if m.Output == in.Index {
			return m.Dest == dir
		}
	}
	return false
}

// layerStepWrites are the store paths a layer step copies, each to itself.
func layerStepWrites(op *pb.Op, cp *pb.FileActionCopy) []write {
	var out []write
	for _, p := range op.GetExec().Meta.Args[2:] {
		out = append(out, write{path: p, origin: fromStage, copy: cp})
	}
	return out
}

func (img *image) byOrigin(o origin) []write {
	var out []write
	for _, w := range img.writes {
		if w.origin == o {
			out = append(out, w)
		}
	}
	return out
}

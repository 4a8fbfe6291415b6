package nixfile2llb_test

import (
	"path"
	"strings"
	"testing"

	"github.com/moby/buildkit/solver/pb"
	nixllb "github.com/nixfile/nixfile/llb"
	digest "github.com/opencontainers/go-digest"
)

// origin says where a path an image layer writes comes from.
type origin string

const (
	fromStage   origin = "stage"   // copied from the nix stage's closure
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
	// copy is the copy action, for copies from the stage or the context.
	copy *pb.FileActionCopy
	// layer is the image-chain file op the write ends up in.
	layer digest.Digest
}

// image is an assembled state's filesystem, as layers.
type image struct {
	g *graph
	// writes are every path the image's layers write, bottom layer first.
	writes []write
	// fileOps and merges are the ops of the image chain itself; each file
	// op is a layer, bottom first.
	fileOps []digest.Digest
	merges  []digest.Digest
	// copyOps are the file ops that copy from the build context, bottom
	// first: one a COPY instruction.
	copyOps []digest.Digest
	// bad are ops in the image chain that are neither file nor merge ops:
	// the image would not start from scratch.
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
		img.fileOps = append(img.fileOps, d)
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
	case img.g.stageOutput(in) == "/nixfile/closure" && strings.TrimSuffix(cp.Src, "/") == nixllb.StoreDir:
		// A layer of several store paths: the store's entries its
		// patterns name, each as if copied to itself.
		if strings.TrimSuffix(cp.Dest, "/") != nixllb.StoreDir || !cp.DirCopyContents || len(cp.IncludePatterns) == 0 || len(cp.ExcludePatterns) > 0 {
			t.Errorf("a copy of the store to %s (contents only: %t) with include patterns %q, exclude patterns %q: want the store's named entries to the store",
				cp.Dest, cp.DirCopyContents, cp.IncludePatterns, cp.ExcludePatterns)
		}
		var out []write
		for _, pat := range cp.IncludePatterns {
			p := nixllb.StoreDir + "/" + strings.ReplaceAll(pat, `\`, "")
			one := cp.CloneVT()
			one.Src, one.Dest, one.IncludePatterns, one.DirCopyContents = p, p, nil, false
			out = append(out, write{path: p, origin: fromStage, copy: one})
		}
		return out
	case img.g.stageOutput(in) == "/nixfile/closure":
		return []write{{path: cp.Dest, origin: fromStage, copy: cp}}
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

func (img *image) byOrigin(o origin) []write {
	var out []write
	for _, w := range img.writes {
		if w.origin == o {
			out = append(out, w)
		}
	}
	return out
}

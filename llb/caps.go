package nixllb

import (
	_ "embed"
	"fmt"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
)

// Caps are the LLB features that not every BuildKit has and that the image
// can be made without. The zero value is a BuildKit that has them all.
//
// Docker Engine's built-in BuildKit lacks MergeOp on its classic image
// store (whatever its version), and BuildKit before v0.19 (Docker Engine
// before 28) has no symlink file action. The image is the same either way:
// the same files, one layer per store path.
type Caps struct {
	// NoMergeOp stacks layers with successive copies instead of merging.
	NoMergeOp bool
	// NoSymlink makes symlinks by running ln in an image (Files' linker)
	// instead of with the symlink file action.
	NoSymlink bool
	// RestampCopies copies each closure layer once more, whole, so that
	// /nix and /nix/store get the store's time: before BuildKit v0.18
	// (fsutil#214), a copy that creates the parents of its destination
	// leaves them with the wall clock, and each build a new layer. No
	// capability tells those BuildKits apart; the symlink file action came
	// one release later, so its absence stands for them.
	RestampCopies bool
	// NoCopyPatterns copies a layer's store paths one by one, for a
	// BuildKit whose copies take no include patterns.
	NoCopyPatterns bool
}

// CapsOf reads Caps from the LLB capabilities a BuildKit reports; nil is
// the newest BuildKit.
func CapsOf(cs *apicaps.CapSet) Caps {
	if cs == nil {
		return Caps{}
	}
	return Caps{
		NoMergeOp:      cs.Supports(pb.CapMergeOp) != nil,
		NoSymlink:      cs.Supports(pb.CapFileSymlinkCreate) != nil,
		RestampCopies:  cs.Supports(pb.CapFileSymlinkCreate) != nil,
		NoCopyPatterns: cs.Supports(pb.CapFileCopyIncludeExcludePatterns) != nil,
	}
}

// Combine puts layers, each a state on scratch, one on top of the other: a
// MergeOp, or without one, a copy of each layer's whole tree onto the ones
// below. A copy without owner, mode or time options keeps those of every
// file it copies, and a directory that is already there (/nix/store) keeps
// its own, so each copy adds exactly the layer's files: the same layer, by
// diff ID, as the merge gives.
func Combine(layers []llb.State, caps Caps, name string) llb.State {
	switch {
	case len(layers) == 0:
		return llb.Scratch()
	case len(layers) == 1:
		return layers[0]
	case !caps.NoMergeOp:
		return llb.Merge(layers, llb.WithCustomName(name))
	}
	st := layers[0]
	for i, l := range layers[1:] {
		st = st.File(llb.Copy(l, "/", "/", &llb.CopyInfo{CopyDirContentsOnly: true}),
			llb.WithCustomName(fmt.Sprintf("%s: layer %d of %d (no MergeOp in this BuildKit)", name, i+2, len(layers))))
	}
	return st
}

// linkScript makes, under /out, a symlink for each TARGET PATH pair of its
// arguments (see links.sh).
//
//go:embed links.sh
var linkScript string

// symlinksBy makes the symlink entries on scratch by running ln in linker,
// for a BuildKit without the symlink file action. Entry paths are absolute.
func symlinksBy(linker llb.State, links []Entry) llb.State {
	args := []string{"/bin/sh", "-c", linkScript, "sh"}
	for _, e := range links {
		args = append(args, e.Target, e.Path)
	}
	run := linker.Run(llb.Args(args), llb.Network(llb.NetModeNone),
		llb.WithCustomName("[internal] make symlinks (no symlink file action in this BuildKit)"))
	return run.AddMount("/out", llb.Scratch())
}

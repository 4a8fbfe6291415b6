package lint

import (
	"github.com/nixfile/nixfile/frontend/expand"
	"github.com/nixfile/nixfile/frontend/nixfile"
)

// Input is what the rules read: the Nixfile, the build's arguments, and
// its lines as the build expands them (package expand: the pass the
// converter builds from).
type Input struct {
	File      *nixfile.File
	BuildArgs map[string]string
	steps     []*step
}

// step is one line as the rules read it.
type step struct {
	*expand.Line
	in nixfile.Instruction
	// words are the line's main words, expanded: the source of NIXPKGS,
	// the attributes of PACKAGES, the references of FLAKE, the settings of
	// ROOTFS, the user of USER, the path of WORKDIR, the destination of
	// COPY. Nil for the other instructions.
	words []string
	// known is false when words depend on a value the check cannot know
	// (the target platform, the image's PATH), or did not expand (an
	// error, which the build reports).
	known bool
}

func steps(x *expand.Result) []*step {
	var out []*step
	for _, l := range x.Lines {
		st := &step{Line: l, in: l.In, known: l.Known && l.Err == nil}
		switch l.In.(type) {
		case *nixfile.Nixpkgs, *nixfile.Packages, *nixfile.Flake, *nixfile.Rootfs:
			st.words = l.Words
		case *nixfile.User, *nixfile.Workdir, *nixfile.Copy:
			st.words = []string{l.Value}
		}
		out = append(out, st)
	}
	return out
}

func line(in nixfile.Instruction) int { return nixfile.Location(in).Start.Line }

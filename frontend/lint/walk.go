package lint

import (
	"github.com/nixfile/nixfile/frontend/nixfile"
)

// AutomaticArgs are the build arguments that get a value without
// --build-arg, once an ARG declares them. Their value depends on the
// target and build platforms, which a check does not know.
var AutomaticArgs = []string{
	"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "NIX_SYSTEM",
	"BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT", "NIX_BUILD_SYSTEM",
}

func isAutomatic(name string) bool {
	for _, a := range AutomaticArgs {
		if a == name {
			return true
		}
	}
	return false
}

// step is one instruction with its words expanded as the converter expands
// them.
type step struct {
	in nixfile.Instruction
	// unset are the variables the line uses that are not in scope there,
	// each once, in order.
	unset []string
	// names are the variables in scope before the line, for suggestions.
	names []string
	// words are the instruction's main words, expanded: the source of
	// NIXPKGS, the attributes of PACKAGES, the references of FLAKE, the
	// settings of ROOTFS, the user of USER, the path of WORKDIR, the
	// destination of COPY. Nil for the other instructions.
	words []string
	// known is false when words depend on a value the check cannot know,
	// or did not expand (a syntax error, which the build reports).
	known bool
}

// analyze expands every word of f that the converter expands, in order,
// with the variables of each line: PATH, build arguments from their ARG
// line on, ENV variables from their pair on.
func analyze(f *nixfile.File, buildArgs map[string]string) []*step {
	sc := newScope()
	sc.set("PATH", val{}) // the image's PATH: not known before nix has run
	var steps []*step
	for _, in := range f.Instructions {
		st := &step{in: in, known: true, names: append([]string(nil), sc.keys...)}
		x := func(raw string) expansion {
			e := expand(raw, sc)
			for _, n := range e.unset {
				st.addUnset(n)
			}
			return e
		}
		// one and many collect the main words, as one value or split.
		one := func(raw string) {
			e := x(raw)
			st.words = append(st.words, e.value)
			st.known = st.known && e.known
		}
		many := func(raws []string) {
			for _, raw := range raws {
				e := x(raw)
				st.words = append(st.words, e.words...)
				st.known = st.known && e.known
			}
		}
		switch in := in.(type) {
		case *nixfile.Arg:
			// The default is read even when a build argument replaces it,
			// so that its mistakes show whatever the arguments.
			var def *expansion
			if in.Default != nil {
				e := x(*in.Default)
				def = &e
			}
			if v, ok := buildArgs[in.Name]; ok {
				sc.set(in.Name, val{s: v, known: true})
			} else if isAutomatic(in.Name) {
				sc.set(in.Name, val{})
			} else if def != nil {
				sc.set(in.Name, val{s: def.value, known: def.known})
			} else {
				sc.declare(in.Name)
			}
		case *nixfile.Env:
			for _, kv := range in.Vars {
				e := x(kv.Value)
				sc.set(kv.Key, val{s: e.value, known: e.known})
			}
		case *nixfile.Nixpkgs:
			many([]string{in.Source})
		case *nixfile.Packages:
			many(in.Attrs)
		case *nixfile.Flake:
			many(in.Refs)
		case *nixfile.Build:
			x(in.File)
			for _, a := range in.Attrs {
				x(a)
			}
		case *nixfile.Copy:
			for _, s := range in.Sources {
				x(s)
			}
			if in.Chmod != "" {
				x(in.Chmod)
			}
			if in.Chown != "" {
				x(in.Chown)
			}
			one(in.Dest)
		case *nixfile.Label:
			for _, kv := range in.Labels {
				x(kv.Key)
				x(kv.Value)
			}
		case *nixfile.Entrypoint:
			if !in.JSON {
				for _, a := range in.Args {
					x(a)
				}
			}
		case *nixfile.Cmd:
			if !in.JSON {
				for _, a := range in.Args {
					x(a)
				}
			}
		case *nixfile.Workdir:
			one(in.Path)
		case *nixfile.User:
			one(in.User)
		case *nixfile.Rootfs:
			many(in.Settings)
		case *nixfile.Expose:
			for _, p := range in.Ports {
				x(p)
			}
		case *nixfile.Volume:
			// Each string of the JSON form is expanded too.
			for _, p := range in.Paths {
				x(p)
			}
		case *nixfile.StopSignal:
			x(in.Signal)
		case *nixfile.NixConfig:
			one(in.Value)
		}
		steps = append(steps, st)
	}
	return steps
}

func (s *step) addUnset(name string) {
	for _, n := range s.unset {
		if n == name {
			return
		}
	}
	s.unset = append(s.unset, name)
}

func line(in nixfile.Instruction) int { return nixfile.Location(in).Start.Line }

// Package lint checks a parsed Nixfile for mistakes that build fine but do
// not do what the author likely meant: an unpinned package set, an image
// that runs as root, a variable that is never defined... It is what
// `docker buildx build --call check` reports for a Nixfile.
//
// Every rule is documented in docs/checks.md, under a heading of its name.
// It reads the Nixfile as the build expands it (package expand); the
// builder turns its warnings into BuildKit's lint results.
package lint

import (
	"sort"
	"strings"

	"github.com/nixfile/nixfile/frontend/expand"
	"github.com/nixfile/nixfile/frontend/nixfile"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Rule is one check.
type Rule struct {
	// Name is the rule's name, in CamelCase like BuildKit's rules.
	Name string
	// Description says in a sentence what the rule wants.
	Description string
	// Doc is where the rule is documented: docs/checks.md#name, the
	// anchor of its heading.
	Doc string
	// Check returns the rule's warnings for a Nixfile built with the given
	// build arguments (--build-arg NAME=value). Their Rule may be left
	// empty: Check (the function) sets it.
	Check func(in *Input) []Warning
}

// Warning is a rule's finding.
type Warning struct {
	// Rule is the name of the rule.
	Rule string
	// Message says what is wrong at the lines, and how to fix it.
	Message string
	// Ranges are the Nixfile lines to show, the first one the line to
	// change; none for a warning about the file as a whole.
	Ranges []nixfile.Range
}

// Line is the first line of the warning, 0 for the whole file.
func (w Warning) Line() int {
	if len(w.Ranges) == 0 {
		return 0
	}
	return w.Ranges[0].Start.Line
}

// Options select the rules and give the build's arguments.
type Options struct {
	// BuildArgs are the build arguments: a check reads a Nixfile as the
	// build with these arguments would.
	BuildArgs map[string]string
	// Expanded is the Nixfile expanded for the build (package expand);
	// nil expands it for BuildArgs and linux/amd64.
	Expanded *expand.Result
	// Skip names rules not to run; SkipAll runs none.
	Skip    []string
	SkipAll bool
}

// Rules returns every rule, in the order docs/checks.md lists them.
func Rules() []*Rule { return rules }

// RuleByName returns the rule of that name, or nil.
func RuleByName(name string) *Rule {
	for _, r := range rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Check runs the rules on f and returns their warnings: those about the
// whole file first, then by line, rules in their order within a line.
func Check(f *nixfile.File, opt Options) []Warning {
	if opt.SkipAll || f == nil {
		return nil
	}
	skip := map[string]bool{}
	for _, s := range opt.Skip {
		skip[strings.TrimSpace(s)] = true
	}
	x := opt.Expanded
	if x == nil {
		x = expand.Nixfile(f, expand.Options{BuildArgs: opt.BuildArgs, Platform: ocispecs.Platform{OS: "linux", Architecture: "amd64"}})
	}
	in := &Input{File: f, BuildArgs: opt.BuildArgs, steps: steps(x)}
	var out []Warning
	order := map[string]int{}
	for i, r := range rules {
		order[r.Name] = i
		if skip[r.Name] {
			continue
		}
		for _, w := range r.Check(in) {
			w.Rule = r.Name
			out = append(out, w)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if li, lj := out[i].Line(), out[j].Line(); li != lj {
			return li < lj
		}
		return order[out[i].Rule] < order[out[j].Rule]
	})
	return out
}

func doc(name string) string { return "docs/checks.md#" + strings.ToLower(name) }

// at is the range of an instruction, for a Warning.
func at(ins ...nixfile.Instruction) []nixfile.Range {
	var out []nixfile.Range
	for _, in := range ins {
		if in != nil {
			out = append(out, nixfile.Location(in))
		}
	}
	return out
}

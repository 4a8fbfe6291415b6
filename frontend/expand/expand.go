// Package expand reads the words of a Nixfile as a build with given build
// arguments reads them: ARG and ENV variables in scope from their line on,
// expanded with BuildKit's shell lexer (escape character \), each string of
// a JSON form one word. It is one pass that both the converter (which
// builds from its values) and the lint rules (which check its values and
// its undefined variables) read, so the two cannot disagree.
package expand

import (
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/nixfile/nixfile/frontend/nixfile"
	nixllb "github.com/nixfile/nixfile/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// MaxExpandedSize is the most bytes the words of a Nixfile may expand to,
// in all: it bounds what build args make the frontend hold.
const MaxExpandedSize = 16 << 20

// Options are what the expansion depends on besides the Nixfile.
type Options struct {
	// BuildArgs are the build arguments (--build-arg NAME=value).
	BuildArgs map[string]string
	// Platform is the target platform, for the automatic build arguments.
	Platform ocispecs.Platform
	// BuildPlatform is the build platform (BUILDPLATFORM and friends); the
	// zero value is Platform.
	BuildPlatform ocispecs.Platform
	// Path is $PATH: the PATH the image starts with.
	Path string
}

// Line is one instruction with its words expanded. Which fields are set
// depends on the instruction:
//
//   - Words: the source and sha256 of NIXPKGS, the attributes of PACKAGES
//     and BUILD, the references of FLAKE, the sources of COPY, the
//     arguments of ENTRYPOINT and CMD and HEALTHCHECK's command (a JSON
//     form's as written), the settings of ROOTFS, the ports of EXPOSE, the
//     paths of VOLUME;
//   - Value: the value an ARG got (Set says whether it got one), the file
//     of BUILD, the destination of COPY, the path of WORKDIR, the user of
//     USER, the value of NIXCONFIG, the number of LAYERS, the signal of
//     STOPSIGNAL, "NONE" for HEALTHCHECK NONE;
//   - Pairs: the variables of ENV, the labels of LABEL, HEALTHCHECK's flags
//     (names without "--");
//   - Chmod, Chown, Excludes and From: COPY's flags.
type Line struct {
	In nixfile.Instruction
	// Scope is the variables in scope before the line, in the order they
	// came into scope.
	Scope []string
	// Undefined are the variables the line uses that no ARG or ENV above
	// it defines, each once, in the order they appear. An ARG without a
	// value defines its name (it expands to nothing).
	Undefined []string
	// Known is false when a word of the line depends on what the Nixfile
	// does not fix: the target platform (an automatic build argument) or
	// the image's PATH.
	Known bool
	// ReadsPath is true when a word of the line depends on $PATH.
	ReadsPath bool
	// Err is the error that stops the build at this line: a word that does
	// not expand (an unterminated quote or ${), expands to a NUL, or too
	// many words or bytes. The fields are then partial.
	Err error
	// Size is the bytes the line's words expand to.
	Size int

	Words        []string
	Value        string
	Set          bool
	Pairs        []nixfile.KeyValue
	Chmod, Chown string
	// Excludes are COPY's --exclude patterns.
	Excludes []string
	// From is COPY's --from.
	From string
}

// Range is where the line is in the Nixfile.
func (l *Line) Range() nixfile.Range { return nixfile.Location(l.In) }

// Result is a Nixfile expanded.
type Result struct {
	// Lines are the instructions, in order. Expansion goes on past a
	// line's error, so that a check sees every line; past
	// MaxExpandedSize it stops.
	Lines []*Line
	// Args are the values the ARGs got, by name.
	Args map[string]string
}

// Err is the first line's error, if any.
func (r *Result) Err() error {
	for _, l := range r.Lines {
		if l.Err != nil {
			return l.Err
		}
	}
	return nil
}

// buildPlatform is BuildPlatform, or Platform without one.
func (o Options) buildPlatform() ocispecs.Platform {
	if o.BuildPlatform.OS == "" && o.BuildPlatform.Architecture == "" {
		return o.Platform
	}
	return o.BuildPlatform
}

// Automatic are the build arguments that get a value without --build-arg
// once an ARG declares them, as in a Dockerfile, plus NIX_SYSTEM and
// NIX_BUILD_SYSTEM. Their values depend on the target and build platforms.
var Automatic = []string{
	"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "NIX_SYSTEM",
	"BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT", "NIX_BUILD_SYSTEM",
}

// IsAutomatic reports whether name is one of Automatic.
func IsAutomatic(name string) bool { return slices.Contains(Automatic, name) }

// AutomaticArgs are the values of Automatic for the target platform and
// the build platform (where nix runs).
func AutomaticArgs(target, build ocispecs.Platform) map[string]string {
	args := map[string]string{}
	for prefix, p := range map[string]ocispecs.Platform{"TARGET": target, "BUILD": build} {
		args[prefix+"PLATFORM"] = p.OS + "/" + p.Architecture
		if p.Variant != "" {
			args[prefix+"PLATFORM"] += "/" + p.Variant
		}
		args[prefix+"OS"] = p.OS
		args[prefix+"ARCH"] = p.Architecture
		args[prefix+"VARIANT"] = p.Variant
	}
	if s, err := nixllb.System(target); err == nil {
		args["NIX_SYSTEM"] = s
	}
	if s, err := nixllb.System(build); err == nil {
		args["NIX_BUILD_SYSTEM"] = s
	}
	return args
}

// scope is the variables in force at a line, as the lexer reads them. A
// declared ARG without a value is not found (${NAME-x} gives x) but is no
// mistake; unknown names have values the Nixfile does not fix.
type scope struct {
	vars     map[string]string
	keys     []string
	declared map[string]bool
	unknown  map[string]bool
	// fromPath are the names whose values depend on $PATH.
	fromPath map[string]bool
	// lookups are the names the lexer looked up since the last reset.
	lookups []string
}

func (s *scope) Get(k string) (string, bool) {
	s.lookups = append(s.lookups, k)
	v, ok := s.vars[k]
	return v, ok
}

func (s *scope) Keys() []string { return s.keys }

func (s *scope) bring(k string) {
	if !slices.Contains(s.keys, k) {
		s.keys = append(s.keys, k)
	}
}

func (s *scope) set(k, v string, known, fromPath bool) {
	s.bring(k)
	s.vars[k] = v
	s.unknown[k] = !known
	s.fromPath[k] = fromPath
}

func (s *scope) declare(k string) {
	s.bring(k)
	s.declared[k] = true
}

// Nixfile expands f.
func Nixfile(f *nixfile.File, opt Options) *Result {
	x := &expander{
		lex:  shell.NewLex('\\'),
		sc:   &scope{vars: map[string]string{}, declared: map[string]bool{}, unknown: map[string]bool{}, fromPath: map[string]bool{}},
		auto: AutomaticArgs(opt.Platform, opt.buildPlatform()),
		res:  &Result{Args: map[string]string{}},
	}
	// $PATH is the PATH the image starts with, as a base image's ENV would
	// be in a Dockerfile; the Nixfile does not fix it.
	x.sc.set("PATH", opt.Path, false, true)
	for _, in := range f.Instructions {
		l := &Line{In: in, Scope: slices.Clone(x.sc.keys), Known: true}
		x.line = l
		x.expand(in, opt.BuildArgs)
		x.res.Lines = append(x.res.Lines, l)
		if x.total > MaxExpandedSize {
			break
		}
	}
	return x.res
}

type expander struct {
	lex   *shell.Lex
	sc    *scope
	auto  map[string]string
	res   *Result
	line  *Line
	total int
	// pathWord is true when the last word lexed read $PATH.
	pathWord bool
}

// fail records the line's first error.
func (x *expander) fail(err error) {
	if x.line.Err == nil {
		x.line.Err = nixfile.WithLocation(fmt.Errorf("%s: %w", nixfile.KeywordOf(x.line.In), err), x.line.In)
	}
}

// count adds the bytes of an expanded word to the line and the Nixfile.
func (x *expander) count(s string) {
	x.line.Size += len(s)
	x.total += len(s)
	if x.total > MaxExpandedSize {
		x.fail(fmt.Errorf("the Nixfile's words expand to more than %d MiB", MaxExpandedSize>>20))
	}
}

// lexWord expands one raw word, noting its undefined variables and
// whether it depends on an unknown value.
func (x *expander) lexWord(raw string) (shell.ProcessWordResult, bool, error) {
	x.sc.lookups = x.sc.lookups[:0]
	res, err := x.lex.ProcessWordWithMatches(raw, x.sc)
	known := true
	x.pathWord = false
	var undefined []string
	for _, k := range x.sc.lookups {
		if x.sc.unknown[k] {
			known = false
		}
		if x.sc.fromPath[k] {
			x.pathWord = true
			x.line.ReadsPath = true
		}
		if _, ok := res.Unmatched[k]; ok && !x.sc.declared[k] && !slices.Contains(undefined, k) {
			undefined = append(undefined, k)
		}
	}
	// In the order they are written: the lexer looks up ${A:-$B}'s B first.
	slices.SortStableFunc(undefined, func(a, b string) int { return firstUse(raw, a) - firstUse(raw, b) })
	for _, k := range undefined {
		if !slices.Contains(x.line.Undefined, k) {
			x.line.Undefined = append(x.line.Undefined, k)
		}
	}
	if err != nil {
		return res, false, fmt.Errorf("expanding %s: %w", raw, err)
	}
	return res, known, nil
}

// firstUse is where $name or ${name is first in raw.
func firstUse(raw, name string) int {
	i, j := strings.Index(raw, "$"+name), strings.Index(raw, "${"+name)
	switch {
	case i < 0 && j < 0:
		return len(raw)
	case i < 0 || j >= 0 && j < i:
		return j
	}
	return i
}

// word expands raw as one value (a Dockerfile's ProcessWord).
func (x *expander) word(raw string) (string, bool) {
	res, known, err := x.lexWord(raw)
	if err != nil {
		x.fail(err)
		return "", false
	}
	x.line.Known = x.line.Known && known
	if err := checkExpanded(raw, res.Result); err != nil {
		x.fail(err)
	}
	x.count(res.Result)
	return res.Result, known
}

// jsonWord expands a string of a JSON array: one word as written, its
// quotes and backslashes escaped so that only $VARIABLES expand.
func (x *expander) jsonWord(raw string) (string, bool) {
	return x.word(jsonWordEscaper.Replace(raw))
}

var jsonWordEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`, `"`, `\"`)

// words expands raws into the words they split into (ProcessWords).
func (x *expander) words(raws []string) []string {
	var out []string
	for _, raw := range raws {
		res, known, err := x.lexWord(raw)
		if err != nil {
			x.fail(err)
			continue
		}
		x.line.Known = x.line.Known && known
		for _, w := range res.Words {
			if err := checkExpanded(raw, w); err != nil {
				x.fail(err)
			}
			x.count(w)
		}
		out = append(out, res.Words...)
		if len(out) > nixfile.MaxWords {
			x.fail(fmt.Errorf("expands to more than %d words", nixfile.MaxWords))
			return out
		}
	}
	return out
}

// checkExpanded checks a word after expansion: no NUL, which no name or
// string of an image has (nix, exec and the kernel read up to it).
func checkExpanded(raw, out string) error {
	if strings.IndexByte(out, 0) >= 0 {
		return fmt.Errorf("%s expands to %q, which has a NUL byte", raw, out)
	}
	return nil
}

func (x *expander) expand(in nixfile.Instruction, buildArgs map[string]string) {
	l := x.line
	switch in := in.(type) {
	case *nixfile.Arg:
		// As in a Dockerfile, an automatic build arg's value beats the
		// ARG's default; only --build-arg overrides it. The default is
		// read whatever replaces it, so that a check shows its undefined
		// variables; only when it is the value can it fail the build.
		var (
			def      shell.ProcessWordResult
			defKnown bool
			defErr   error
		)
		defPath := false
		if in.Default != nil {
			def, defKnown, defErr = x.lexWord(*in.Default)
			defPath = x.pathWord
		}
		v, given := buildArgs[in.Name]
		auto, isAuto := x.auto[in.Name]
		switch {
		case given:
			x.sc.set(in.Name, v, true, false)
		case isAuto:
			x.sc.set(in.Name, auto, false, false)
			l.Known = false
		case in.Default != nil && defErr != nil:
			// The build stops here; for the lines after it (a check reads
			// them all) the name is declared.
			x.fail(defErr)
			x.sc.declare(in.Name)
		case in.Default != nil:
			if err := checkExpanded(*in.Default, def.Result); err != nil {
				x.fail(err)
			}
			x.count(def.Result)
			x.sc.set(in.Name, def.Result, defKnown, defPath)
			l.Known = defKnown
		default:
			x.sc.declare(in.Name)
		}
		if v, ok := x.sc.vars[in.Name]; ok {
			l.Value, l.Set = v, true
			x.res.Args[in.Name] = v
		}
	case *nixfile.Nixpkgs:
		l.Words = x.words([]string{in.Source})
	case *nixfile.Packages:
		l.Words = x.words(in.Attrs)
	case *nixfile.Flake:
		l.Words = x.words(in.Refs)
	case *nixfile.Build:
		l.Value, _ = x.word(in.File)
		l.Words = x.words(in.Attrs)
	case *nixfile.Copy:
		word := x.word
		if in.JSON {
			word = x.jsonWord
		}
		for _, s := range in.Sources {
			v, _ := word(s)
			l.Words = append(l.Words, v)
		}
		l.Value, _ = word(in.Dest)
		if in.Chmod != "" {
			l.Chmod, _ = x.word(in.Chmod)
		}
		if in.Chown != "" {
			l.Chown, _ = x.word(in.Chown)
		}
		for _, e := range in.Excludes {
			v, _ := x.word(e)
			l.Excludes = append(l.Excludes, v)
		}
		if in.From != "" {
			l.From, _ = x.word(in.From)
		}
	case *nixfile.Env:
		for _, kv := range in.Vars {
			v, known := x.word(kv.Value)
			x.sc.set(kv.Key, v, known, x.pathWord)
			l.Pairs = append(l.Pairs, nixfile.KeyValue{Key: kv.Key, Value: v})
		}
	case *nixfile.Label:
		for _, kv := range in.Labels {
			k, _ := x.word(kv.Key)
			v, _ := x.word(kv.Value)
			l.Pairs = append(l.Pairs, nixfile.KeyValue{Key: k, Value: v})
		}
	case *nixfile.Entrypoint:
		l.Words = x.args(in.Args, in.JSON)
	case *nixfile.Cmd:
		l.Words = x.args(in.Args, in.JSON)
	case *nixfile.Workdir:
		l.Value, _ = x.word(in.Path)
	case *nixfile.User:
		l.Value, _ = x.word(in.User)
	case *nixfile.NixConfig:
		l.Value, _ = x.word(in.Value)
	case *nixfile.Layers:
		l.Value, _ = x.word(in.Max)
	case *nixfile.Rootfs:
		l.Words = x.words(in.Settings)
	case *nixfile.Expose:
		l.Words = x.words(in.Ports)
	case *nixfile.Volume:
		if in.JSON {
			// Each JSON string is one path: expanded, never split.
			for _, p := range in.Paths {
				v, _ := x.jsonWord(p)
				l.Words = append(l.Words, v)
			}
		} else {
			l.Words = x.words(in.Paths)
		}
	case *nixfile.StopSignal:
		l.Value, _ = x.word(in.Signal)
	case *nixfile.Healthcheck:
		if in.None {
			l.Value = "NONE"
		}
		for _, f := range in.Flags {
			v, _ := x.word(f.Value)
			l.Pairs = append(l.Pairs, nixfile.KeyValue{Key: f.Key, Value: v})
		}
		l.Words = x.args(in.Args, in.JSON)
	}
}

// args are ENTRYPOINT's, CMD's or HEALTHCHECK's: a JSON form's as written
// (exec form: no expansion, as in a Dockerfile), a plain form's expanded
// and split.
func (x *expander) args(raws []string, json bool) []string {
	if !json {
		return x.words(raws)
	}
	for _, a := range raws {
		x.count(a)
	}
	return slices.Clone(raws)
}

package nixfile2llb_test

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/nixfile/nixfile/frontend/lint"
	"github.com/nixfile/nixfile/frontend/nixfile"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
)

// sentinel is a value no Nixfile of the tests has.
const sentinel = "zzsentinelzz"

// buildOutput is everything a build makes of a Nixfile before nix runs
// and after: the nix stage's and the image's definitions, and the image
// config (with a closure that has a bin directory, so that $PATH is the
// image's), or the error it stops at.
func buildOutput(t *testing.T, src string, args map[string]string) string {
	t.Helper()
	f, err := nixfile.Parse([]byte(src))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	ctx := context.Background()
	opt := nixfile2llb.ConvertOpt{BuildArgs: args, Context: ptrState(llb.Local("context"))}
	plan, err := nixfile2llb.NewPlan(ctx, f, opt)
	if err != nil {
		return "error: " + err.Error()
	}
	var out strings.Builder
	var closure = closureOf(t, nil, nil, nil)
	if plan.Stage != nil {
		def, err := plan.Stage.Closure.Marshal(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range def.Def {
			out.Write(d)
		}
		closure = closureOf(t, []string{"tool"}, nil, []string{"tool"})
	} else {
		closure = nil
	}
	res, err := plan.Assemble(closure)
	if err != nil {
		return out.String() + "error: " + err.Error()
	}
	def, err := res.State.Marshal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range def.Def {
		out.Write(d)
	}
	cfg, err := json.Marshal(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(cfg)
	return out.String()
}

func ptrState(st llb.State) *llb.State { return &st }

var (
	// varRe finds what may be a variable reference: $NAME, ${NAME...}, $1.
	varRe = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*|[0-9])`)
	// undefinedRe is the name in an UndefinedVariable warning.
	undefinedRe = regexp.MustCompile(`^Usage of undefined variable '\$([^']+)'`)
	// bareArgRe is an ARG without a value.
	bareArgRe = regexp.MustCompile(`(?mi)^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)\s*$`)
)

// For every golden Nixfile, the JSON-form cases and several sets of build
// arguments, the variables the UndefinedVariable check reports are exactly
// those the build expanded while they were undefined. The build's side is
// read from what it makes: a name is expanded while undefined when, with
// --build-arg NAME=<sentinel>, an "ARG NAME" put first brings the sentinel
// into the build's output (or its error) more often than without it.
func TestDifferentialUndefinedVariables(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "convert", "*.nixfile"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/convert/*.nixfile: %v", err)
	}
	examples, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*", "Nixfile"))
	files = append(files, examples...)
	cases := map[string]string{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		cases[file] = string(data)
	}
	// The JSON forms the build unquotes before it expands; forms that do
	// not expand; a default that reads a variable; one used too early.
	cases["json copy"] = "PACKAGES hello\nCOPY [\"'$UNDEF'\", \"/d\"]\n"
	cases["json copy dest"] = "PACKAGES hello\nCOPY [\"a\", \"/d/$UNDEF/\"]\n"
	cases["json volume"] = "PACKAGES hello\nVOLUME [\"/it's/$UNDEF\"]\n"
	cases["json entrypoint"] = "PACKAGES hello\nENTRYPOINT [\"hello\", \"$UNDEF\"]\nCMD [\"${UNDEF2}\"]\n"
	cases["json healthcheck"] = "PACKAGES hello\nHEALTHCHECK --timeout=${T:-3s} CMD [\"test\", \"-f\", \"$UNDEF\"]\n"
	cases["quoted and escaped"] = "PACKAGES hello\nLABEL a='$UNDEF' b=\\$UNDEF2 c=\"$UNDEF3\"\n"
	cases["too early"] = "PACKAGES hello\nLABEL v=$V\nARG V=1\nENV W=$V X=$Y Y=2\n"
	cases["defaults"] = "ARG A=${B:-x}\nARG C=$A$D\nPACKAGES hello\nLABEL c=$C\n"
	cases["path"] = "PACKAGES hello\nENV P=$PATH:$MORE\nUSER $WHO\n"
	argSets := []map[string]string{
		nil,
		{"TOOLS": "jq", "VERSION": "23.11", "MSG": "m", "UNDEF": "given", "V": "9"},
		{"UNSET": "u", "MORE": "/x", "WHO": "app", "Y": "y"},
	}
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	sort.Strings(names)
	checked := 0
	for _, name := range names {
		src := cases[name]
		for i, args := range argSets {
			t.Run(filepath.Base(filepath.Dir(name))+"/"+filepath.Base(name)+"/"+string(rune('0'+i)), func(t *testing.T) {
				f, err := nixfile.Parse([]byte(src))
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				reported := map[string]bool{}
				for _, w := range lint.Check(f, lint.Options{BuildArgs: args}) {
					if w.Rule != "UndefinedVariable" {
						continue
					}
					m := undefinedRe.FindStringSubmatch(w.Message)
					if m == nil {
						t.Fatalf("cannot read the name in %q", w.Message)
					}
					reported[m[1]] = true
				}
				bare := map[string]bool{}
				for _, m := range bareArgRe.FindAllStringSubmatch(src, -1) {
					bare[m[1]] = true
				}
				var candidates []string
				for _, m := range varRe.FindAllStringSubmatch(src, -1) {
					if !slices.Contains(candidates, m[1]) {
						candidates = append(candidates, m[1])
					}
				}
				for n := range reported {
					if !slices.Contains(candidates, n) {
						t.Errorf("the check reports $%s, which the Nixfile does not name", n)
					}
				}
				for _, n := range candidates {
					// PATH is always defined; a bare ARG keeps a value set
					// above it, so the probe cannot tell for its name, nor
					// for $0 ... $9, which no ARG can name.
					if n == "PATH" || bare[n] || n[0] >= '0' && n[0] <= '9' {
						continue
					}
					withN := maps.Clone(args)
					if withN == nil {
						withN = map[string]string{}
					}
					withN[n] = sentinel
					base := buildOutput(t, src, withN)
					probe := buildOutput(t, "ARG "+n+"\n"+src, withN)
					expanded := strings.Count(probe, sentinel) > strings.Count(base, sentinel)
					if expanded != reported[n] {
						t.Errorf("$%s: the build expanded it while undefined: %t; the check reports it: %t\n%s", n, expanded, reported[n], src)
					}
					checked++
				}
			})
		}
	}
	if checked < 30 {
		t.Errorf("only %d names checked", checked)
	}
}

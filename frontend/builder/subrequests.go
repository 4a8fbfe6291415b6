package builder

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/containerd/platforms"

	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/buildkit/frontend/subrequests/outline"
	"github.com/moby/buildkit/frontend/subrequests/targets"
	"github.com/moby/buildkit/solver/pb"
	"github.com/nixfile/nixfile/frontend/expand"
	nixlint "github.com/nixfile/nixfile/frontend/lint"
	"github.com/nixfile/nixfile/frontend/nixfile"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	nixllb "github.com/nixfile/nixfile/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// subrequests answers --call outline, --call targets and --call check
// (frontend.lint). A Nixfile has one target: the image.
func subrequests(f *nixfile.File, bc *dockerui.Client, src *dockerui.Source, x *expansions) dockerui.RequestHandler {
	return dockerui.RequestHandler{
		Lint: func(ctx context.Context) (*lint.LintResults, error) {
			return check(ctx, f, bc, src, x), nil
		},
		Outline: func(ctx context.Context) (*outline.Outline, error) {
			o := &outline.Outline{Name: "default", Description: "the image built from the Nixfile", Sources: [][]byte{src.Data}}
			o.Args = outlineArgs(f, bc.BuildArgs, x.of(lintPlatform(bc)))
			for _, id := range nixllb.Secrets {
				o.Secrets = append(o.Secrets, outline.Secret{Name: id})
			}
			o.SSH = []outline.SSH{{Name: nixllb.SSHAgentID}}
			o.Args = append(o.Args, outline.Arg{
				Name:        nixfile2llb.NixImageArg,
				Description: "the nix image the nix stage runs on",
				Value:       nixfile2llb.NixImageFor(bc.BuildArgs),
			}, outline.Arg{
				Name:        nixfile2llb.NixConfigArg,
				Description: "nix settings for the nix stage, nix.conf lines (see NIXCONFIG)",
				Value:       bc.BuildArgs[nixfile2llb.NixConfigArg],
			})
			return o, nil
		},
		ListTargets: func(ctx context.Context) (*targets.List, error) {
			return &targets.List{Sources: [][]byte{src.Data}, Targets: []targets.Target{{
				Name: defaultTarget, Default: true, Description: "the image built from the Nixfile",
			}}}, nil
		},
	}
}

// defaultTarget is the one target a Nixfile has: its image.
const defaultTarget = "default"

// checkTarget fails a build asked for a target the Nixfile does not have
// (--target), as a Dockerfile's build does for a stage it does not have,
// rather than build the one it has.
func checkTarget(bc *dockerui.Client) error {
	if bc.Target != "" && bc.Target != defaultTarget {
		return fmt.Errorf("target %q could not be found: a Nixfile has one target, %q (--call targets lists it)", bc.Target, defaultTarget)
	}
	return nil
}

// outlineArgs are the Nixfile's ARGs with the values in effect: the
// --build-arg, else the value the ARG got (its default expanded, or an
// automatic build argument's), else its default as written.
func outlineArgs(f *nixfile.File, buildArgs map[string]string, x *expand.Result) []outline.Arg {
	var out []outline.Arg
	for _, in := range f.Instructions {
		a, ok := in.(*nixfile.Arg)
		if !ok {
			continue
		}
		arg := outline.Arg{Name: a.Name, Location: location(nixfile.Location(in))}
		if v, ok := buildArgs[a.Name]; ok {
			arg.Value = v
		} else if v, ok := x.Args[a.Name]; ok {
			arg.Value = v
		} else if a.Default != nil {
			arg.Value = *a.Default
		}
		out = append(out, arg)
	}
	return out
}

func location(r nixfile.Range) *pb.Location {
	return &pb.Location{Ranges: pbRanges(r)}
}

func pbRanges(rs ...nixfile.Range) []*pb.Range {
	out := []*pb.Range{}
	for _, r := range rs {
		out = append(out, nixfile2llb.PBRange(r))
	}
	return out
}

// check runs the Nixfile's lint rules, as DockerfileLint does for a
// Dockerfile: the warnings of frontend/lint, and the first error the build
// would stop at before running nix, if any. The Nixfile is source 0.
func check(ctx context.Context, f *nixfile.File, bc *dockerui.Client, src *dockerui.Source, x *expansions) *lint.LintResults {
	results := &lint.LintResults{Warnings: []lint.Warning{}}
	idx := results.AddSource(src.SourceMap)
	lc, err := checkConfig(f, bc)
	if err != nil {
		results.Error = lintBuildError(err, idx)
		return results
	}
	for _, w := range nixlint.Check(f, lintOptions(lc, bc, x)) {
		r := nixlint.RuleByName(w.Rule)
		results.Warnings = append(results.Warnings, lint.Warning{
			RuleName:    r.Name,
			Description: r.Description,
			URL:         r.Doc,
			Detail:      w.Message,
			Location:    &pb.Location{SourceIndex: int32(idx), Ranges: pbRanges(w.Ranges...)},
		})
	}
	if err := buildError(ctx, f, bc, x); err != nil {
		results.Error = lintBuildError(err, idx)
	}
	return results
}

// checkConfig is how the checks run, as for a Dockerfile:
// --build-arg BUILDKIT_DOCKERFILE_CHECK=... (dockerui parsed it) if given,
// else the Nixfile's "# check=" directive: skip=RULE,...|all, and
// error=true to fail the build on a warning.
func checkConfig(f *nixfile.File, bc *dockerui.Client) (*linter.Config, error) {
	if bc.LinterConfig != nil {
		return bc.LinterConfig, nil
	}
	if f.CheckRange == nil {
		return &linter.Config{}, nil
	}
	lc, err := linter.ParseLintOptions(f.Check)
	if err != nil {
		return nil, &nixfile.LocationError{Range: *f.CheckRange,
			Err: fmt.Errorf("the check directive: %w (give skip=RULE,... or skip=all, and error=true or false, separated by ;)", err)}
	}
	return lc, nil
}

// lintOptions are the checks' options, for --call check and for the
// warnings of a build alike.
func lintOptions(lc *linter.Config, bc *dockerui.Client, x *expansions) nixlint.Options {
	return nixlint.Options{BuildArgs: bc.BuildArgs, Expanded: x.of(lintPlatform(bc)), Skip: lc.SkipRules, SkipAll: lc.SkipAll}
}

// syntaxErrorResults is --call check's result for a Nixfile that does not
// parse: no warnings, and the error with its line.
func syntaxErrorResults(src *dockerui.Source, err error) *lint.LintResults {
	results := &lint.LintResults{Warnings: []lint.Warning{}}
	results.Error = lintBuildError(err, results.AddSource(src.SourceMap))
	return results
}

// lintBuildError is err as check reports it, with its Nixfile lines.
func lintBuildError(err error, sourceIndex int) *lint.BuildError {
	be := &lint.BuildError{Message: err.Error(), Location: pb.Location{SourceIndex: int32(sourceIndex)}}
	var le *nixfile.LocationError
	if errors.As(err, &le) {
		be.Location.Ranges = pbRanges(append([]nixfile.Range{le.Range}, le.Also...)...)
	}
	return be
}

// warnChecks shows the checks' warnings during a normal build, as BuildKit
// does for a Dockerfile: buildx prints them with their lines at the end;
// with error=true in the checks' config, they fail the build.
func warnChecks(ctx context.Context, f *nixfile.File, bc *dockerui.Client, src *dockerui.Source, x *expansions) error {
	lc, err := checkConfig(f, bc)
	if err != nil {
		return err
	}
	var rules []string
	for _, w := range nixlint.Check(f, lintOptions(lc, bc, x)) {
		if !slices.Contains(rules, w.Rule) {
			rules = append(rules, w.Rule)
		}
		r := nixlint.RuleByName(w.Rule)
		msg := fmt.Sprintf("%s: %s", r.Name, w.Message)
		if len(w.Ranges) > 0 {
			msg += fmt.Sprintf(" (line %d)", w.Ranges[0].Start.Line)
		}
		src.Warn(ctx, msg, client.WarnOpts{
			Level:  1,
			Range:  pbRanges(w.Ranges...),
			Detail: [][]byte{[]byte(r.Description)},
			URL:    r.Doc,
		})
	}
	if lc.ReturnAsError && len(rules) > 0 {
		// As a Dockerfile's check=error=true: the warnings fail the build.
		return fmt.Errorf("lint violation found for rules: %s (the check directive or BUILDKIT_DOCKERFILE_CHECK asks for error=true)", strings.Join(rules, ", "))
	}
	return nil
}

// buildError is the first error the build would stop at before it runs
// nix: the Nixfile expanded and checked for each target platform. Making
// the plan solves nothing.
func buildError(ctx context.Context, f *nixfile.File, bc *dockerui.Client, x *expansions) error {
	if _, err := sourceDateEpoch(bc.BuildArgs); err != nil {
		return err
	}
	for _, p := range targetPlatforms(bc) {
		opt := nixfile2llb.ConvertOpt{BuildArgs: maps.Clone(bc.BuildArgs), TargetPlatform: &p, Expanded: x.of(p)}
		if _, err := nixfile2llb.NewPlan(ctx, f, opt); err != nil {
			return err
		}
	}
	return nil
}

// targetPlatforms are the platforms a build makes images for.
func targetPlatforms(bc *dockerui.Client) []ocispecs.Platform {
	platforms := bc.TargetPlatforms
	if len(platforms) == 0 && len(bc.BuildPlatforms) > 0 {
		platforms = bc.BuildPlatforms[:1]
	}
	if len(platforms) == 0 {
		platforms = []ocispecs.Platform{{OS: "linux", Architecture: "amd64"}}
	}
	return platforms
}

// lintPlatform is the platform the checks and the outline read the
// Nixfile for: the first the build makes.
func lintPlatform(bc *dockerui.Client) ocispecs.Platform { return targetPlatforms(bc)[0] }

// expansions expand the Nixfile once a platform, for the checks, the
// outline and the build alike (the platforms build concurrently).
type expansions struct {
	f         *nixfile.File
	buildArgs map[string]string
	// buildPlatform is BuildKit's build platform, for BUILDPLATFORM and
	// friends; nil is each target's own.
	buildPlatform *ocispecs.Platform
	mu            sync.Mutex
	byID          map[string]*expand.Result
}

func newExpansions(f *nixfile.File, buildArgs map[string]string, buildPlatform *ocispecs.Platform) *expansions {
	return &expansions{f: f, buildArgs: buildArgs, buildPlatform: buildPlatform, byID: map[string]*expand.Result{}}
}

// buildPlatformOf is BuildKit's build platform, where nix runs; nil when
// BuildKit names none.
func buildPlatformOf(bc *dockerui.Client) *ocispecs.Platform {
	if len(bc.BuildPlatforms) == 0 {
		return nil
	}
	return &bc.BuildPlatforms[0]
}

func (x *expansions) of(p ocispecs.Platform) *expand.Result {
	x.mu.Lock()
	defer x.mu.Unlock()
	id := platforms.FormatAll(platforms.Normalize(p))
	if r, ok := x.byID[id]; ok {
		return r
	}
	r := nixfile2llb.Expand(x.f, nixfile2llb.ConvertOpt{BuildArgs: x.buildArgs, TargetPlatform: &p, BuildPlatform: x.buildPlatform})
	x.byID[id] = r
	return r
}

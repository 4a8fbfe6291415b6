package nixllb

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/client/llb"
)

// StageSpec is what the nix stage builds, and on what.
type StageSpec struct {
	// Image is the nix image, resolved with its config so its PATH applies.
	Image llb.State
	// Context is the build context, mounted read-only at ContextMount.
	// Leave it nil when nothing reads the context.
	Context *llb.State
	// System is the nix system to build for, e.g. x86_64-linux.
	System string
	// PackageSet is what Attr installables are looked up in; nil is <nixpkgs>.
	PackageSet *PackageSet
	// PackageSetOpts mark the step that loads the package set (e.g. the
	// source location of the NIXPKGS line).
	PackageSetOpts []llb.ConstraintsOpt
	// Groups are the installables, a group a Nixfile line.
	Groups []StageGroup
	// BuildOpts mark the build step (e.g. the lines of every group).
	BuildOpts []llb.ConstraintsOpt
}

// StageGroup is a Group with how to mark its evaluation step.
type StageGroup struct {
	Group
	Opts []llb.ConstraintsOpt
}

// Stage is the nix stage as LLB.
type Stage struct {
	// Root is the nix image after the build: the closure is in its /nix/store.
	Root llb.State
	// Meta holds the files the frontend reads back: see the Meta* names.
	Meta llb.State
}

// Files in Stage.Meta.
const (
	// MetaRoots lists the requested output paths, one a line.
	MetaRoots = "roots"
	// MetaClosure lists their runtime closure, one store path a line.
	MetaClosure = "closure"
	// MetaBins lists the roots that have a bin directory.
	MetaBins = "bins"
	// MetaPathInfo is `nix path-info --json --recursive` of the roots.
	MetaPathInfo = "path-info.json"
)

const (
	exprMount = "/nixfile/expr"
	metaMount = "/nixfile/out"
)

// nixFlags are passed to every nix command rather than relying on the nix
// image's nix.conf: the official image and a Debian one differ.
const nixFlags = `--extra-experimental-features "nix-command flakes"`

// NewStage returns the nix stage: it loads the package set, evaluates each
// group (so an error names its line), builds every requested output in one
// nix invocation, and writes the closure list to Meta.
func NewStage(spec StageSpec) Stage {
	expr := Expr(spec.System, spec.PackageSet, groupsOf(spec.Groups))
	exprState := llb.Scratch().File(llb.Mkfile("build.nix", 0o644, []byte(expr)),
		llb.WithCustomName("[internal] generate build.nix"))

	mounts := func(extra ...llb.RunOption) []llb.RunOption {
		opts := []llb.RunOption{
			llb.AddMount(exprMount, exprState, llb.Readonly),
			llb.AddEnv("NIXFILE_SYSTEM", spec.System),
		}
		if spec.Context != nil {
			opts = append(opts, llb.AddMount(ContextMount, *spec.Context, llb.Readonly))
		}
		return append(opts, extra...)
	}
	run := func(st llb.State, script, name string, marks []llb.ConstraintsOpt, extra ...llb.RunOption) llb.ExecState {
		opts := mounts(extra...)
		opts = append(opts, llb.Args([]string{"/bin/sh", "-c", script}), llb.WithCustomName(name))
		for _, m := range marks {
			opts = append(opts, m)
		}
		return st.Run(opts...)
	}

	st := spec.Image
	if spec.PackageSet != nil {
		st = run(st, loadSetScript, "[nix] load package set "+describeSet(spec.PackageSet), spec.PackageSetOpts).Root()
	}
	var names []string
	for i, g := range spec.Groups {
		var gn []string
		for _, in := range g.Installables {
			gn = append(gn, in.String())
		}
		names = append(names, gn...)
		st = run(st, fmt.Sprintf(evalScript, GroupAttr(i)), "[nix] evaluate "+strings.Join(gn, " "), g.Opts).Root()
	}
	build := run(st, buildScript, "[nix] build "+strings.Join(names, " "), spec.BuildOpts)
	return Stage{Root: build.Root(), Meta: build.AddMount(metaMount, llb.Scratch())}
}

func groupsOf(sg []StageGroup) []Group {
	out := make([]Group, len(sg))
	for i, g := range sg {
		out[i] = g.Group
	}
	return out
}

func describeSet(set *PackageSet) string {
	if set == nil {
		return "<nixpkgs>"
	}
	if set.Kind == NixPath {
		return "<" + set.Ref + ">"
	}
	return set.Ref
}

// The scripts run with the nix image's own shell and PATH. nix-instantiate
// prints drv!output for the chosen outputs; nix-store --realise builds exactly
// those. Both exist, with these flags, in nix 2.8 and in current nix.
const scriptPrelude = `set -eu
nix_flags='` + nixFlags + `'
`

const loadSetScript = scriptPrelude + `eval "nix-instantiate $nix_flags --eval --expr 'builtins.seq (import ` + exprMount + `/build.nix).pkgs true'" >/dev/null
`

const evalScript = scriptPrelude + `eval "nix-instantiate $nix_flags ` + exprMount + `/build.nix -A %s" >/dev/null
`

const buildScript = scriptPrelude + `drvs=$(eval "nix-instantiate $nix_flags ` + exprMount + `/build.nix -A all")
roots=$(eval "nix-store $nix_flags --realise $drvs")
out=` + metaMount + `
printf '%s\n' $roots | sort -u >"$out/` + MetaRoots + `"
eval "nix-store $nix_flags --query --requisites $roots" | sort -u >"$out/` + MetaClosure + `"
for r in $roots; do if [ -d "$r/bin" ]; then echo "$r"; fi; done | sort -u >"$out/` + MetaBins + `"
eval "nix $nix_flags path-info --json --recursive $roots" >"$out/` + MetaPathInfo + `" || echo '[]' >"$out/` + MetaPathInfo + `"
`

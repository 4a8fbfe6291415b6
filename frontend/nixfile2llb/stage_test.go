package nixfile2llb_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/nixfile/nixfile/frontend/nixfile"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	nixllb "github.com/nixfile/nixfile/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

var defaultImage = nixfile2llb.DefaultNixImage()

// The default nix image is a pinned tag of the official image, the one the
// documentation names.
func TestDefaultNixImage(t *testing.T) {
	tag, ok := strings.CutPrefix(defaultImage, "docker.io/nixos/nix:")
	if !ok || tag == "" || tag == "latest" {
		t.Errorf("DefaultNixImage() = %q, want docker.io/nixos/nix:<a pinned tag>", defaultImage)
	}
	docs, err := os.ReadFile(filepath.Join("..", "..", "docs", "nixfile.md"))
	if err != nil {
		t.Fatalf("reading the documentation: %v", err)
	}
	if !strings.Contains(string(docs), "`"+defaultImage+"`") {
		t.Errorf("docs/nixfile.md does not name the default nix image %s", defaultImage)
	}
}

// stageView is what a user cares about in the nix stage's definition.
type stageView struct {
	image    *pb.SourceOp
	imageArc string
	build    execStep
	// buildNix is the generated build.nix the stage mounts.
	buildNix string
	// storeCaches are the ids of each step's /nix cache mount.
	storeCaches []string
}

// checkStoreCache checks a step's /nix: a shared cache mount of the nix
// image's /nix, seeded by a step on that image that makes nix's database
// (so that concurrent builds never race to create it). It returns the
// cache's id.
func checkStoreCache(t *testing.T, g *graph, e execStep, m *pb.Mount) string {
	t.Helper()
	args := e.exec().Meta.Args
	if m.MountType != pb.MountType_CACHE || m.CacheOpt == nil {
		t.Errorf("%v: /nix is a %v mount, want a cache mount", args, m.MountType)
		return ""
	}
	// Shared: concurrent builds run their nix steps at once.
	if m.CacheOpt.Sharing != pb.CacheSharingOpt_SHARED {
		t.Errorf("%v: the /nix cache is %v, want shared", args, m.CacheOpt.Sharing)
	}
	// The image's digest keys the step: hashing its /nix file by file
	// would only cost time.
	if m.ContentCache != pb.MountContentCache_OFF {
		t.Errorf("%v: the /nix cache's content is hashed (%v), want it not", args, m.ContentCache)
	}
	if m.Selector != "/nix" || m.Readonly {
		t.Errorf("%v: /nix mounts %q (read-only %t), want the seed's /nix, writable", args, m.Selector, m.Readonly)
	}
	seed, _ := g.mountInput(e, m)
	if seed.GetExec() == nil || len(seed.Inputs) != 1 || g.op(seed.Inputs[0]).GetSource() == nil ||
		!strings.HasPrefix(g.op(seed.Inputs[0]).GetSource().Identifier, "docker-image://") {
		t.Errorf("%v: the /nix cache is not seeded by a step on the nix image: %v", args, seed)
	} else if sh := strings.Join(seed.GetExec().Meta.Args, " "); !strings.Contains(sh, "mkdir -p /nix/store") || !strings.Contains(sh, "nix-store --dump-db") {
		t.Errorf("%v: the seed step runs %q, want it to make /nix/store and open the store", args, sh)
	} else if seed.GetExec().Network != pb.NetMode_NONE {
		t.Errorf("%v: the seed step has network %v, want none", args, seed.GetExec().Network)
	}
	return m.CacheOpt.ID
}

// checkNixCache checks nix's own caches (~/.cache/nix): a shared cache
// mount of the store cache's pair, which nix finds through XDG_CACHE_HOME.
func checkNixCache(t *testing.T, e execStep, storeID string) {
	t.Helper()
	args := e.exec().Meta.Args
	m := e.mount("/nixfile/cache")
	if m == nil || m.MountType != pb.MountType_CACHE || m.CacheOpt == nil || m.Input != -1 {
		t.Errorf("%v: /nixfile/cache is %v, want an empty cache mount", args, m)
		return
	}
	if want := nixllb.NixCacheID(storeID); m.CacheOpt.ID != want || want == storeID {
		t.Errorf("%v: nix's cache is %q, want %q, the store's pair", args, m.CacheOpt.ID, want)
	}
	if m.CacheOpt.Sharing != pb.CacheSharingOpt_SHARED {
		t.Errorf("%v: nix's cache is %v, want shared as the store", args, m.CacheOpt.Sharing)
	}
	if v, _ := envValue(e.exec().Meta.Env, "XDG_CACHE_HOME"); v != "/nixfile/cache" {
		t.Errorf("%v: XDG_CACHE_HOME=%q, want /nixfile/cache", args, v)
	}
}

// viewStage decodes the nix stage and checks what every step shares: the
// platform, the system, the mounts, and that Meta is the build step's
// /nixfile/out.
func viewStage(t *testing.T, g *graph, wantArch, wantSystem, wantContext string) stageView {
	t.Helper()
	chain := g.execChain(t, g.out)
	if len(chain) != 1 {
		t.Fatalf("the nix stage has %d exec ops, want one nix step", len(chain))
	}
	var v stageView
	v.build = chain[0]
	if out := v.build.mount("/nixfile/out"); out == nil || out.Output != g.out.Index {
		t.Errorf("Meta is output %d of the nix step, want its /nixfile/out mount (%v)", g.out.Index, out)
	}

	// The first step runs on the nix image.
	rootOp, _ := g.mountInput(chain[0], chain[0].mount("/"))
	if rootOp.GetSource() == nil {
		t.Fatalf("the first nix step runs on %v, want the nix image", rootOp)
	}
	v.image = rootOp.GetSource()
	v.imageArc = rootOp.GetPlatform().GetArchitecture()
	if images := g.sources("docker-image://"); len(images) != 1 {
		t.Errorf("%d image sources, want the nix image only: %v", len(images), images)
	}

	var exprs []string
	for _, e := range chain {
		args := e.exec().Meta.Args
		if p := e.op.GetPlatform(); p.GetOS() != "linux" || p.GetArchitecture() != wantArch {
			t.Errorf("%v runs on %s/%s, want linux/%s", args, p.GetOS(), p.GetArchitecture(), wantArch)
		}
		// The mounts that read or write state; secrets and the like may
		// come and go.
		var dests []string
		for _, m := range e.exec().Mounts {
			switch m.MountType {
			case pb.MountType_SECRET, pb.MountType_SSH, pb.MountType_TMPFS:
				if m.Input != -1 {
					t.Errorf("%v: the %v mount at %s reads input %d", args, m.MountType, m.Dest, m.Input)
				}
				continue
			}
			dests = append(dests, m.Dest)
		}
		wantDests := []string{"/", "/nix", "/nixfile/cache", "/nixfile/expr", "/nixfile/out"}
		if wantContext != "" {
			wantDests = append(wantDests, nixllb.ContextMount)
		}
		wantDests = append(wantDests, "/nixfile/closure")
		slices.Sort(dests)
		slices.Sort(wantDests)
		if !slices.Equal(dests, wantDests) {
			t.Errorf("%v mounts %q, want %q", args, dests, wantDests)
		}
		if m := e.mount("/nixfile/out"); m != nil && m.Input != -1 {
			t.Errorf("%v: /nixfile/out mounts input %d, want scratch", args, m.Input)
		}
		if m := e.mount("/nixfile/closure"); m != nil && m.Input != -1 {
			t.Errorf("%v: /nixfile/closure mounts input %d, want scratch", args, m.Input)
		}
		if m := e.mount("/nix"); m != nil {
			id := checkStoreCache(t, g, e, m)
			v.storeCaches = append(v.storeCaches, id)
			checkNixCache(t, e, id)
		}
		if m := e.mount("/nixfile/expr"); m != nil {
			if !m.Readonly {
				t.Errorf("%v: /nixfile/expr is writable", args)
			}
			exprOp, _ := g.mountInput(e, m)
			files := mkfiles(exprOp)
			// build.sh and the Nix helpers are files beside build.nix.
			for _, f := range []string{"/build.nix", "/helpers.nix", "/build.sh", "/lib.sh"} {
				if _, ok := files[f]; !ok {
					t.Errorf("%v: /nixfile/expr has no %s (has %v)", args, f, files)
				}
			}
			exprs = append(exprs, files["/build.nix"])
			if want := "system = \"" + wantSystem + "\";"; !strings.Contains(files["/build.nix"], want) {
				t.Errorf("%v: build.nix does not say %s", args, want)
			}
		}
		if m := e.mount(nixllb.ContextMount); m != nil {
			if !m.Readonly {
				t.Errorf("%v: the build context is mounted writable", args)
			}
			ctxOp, _ := g.mountInput(e, m)
			if id := ctxOp.GetSource().GetIdentifier(); id != wantContext {
				t.Errorf("%v mounts %q at %s, want %q", args, id, nixllb.ContextMount, wantContext)
			}
		}
	}
	if wantContext == "" {
		if locals := g.sources("local://"); len(locals) != 0 {
			t.Errorf("the nix stage reads %v, want no local source", locals)
		}
	}
	for _, e := range exprs[1:] {
		if e != exprs[0] {
			t.Errorf("the steps mount different build.nix files")
		}
	}
	if len(exprs) > 0 {
		v.buildNix = exprs[0]
	}
	return v
}

// mkfiles are the files a file op writes, by path.
func mkfiles(op *pb.Op) map[string]string {
	out := map[string]string{}
	for _, a := range op.GetFile().GetActions() {
		if m := a.GetMkfile(); m != nil {
			out[m.Path] = string(m.Data)
		}
	}
	return out
}

var groupStartRe = regexp.MustCompile(`^    (g[0-9]+) = builtins\.concatLists \[$`)

// exprGroups reads the installables of each group of a build.nix, by
// attribute name, one string an installable as build.nix has it, with runs
// of blanks made one space.
func exprGroups(t *testing.T, buildNix string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	cur := ""
	for _, line := range strings.Split(buildNix, "\n") {
		if m := groupStartRe.FindStringSubmatch(line); m != nil {
			cur = m[1]
			out[cur] = []string{}
			continue
		}
		if cur == "" {
			continue
		}
		if line == "    ];" {
			cur = ""
			continue
		}
		item := strings.TrimSpace(line)
		if !strings.HasPrefix(item, "(") || !strings.HasSuffix(item, ")") {
			t.Fatalf("unexpected line in group %s of build.nix: %q", cur, line)
		}
		// Blanks are not significant ("[ ]" and "[  ]" are the same list).
		out[cur] = append(out[cur], strings.Join(strings.Fields(item[1:len(item)-1]), " "))
	}
	return out
}

func exprPkgs(buildNix string) string {
	for _, line := range strings.Split(buildNix, "\n") {
		if v, ok := strings.CutPrefix(line, "  pkgs = "); ok {
			return strings.TrimSuffix(v, ";")
		}
	}
	return ""
}

func TestNixStage(t *testing.T) {
	other := llb.Local("src", llb.SharedKeyHint("src"))
	tests := []struct {
		name    string
		nixfile string
		opt     nixfile2llb.ConvertOpt
		// wantImage is the nix image reference; the source op is
		// docker-image:// and this.
		wantImage  string
		wantArch   string
		wantSystem string
		// wantSet: the step loads the package set (NIXPKGS) first.
		wantSet   bool
		wantBuild string
		// wantContext is the source mounted at /nixfile/context, "" for none.
		wantContext string
		// wantPkgs is build.nix's package set; wantGroups its groups.
		wantPkgs   string
		wantGroups [][]string
	}{
		{
			name:       "packages",
			nixfile:    "PACKAGES hello jq\n",
			wantImage:  defaultImage,
			wantArch:   "amd64",
			wantSystem: "x86_64-linux",
			wantBuild:  "[nix] build hello jq",
			wantPkgs:   "callSet <nixpkgs>",
			wantGroups: [][]string{{
				`outputsAt "line 1" "the package set" pkgs [ "hello" ]`,
				`outputsAt "line 1" "the package set" pkgs [ "jq" ]`,
			}},
		},
		{
			name:       "nix image build arg",
			nixfile:    "ARG NIX_IMAGE=ignored.example.com/nix:1\nPACKAGES hello\n",
			opt:        nixfile2llb.ConvertOpt{BuildArgs: map[string]string{"NIX_IMAGE": "localhost:5000/nix:x"}},
			wantImage:  "localhost:5000/nix:x",
			wantArch:   "amd64",
			wantSystem: "x86_64-linux",
			wantBuild:  "[nix] build hello",
			wantPkgs:   "callSet <nixpkgs>",
			wantGroups: [][]string{{`outputsAt "line 2" "the package set" pkgs [ "hello" ]`}},
		},
		{
			name:       "an ARG NIX_IMAGE default does not change the image",
			nixfile:    "ARG NIX_IMAGE=ignored.example.com/nix:1\nPACKAGES hello\n",
			wantImage:  defaultImage,
			wantArch:   "amd64",
			wantSystem: "x86_64-linux",
			wantBuild:  "[nix] build hello",
			wantPkgs:   "callSet <nixpkgs>",
			wantGroups: [][]string{{`outputsAt "line 2" "the package set" pkgs [ "hello" ]`}},
		},
		{
			name:       "arm64",
			nixfile:    "PACKAGES hello\n",
			opt:        nixfile2llb.ConvertOpt{TargetPlatform: &ocispecs.Platform{OS: "linux", Architecture: "arm64"}},
			wantImage:  defaultImage,
			wantArch:   "arm64",
			wantSystem: "aarch64-linux",
			wantBuild:  "[nix] build hello",
			wantPkgs:   "callSet <nixpkgs>",
			wantGroups: [][]string{{`outputsAt "line 1" "the package set" pkgs [ "hello" ]`}},
		},
		{
			name: "one step evaluates every line",
			nixfile: "PACKAGES hello\n" +
				"FLAKE github:NixOS/nixpkgs/0123abcd#jq\n" +
				"PACKAGES python3Packages.requests 'haskellPackages.\"foo.bar\"'\n",
			wantImage:  defaultImage,
			wantArch:   "amd64",
			wantSystem: "x86_64-linux",
			wantBuild:  `[nix] build hello github:NixOS/nixpkgs/0123abcd#jq python3Packages.requests haskellPackages."foo.bar"`,
			wantPkgs:   "callSet <nixpkgs>",
			wantGroups: [][]string{
				{`outputsAt "line 1" "the package set" pkgs [ "hello" ]`},
				{`flakeOutputs "line 2" "github:NixOS/nixpkgs/0123abcd" [ "jq" ]`},
				{
					`outputsAt "line 3" "the package set" pkgs [ "python3Packages" "requests" ]`,
					`outputsAt "line 3" "the package set" pkgs [ "haskellPackages" "foo.bar" ]`,
				},
			},
		},
		{
			name:        "BUILD with attributes reads the context",
			nixfile:     "BUILD ./release.nix server worker\n",
			wantImage:   defaultImage,
			wantArch:    "amd64",
			wantSystem:  "x86_64-linux",
			wantBuild:   "[nix] build release.nix:server release.nix:worker",
			wantContext: "local://context",
			wantPkgs:    "callSet <nixpkgs>",
			wantGroups: [][]string{{
				`fileOutputs "line 1" (/. + "/nixfile/context/release.nix") [ "server" ]`,
				`fileOutputs "line 1" (/. + "/nixfile/context/release.nix") [ "worker" ]`,
			}},
		},
		{
			name:        "BUILD of a whole file",
			nixfile:     "PACKAGES hello\nBUILD app.nix\n",
			wantImage:   defaultImage,
			wantArch:    "amd64",
			wantSystem:  "x86_64-linux",
			wantBuild:   "[nix] build hello app.nix",
			wantContext: "local://context",
			wantPkgs:    "callSet <nixpkgs>",
			wantGroups: [][]string{
				{`outputsAt "line 1" "the package set" pkgs [ "hello" ]`},
				{`fileOutputs "line 2" (/. + "/nixfile/context/app.nix") [ ]`},
			},
		},
		{
			name:        "BUILD reads the given context",
			nixfile:     "BUILD app.nix\n",
			opt:         nixfile2llb.ConvertOpt{Context: &other},
			wantImage:   defaultImage,
			wantArch:    "amd64",
			wantSystem:  "x86_64-linux",
			wantBuild:   "[nix] build app.nix",
			wantContext: "local://src",
			wantPkgs:    "callSet <nixpkgs>",
			wantGroups:  [][]string{{`fileOutputs "line 1" (/. + "/nixfile/context/app.nix") [ ]`}},
		},
		{
			name:        "NIXPKGS ./dir reads the context",
			nixfile:     "NIXPKGS ./vendor/nixpkgs\nPACKAGES hello\n",
			wantImage:   defaultImage,
			wantArch:    "amd64",
			wantSystem:  "x86_64-linux",
			wantSet:     true,
			wantBuild:   "[nix] build hello",
			wantContext: "local://context",
			wantPkgs:    `callSet (/. + "/nixfile/context/vendor/nixpkgs")`,
			wantGroups:  [][]string{{`outputsAt "line 2" "the package set" pkgs [ "hello" ]`}},
		},
		{
			name:        "NIXPKGS path:./dir reads the context",
			nixfile:     "PACKAGES hello\nNIXPKGS path:./pkgs\n",
			wantImage:   defaultImage,
			wantArch:    "amd64",
			wantSystem:  "x86_64-linux",
			wantSet:     true,
			wantBuild:   "[nix] build hello",
			wantContext: "local://context",
			wantPkgs: `let f = builtins.getFlake "path:/nixfile/context/pkgs"; in f.legacyPackages.${system} or f.packages.${system} or ` +
				`(throw ("nixfile: the flake path:/nixfile/context/pkgs has no legacyPackages or packages for " + system))`,
			wantGroups: [][]string{{`outputsAt "line 1" "the package set" pkgs [ "hello" ]`}},
		},
		{
			name:        "FLAKE .#x reads the context",
			nixfile:     "FLAKE .#app ./tools#cli\n",
			wantImage:   defaultImage,
			wantArch:    "amd64",
			wantSystem:  "x86_64-linux",
			wantBuild:   "[nix] build .#app ./tools#cli",
			wantContext: "local://context",
			wantPkgs:    "callSet <nixpkgs>",
			wantGroups: [][]string{{
				`flakeOutputs "line 1" "path:/nixfile/context" [ "app" ]`,
				`flakeOutputs "line 1" "path:/nixfile/context/tools" [ "cli" ]`,
			}},
		},
		{
			name:       "NIXPKGS flake reference",
			nixfile:    "NIXPKGS github:NixOS/nixpkgs/0123abcd\nPACKAGES hello\n",
			wantImage:  defaultImage,
			wantArch:   "amd64",
			wantSystem: "x86_64-linux",
			wantSet:    true,
			wantBuild:  "[nix] build hello",
			wantPkgs: `let f = builtins.getFlake "github:NixOS/nixpkgs/0123abcd"; in f.legacyPackages.${system} or f.packages.${system} or ` +
				`(throw ("nixfile: the flake github:NixOS/nixpkgs/0123abcd has no legacyPackages or packages for " + system))`,
			wantGroups: [][]string{{`outputsAt "line 2" "the package set" pkgs [ "hello" ]`}},
		},
		{
			name:       "NIXPKGS tarball",
			nixfile:    "NIXPKGS https://example.com/nixpkgs.tar.gz sha256:0abc\nPACKAGES hello\n",
			wantImage:  defaultImage,
			wantArch:   "amd64",
			wantSystem: "x86_64-linux",
			wantSet:    true,
			wantBuild:  "[nix] build hello",
			wantPkgs:   `callSet (builtins.fetchTarball { url = "https://example.com/nixpkgs.tar.gz"; sha256 = "0abc"; })`,
			wantGroups: [][]string{{`outputsAt "line 2" "the package set" pkgs [ "hello" ]`}},
		},
		{
			name:       "NIXPKGS <name>",
			nixfile:    "NIXPKGS <nixpkgs>\nPACKAGES hello\n",
			wantImage:  defaultImage,
			wantArch:   "amd64",
			wantSystem: "x86_64-linux",
			wantSet:    true,
			wantBuild:  "[nix] build hello",
			wantPkgs:   "callSet <nixpkgs>",
			wantGroups: [][]string{{`outputsAt "line 2" "the package set" pkgs [ "hello" ]`}},
		},
		{
			name:       "COPY does not mount the context in the nix stage",
			nixfile:    "PACKAGES hello\nCOPY . /app\n",
			wantImage:  defaultImage,
			wantArch:   "amd64",
			wantSystem: "x86_64-linux",
			wantBuild:  "[nix] build hello",
			wantPkgs:   "callSet <nixpkgs>",
			wantGroups: [][]string{{`outputsAt "line 1" "the package set" pkgs [ "hello" ]`}},
		},
		{
			name:       "build args split into installables",
			nixfile:    "ARG TOOLS=\"curl jq\"\nPACKAGES hello $TOOLS\n",
			wantImage:  defaultImage,
			wantArch:   "amd64",
			wantSystem: "x86_64-linux",
			wantBuild:  "[nix] build hello curl jq",
			wantPkgs:   "callSet <nixpkgs>",
			wantGroups: [][]string{{
				`outputsAt "line 2" "the package set" pkgs [ "hello" ]`,
				`outputsAt "line 2" "the package set" pkgs [ "curl" ]`,
				`outputsAt "line 2" "the package set" pkgs [ "jq" ]`,
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := newPlan(t, tt.nixfile, tt.opt)
			if plan.NixImage != tt.wantImage {
				t.Errorf("plan.NixImage = %q, want %q", plan.NixImage, tt.wantImage)
			}
			if plan.Stage == nil {
				t.Fatal("plan.Stage is nil")
			}
			g := marshal(t, plan.Stage.Meta)
			v := viewStage(t, g, tt.wantArch, tt.wantSystem, tt.wantContext)

			if want := "docker-image://" + tt.wantImage; v.image.Identifier != want {
				t.Errorf("the nix stage runs on %q, want %q", v.image.Identifier, want)
			}
			if v.imageArc != tt.wantArch {
				t.Errorf("the nix image is pulled for %q, want %q", v.imageArc, tt.wantArch)
			}
			// One store cache for every step, of this image and platform.
			wantCache := nixllb.StoreCacheID(tt.wantImage, "linux/"+tt.wantArch)
			for _, id := range v.storeCaches {
				if id != wantCache {
					t.Errorf("a step mounts the store cache %q, want %q", id, wantCache)
				}
			}
			if len(v.storeCaches) != 1 {
				t.Errorf("%d steps mount the store cache, want the nix step", len(v.storeCaches))
			}

			// One step: the package set first (if any), then each group.
			wantArgs := []string{"/bin/sh", "/nixfile/expr/build.sh"}
			if tt.wantSet {
				wantArgs = append(wantArgs, "set")
			}
			for i := range tt.wantGroups {
				wantArgs = append(wantArgs, fmt.Sprint(i))
			}
			if args := v.build.exec().Meta.Args; !slices.Equal(args, wantArgs) {
				t.Errorf("the nix step runs %q, want %q", args, wantArgs)
			}
			switch name := g.name(v.build.dgst); {
			case name == tt.wantBuild:
			default:
				t.Errorf("build step %q, want %q", name, tt.wantBuild)
			}

			if pkgs := exprPkgs(v.buildNix); pkgs != tt.wantPkgs {
				t.Errorf("build.nix pkgs =\n %s\nwant\n %s", pkgs, tt.wantPkgs)
			}
			wantGroups := map[string][]string{}
			for i, items := range tt.wantGroups {
				wantGroups[fmt.Sprintf("g%d", i)] = items
			}
			if got := exprGroups(t, v.buildNix); !reflect.DeepEqual(got, wantGroups) {
				t.Errorf("build.nix groups:\n got %q\nwant %q\nbuild.nix:\n%s", got, wantGroups, v.buildNix)
			}
			if want := fmt.Sprintf("  system = %q;\n", tt.wantSystem); !strings.Contains(v.buildNix, want) {
				t.Errorf("build.nix does not set %s", strings.TrimSpace(want))
			}
		})
	}
}

// Without PACKAGES, FLAKE or BUILD there is no nix stage, and nothing uses
// the nix image: Assemble takes no closure.
func TestNoNixStage(t *testing.T) {
	tests := []struct {
		name    string
		nixfile string
	}{
		{name: "config only", nixfile: "ENV A=b\nCMD [\"x\"]\n"},
		{name: "COPY only", nixfile: "COPY a /a\n"},
		{name: "NIXPKGS without packages", nixfile: "NIXPKGS ./vendor\nLABEL a=b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			opt := nixfile2llb.ConvertOpt{NixImage: func(context.Context, string, ocispecs.Platform) (nixfile2llb.ResolvedImage, error) {
				called = true
				return nixfile2llb.ResolvedImage{State: llb.Scratch()}, nil
			}}
			plan := newPlan(t, tt.nixfile, opt)
			if plan.Stage != nil {
				t.Errorf("plan.Stage is set, want nil")
			}
			if called {
				t.Errorf("the nix image was resolved, want it unused")
			}
			res, err := plan.Assemble(nil)
			if err != nil {
				t.Fatalf("Assemble(nil): %v", err)
			}
			g := marshalImage(t, res.State)
			for _, d := range g.order {
				if g.ops[d].GetExec() != nil {
					t.Errorf("the image runs %v, want no exec", g.ops[d].GetExec().Meta.Args)
				}
				if s := g.ops[d].GetSource(); s != nil && strings.HasPrefix(s.Identifier, "docker-image://") {
					t.Errorf("the image reads %s, want no image", s.Identifier)
				}
			}
		})
	}
}

// marshalImage marshals an assembled state; an empty image (scratch) has
// no definition to decode.
func marshalImage(t *testing.T, st llb.State) *graph {
	t.Helper()
	def, err := st.Marshal(context.Background(), llb.LinuxAmd64, llb.LocalUniqueID(testUniqueID))
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if len(def.Def) == 0 {
		return &graph{def: def}
	}
	return decode(t, def)
}

// ConvertOpt.NixImage resolves the nix image the stage runs on, for the
// target platform; its error names the image.
func TestNixImageResolver(t *testing.T) {
	var gotRef string
	var gotPlatform ocispecs.Platform
	opt := nixfile2llb.ConvertOpt{
		BuildArgs:      map[string]string{"NIX_IMAGE": "localhost:5000/nix:x"},
		TargetPlatform: &ocispecs.Platform{OS: "linux", Architecture: "arm64"},
		NixImage: func(_ context.Context, ref string, p ocispecs.Platform) (nixfile2llb.ResolvedImage, error) {
			gotRef, gotPlatform = ref, p
			return nixfile2llb.ResolvedImage{State: llb.Image("mirror.example.com/resolved:1", llb.Platform(p)), ID: "sha256:0123"}, nil
		},
	}
	plan := newPlan(t, "PACKAGES hello\n", opt)
	if gotRef != "localhost:5000/nix:x" || gotPlatform.Architecture != "arm64" || gotPlatform.OS != "linux" {
		t.Errorf("NixImage called with %q, %v; want localhost:5000/nix:x, linux/arm64", gotRef, gotPlatform)
	}
	g := marshal(t, plan.Stage.Meta)
	v := viewStage(t, g, "arm64", "aarch64-linux", "")
	if v.image.Identifier != "docker-image://mirror.example.com/resolved:1" {
		t.Errorf("the stage runs on %s, want the resolved state", v.image.Identifier)
	}
	// The store cache is the resolved image's, by what identifies it.
	for _, id := range v.storeCaches {
		if want := nixllb.StoreCacheID("sha256:0123", "linux/arm64"); id != want {
			t.Errorf("the store cache is %q, want %q", id, want)
		}
	}

	boom := errors.New("boom")
	opt.NixImage = func(context.Context, string, ocispecs.Platform) (nixfile2llb.ResolvedImage, error) {
		return nixfile2llb.ResolvedImage{}, boom
	}
	_, err := nixfile2llb.NewPlan(context.Background(), parse(t, "PACKAGES hello\n"), opt)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "localhost:5000/nix:x") {
		t.Errorf("NewPlan error = %v, want one that wraps the resolver's and names the image", err)
	}
}

// With a source map and several lines (or a NIXPKGS line), the nix step
// carries none: the frontend names the line it failed at (FailureLines).
// Without a source map, no op has a location.
func TestNixStageSourceMap(t *testing.T) {
	src := "# syntax=example.com/nixfile\n" + // 1
		"NIXPKGS <nixpkgs>\n" + // 2
		"\n" + // 3
		"PACKAGES hello \\\n" + // 4
		"  # a comment inside\n" + // 5
		"  jq\n" + // 6
		"FLAKE github:owner/repo#x\n" + // 7
		"COPY a /a\n" + // 8
		"BUILD app.nix\n" // 9
	for _, nixfile := range []string{src, "NIXPKGS <nixpkgs>\nPACKAGES hello\n", "PACKAGES hello\nBUILD app.nix\n"} {
		sm := llb.NewSourceMap(nil, "Nixfile", "Nixfile", []byte(nixfile))
		g := marshal(t, newPlan(t, nixfile, nixfile2llb.ConvertOpt{SourceMap: sm}).Stage.Meta)
		for _, d := range g.order {
			if r := g.ranges(d); len(r) != 0 {
				t.Errorf("%q: %s has ranges %v, want none", nixfile, g.name(d), r)
			}
		}
	}
	plain := marshal(t, newPlan(t, src, nixfile2llb.ConvertOpt{}).Stage.Meta)
	for _, d := range plain.order {
		if r := plain.ranges(d); len(r) != 0 {
			t.Errorf("%s has ranges %v without a source map", plain.name(d), r)
		}
	}
}

// The line a failed nix step is blamed on: the one it was evaluating, else
// those of the groups nix says failed, else every group's.
func TestFailureLines(t *testing.T) {
	src := "NIXPKGS ./vendor\n" + // 1
		"PACKAGES hello \\\n" + // 2
		"  jq\n" + // 3
		"BUILD app.nix\n" // 4
	plan := newPlan(t, src, nixfile2llb.ConvertOpt{})
	hello := "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-hello-2.12.drv"
	app := "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-app.drv"
	groups := []byte("0 " + hello + "!out\n1 " + app + "!out\n")
	tests := []struct {
		name, evaluating, log string
		want                  [][2]int // start and end lines
	}{
		{name: "loading the package set", evaluating: "set\n", want: [][2]int{{1, 1}}},
		{name: "evaluating a continued line", evaluating: "0\n", want: [][2]int{{2, 3}}},
		{name: "evaluating BUILD", evaluating: "1\n", want: [][2]int{{4, 4}}},
		{name: "a build nix names", log: "error: builder for '" + app + "' failed with exit code 1", want: [][2]int{{4, 4}}},
		{name: "a build nix names none of", log: "error: out of disk space", want: [][2]int{{2, 3}, {4, 4}}},
		{name: "an index out of range", evaluating: "7\n", log: "error: builder for '" + hello + "' failed", want: [][2]int{{2, 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [][2]int
			for _, r := range plan.FailureLines(tt.evaluating, groups, tt.log) {
				got = append(got, [2]int{r.Start.Line, r.End.Line})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FailureLines = %v, want %v", got, tt.want)
			}
		})
	}
}

// A single line evaluates in the build step, which then carries that line.
func TestNixStageSourceMapSingleLine(t *testing.T) {
	src := "ARG X=1\n" + // 1
		"PACKAGES hello jq\n" // 2
	sm := llb.NewSourceMap(nil, "Nixfile", "Nixfile", []byte(src))
	plan := newPlan(t, src, nixfile2llb.ConvertOpt{SourceMap: sm})
	g := marshal(t, plan.Stage.Meta)
	v := viewStage(t, g, "amd64", "x86_64-linux", "")
	var got []int
	for _, r := range g.ranges(v.build.dgst) {
		got = append(got, int(r.GetStart().GetLine()), int(r.GetEnd().GetLine()))
	}
	if !reflect.DeepEqual(got, []int{2, 2}) {
		t.Errorf("the build step has lines %v, want [2 2]", got)
	}
}

// The build context is loaded only for a Nixfile that reads it: one that
// does not makes no context request (its .dockerignore included).
func TestLoadContextOnlyWhenRead(t *testing.T) {
	tests := []struct {
		nixfile string
		want    bool
	}{
		{nixfile: "PACKAGES hello\nENV A=b\n", want: false},
		{nixfile: "FLAKE github:owner/repo#x\n", want: false},
		{nixfile: "BUILD app.nix\n", want: true},
		{nixfile: "PACKAGES hello\nCOPY a /a\n", want: true},
		{nixfile: "NIXPKGS ./vendor\nPACKAGES hello\n", want: true},
		{nixfile: "FLAKE .#app\n", want: true},
	}
	for _, tt := range tests {
		called := 0
		src := llb.Local("loaded", llb.SharedKeyHint("loaded"))
		opt := nixfile2llb.ConvertOpt{LoadContext: func(context.Context) (*llb.State, error) {
			called++
			return &src, nil
		}}
		plan := newPlan(t, tt.nixfile, opt)
		if got := called > 0; got != tt.want || called > 1 {
			t.Errorf("%q: the context was loaded %d times, want it loaded: %t", tt.nixfile, called, tt.want)
		}
		// The builder starts the load early by ReadsContext's answer.
		if got := nixfile2llb.ReadsContext(parse(t, tt.nixfile), nixfile2llb.ConvertOpt{}); got != tt.want {
			t.Errorf("%q: ReadsContext says %t, want %t", tt.nixfile, got, tt.want)
		}
		if !tt.want {
			continue
		}
		closure := closureOf(t, []string{"hello-2.12.1"}, nil, nil)
		if plan.Stage == nil {
			closure = nil
		}
		res, err := plan.Assemble(closure)
		if err != nil {
			t.Fatalf("%q: Assemble: %v", tt.nixfile, err)
		}
		def, err := res.State.Marshal(context.Background(), llb.LinuxAmd64, llb.LocalUniqueID(testUniqueID))
		if err != nil {
			t.Fatal(err)
		}
		g := decode(t, def)
		if len(g.sources("local://loaded")) == 0 {
			t.Errorf("%q: the loaded context is not used", tt.nixfile)
		}
		if n := len(g.sources("local://context")); n != 0 {
			t.Errorf("%q: %d sources of the default context, want the loaded one only", tt.nixfile, n)
		}
	}
}

// A context that does not load (a client that sent none) is blamed on the
// lines that read it, the first as the error's line, with the cause.
func TestContextErrorNamesItsLines(t *testing.T) {
	src := "ARG V=1\nNIXPKGS ./vendor\nPACKAGES hello\nBUILD app.nix\nCOPY a /a\n"
	_, err := nixfile2llb.NewPlan(context.Background(), parse(t, src), nixfile2llb.ConvertOpt{
		LoadContext: func(context.Context) (*llb.State, error) {
			return nil, errors.New("no access allowed to dir \"context\"")
		},
	})
	var le *nixfile.LocationError
	if !errors.As(err, &le) {
		t.Fatalf("NewPlan: %v, want a LocationError", err)
	}
	lines := []int{le.Range.Start.Line}
	for _, r := range le.Also {
		lines = append(lines, r.Start.Line)
	}
	if !reflect.DeepEqual(lines, []int{2, 4, 5}) {
		t.Errorf("the error blames lines %v, want [2 4 5]", lines)
	}
	if want := `line 2: loading the build context, which this line reads: no access allowed to dir "context"`; err.Error() != want {
		t.Errorf("the error says %q, want %q", err, want)
	}
}

// The nix stage runs on the nix image for the build platform and builds for
// the target's system: an arm64 image is evaluated by an amd64 nix, told
// the system is foreign, on the store of the amd64 nix (the one a native
// amd64 build uses). Emulating the target, or a build platform nix has no
// system for, runs it on the target's nix image and store instead.
func TestNixStageRunsOnTheBuildPlatform(t *testing.T) {
	amd := &ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	arm := &ocispecs.Platform{OS: "linux", Architecture: "arm64"}
	riscv := &ocispecs.Platform{OS: "linux", Architecture: "riscv64"}
	const img = "docker.io/nixos/nix:2.28.3"
	tests := []struct {
		name                      string
		opt                       nixfile2llb.ConvertOpt
		wantArch, wantSystem      string
		wantForeign, wantStoreFor string
		wantName                  string
	}{
		{name: "native amd64", opt: nixfile2llb.ConvertOpt{TargetPlatform: amd, BuildPlatform: amd},
			wantArch: "amd64", wantSystem: "x86_64-linux", wantStoreFor: "linux/amd64", wantName: "[nix] build hello"},
		{name: "arm64 on amd64", opt: nixfile2llb.ConvertOpt{TargetPlatform: arm, BuildPlatform: amd},
			wantArch: "amd64", wantSystem: "aarch64-linux", wantForeign: "aarch64-linux", wantStoreFor: "linux/amd64",
			wantName: "[nix] build hello for aarch64-linux (nix: x86_64-linux)"},
		{name: "amd64 on arm64", opt: nixfile2llb.ConvertOpt{TargetPlatform: amd, BuildPlatform: arm},
			wantArch: "arm64", wantSystem: "x86_64-linux", wantForeign: "x86_64-linux", wantStoreFor: "linux/arm64",
			wantName: "[nix] build hello for x86_64-linux (nix: aarch64-linux)"},
		{name: "arm64 on amd64, emulated", opt: nixfile2llb.ConvertOpt{TargetPlatform: arm, BuildPlatform: amd, EmulateTarget: true},
			wantArch: "arm64", wantSystem: "aarch64-linux", wantStoreFor: "linux/arm64", wantName: "[nix] build hello for aarch64-linux (emulated)"},
		{name: "build platform without a nix system", opt: nixfile2llb.ConvertOpt{TargetPlatform: arm, BuildPlatform: riscv},
			wantArch: "arm64", wantSystem: "aarch64-linux", wantStoreFor: "linux/arm64", wantName: "[nix] build hello for aarch64-linux (emulated)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := newPlan(t, "PACKAGES hello\n", tt.opt)
			g := marshal(t, plan.Stage.Meta)
			v := viewStage(t, g, tt.wantArch, tt.wantSystem, "")
			for _, id := range v.storeCaches {
				if want := nixllb.StoreCacheID(img, tt.wantStoreFor); id != want {
					t.Errorf("the store cache is %q, want the one of %s for %s (%q)", id, img, tt.wantStoreFor, want)
				}
			}
			build := g.execChain(t, g.out)[0]
			got, _ := envValue(build.exec().Meta.Env, "NIXFILE_FOREIGN_SYSTEM")
			if got != tt.wantForeign {
				t.Errorf("NIXFILE_FOREIGN_SYSTEM = %q, want %q", got, tt.wantForeign)
			}
			if n := g.name(build.dgst); n != tt.wantName {
				t.Errorf("the nix step is named %q, want %q", n, tt.wantName)
			}
			if p := plan.TargetPlatform(); p.Architecture != tt.opt.TargetPlatform.Architecture {
				t.Errorf("the plan's target is %v", p)
			}
		})
	}
}

// A nix image whose /nix holds a store with its database (the official
// image's does) is the store cache's base as it is: no seed step, whose
// container costs half a second of a first build. Without one, the seed
// step makes the store (TestNixStage checks it).
func TestImageWithAStoreNeedsNoSeed(t *testing.T) {
	for _, hasStore := range []bool{true, false} {
		opt := nixfile2llb.ConvertOpt{NixImage: func(_ context.Context, ref string, p ocispecs.Platform) (nixfile2llb.ResolvedImage, error) {
			return nixfile2llb.ResolvedImage{State: llb.Image(ref, llb.Platform(p)), ID: ref + "@sha256:0", HasStore: hasStore}, nil
		}}
		plan := newPlan(t, "PACKAGES hello\n", opt)
		g := marshal(t, plan.Stage.Meta)
		steps := 0
		for _, d := range g.order {
			e := g.ops[d].GetExec()
			if e == nil {
				continue
			}
			steps++
			if e.Meta.Args[len(e.Meta.Args)-1] != "0" {
				continue // the seed
			}
			m := execStep{dgst: d, op: g.ops[d]}.mount("/nix")
			base, _ := g.mountInput(execStep{dgst: d, op: g.ops[d]}, m)
			// The image's /nix, through a file op that only makes
			// /nix/store if it is not there.
			var src *pb.SourceOp
			if f := base.GetFile(); f != nil && len(f.Actions) == 1 && f.Actions[0].GetMkdir() != nil && len(base.Inputs) == 1 {
				src = g.op(base.Inputs[0]).GetSource()
			}
			if hasStore && (src == nil || !strings.HasPrefix(src.Identifier, "docker-image://") || m.Selector != "/nix") {
				t.Errorf("with a store in the image, /nix is seeded by %v (selector %q), want the image's /nix", base, m.Selector)
			}
			if !hasStore && base.GetExec() == nil {
				t.Errorf("without a store in the image, /nix is seeded by %v, want the seed step", base)
			}
		}
		if want := map[bool]int{true: 1, false: 2}[hasStore]; steps != want {
			t.Errorf("image has a store: %t: %d exec steps, want %d", hasStore, steps, want)
		}
	}
}

// The build's RUN options (--add-host, --ulimit, ...) reach every nix step
// of the stage, as they reach a Dockerfile's RUN.
func TestRunOptionsReachTheNixSteps(t *testing.T) {
	opt := nixfile2llb.ConvertOpt{RunOptions: []llb.RunOption{
		llb.AddExtraHost("cache.test", net.ParseIP("10.0.0.7")),
		llb.AddUlimit(llb.UlimitNofile, 4096, 8192),
	}}
	plan := newPlan(t, "PACKAGES hello\n", opt)
	g := marshal(t, plan.Stage.Meta)
	build := g.execChain(t, g.out)[0]
	m := build.exec().Meta
	if len(m.ExtraHosts) != 1 || m.ExtraHosts[0].Host != "cache.test" || m.ExtraHosts[0].IP != "10.0.0.7" {
		t.Errorf("the nix step's extra hosts are %v, want cache.test=10.0.0.7", m.ExtraHosts)
	}
	if len(m.Ulimit) != 1 || m.Ulimit[0].Name != "nofile" || m.Ulimit[0].Soft != 4096 || m.Ulimit[0].Hard != 8192 {
		t.Errorf("the nix step's ulimits are %v, want nofile=4096:8192", m.Ulimit)
	}
}

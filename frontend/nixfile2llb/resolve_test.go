package nixfile2llb

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/frontend/nixfile"
	nixllb "github.com/nixfile/nixfile/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// resolveText parses and resolves a Nixfile, failing the test on a parse
// error.
func resolveText(t *testing.T, text string, opt ConvertOpt) (*resolved, error) {
	t.Helper()
	f, err := nixfile.Parse([]byte(text))
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return resolve(f, opt, Expand(f, opt))
}

func mustResolve(t *testing.T, text string, opt ConvertOpt) *resolved {
	t.Helper()
	r, err := resolveText(t, text, opt)
	if err != nil {
		t.Fatalf("resolve(%q): %v", text, err)
	}
	return r
}

// wantResolveError checks that resolving fails with a message containing
// want, located at line.
func wantResolveError(t *testing.T, text string, opt ConvertOpt, line int, want string) {
	t.Helper()
	r, err := resolveText(t, text, opt)
	if err == nil {
		t.Fatalf("resolve(%q) succeeded (%+v), want an error containing %q", text, r, want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("resolve(%q) error %q does not contain %q", text, err, want)
	}
	var le *nixfile.LocationError
	if !errors.As(err, &le) || le.Range.Start.Line != line {
		t.Errorf("resolve(%q) error %v is not located at line %d", text, err, line)
	}
}

func labels(r *resolved) map[string]string {
	out := map[string]string{}
	for _, kv := range r.config.labels {
		out[kv.Key] = kv.Value
	}
	return out
}

// Each string of VOLUME's JSON form is one path: expanded, never split.
func TestResolveVolume(t *testing.T) {
	r := mustResolve(t, "ARG DIR=\"/srv/my app\"\n"+
		"VOLUME [\"/my data\", \"$DIR/cache\", \"/x/../y z\"]\n"+
		"VOLUME /plain \"/quoted dir\"\n", ConvertOpt{})
	want := []string{"/my data", "/srv/my app/cache", "/y z", "/plain", "/quoted dir"}
	if !reflect.DeepEqual(r.config.volumes, want) {
		t.Errorf("volumes = %q, want %q", r.config.volumes, want)
	}
	// The plain form splits an unquoted variable, as a shell does.
	wantResolveError(t, "ARG DIR=\"/a b\"\nVOLUME $DIR\n", ConvertOpt{}, 2, `volume "b" must be an absolute path`)
	wantResolveError(t, "VOLUME [\"relative\"]\n", ConvertOpt{}, 1, `volume "relative" must be an absolute path`)
}

// ENTRYPOINT and CMD's JSON forms are taken literally.
func TestResolveCommandJSON(t *testing.T) {
	r := mustResolve(t, "ARG X=1\nENTRYPOINT [\"a b\", \"$X\"]\nCMD [\"c  d\"]\n", ConvertOpt{})
	if want := []string{"a b", "$X"}; !reflect.DeepEqual(r.config.entrypoint, want) {
		t.Errorf("entrypoint = %q, want %q", r.config.entrypoint, want)
	}
	if want := []string{"c  d"}; !reflect.DeepEqual(r.config.cmd, want) {
		t.Errorf("cmd = %q, want %q", r.config.cmd, want)
	}
}

// COPY --chmod is expanded like --chown before its mode is read.
func TestResolveCopyChmod(t *testing.T) {
	tests := []struct {
		text string
		opt  ConvertOpt
		want int
	}{
		{text: "COPY --chmod=0644 a /b\n", want: 0o644},
		{text: "ARG MODE=0640\nCOPY --chmod=$MODE a /b\n", want: 0o640},
		{text: "ARG MODE=0640\nCOPY --chmod=${MODE} a /b\n", opt: ConvertOpt{BuildArgs: map[string]string{"MODE": "4755"}}, want: 0o4755},
		{text: "ARG MODE\nCOPY --chmod=${MODE:-755} a /b\n", want: 0o755},
		{text: "ARG MODE='0600'\nCOPY --chmod=\"$MODE\" a /b\n", want: 0o600},
	}
	for _, tt := range tests {
		r := mustResolve(t, tt.text, tt.opt)
		if len(r.copies) != 1 || r.copies[0].mode == nil {
			t.Fatalf("resolve(%q): copies %+v, want one with a mode", tt.text, r.copies)
		}
		if got := *r.copies[0].mode; got != tt.want {
			t.Errorf("resolve(%q): mode %#o, want %#o", tt.text, got, tt.want)
		}
	}
	wantResolveError(t, "ARG MODE=u+x\nCOPY --chmod=$MODE a /b\n", ConvertOpt{}, 2, `invalid --chmod=u+x`)
	wantResolveError(t, "COPY --chmod=$UNSET a /b\n", ConvertOpt{}, 1, `invalid --chmod=`)
	wantResolveError(t, "COPY --chmod=17777 a /b\n", ConvertOpt{}, 1, `invalid --chmod=17777`)
	wantResolveError(t, "COPY --chmod=${X:?nomode} a /b\n", ConvertOpt{}, 1, "nomode")

	r := mustResolve(t, "ARG U=app\nUSER app\nCOPY --chown=$U:$U a /b\n", ConvertOpt{})
	if c := r.copies[0].chown; c == nil || *c != (chown{user: "app", group: "app"}) {
		t.Errorf("chown = %+v, want app:app", c)
	}
}

func TestResolvePackageSet(t *testing.T) {
	tests := []struct {
		src     string
		want    nixllb.PackageSet
		wantErr string
	}{
		{src: "<nixpkgs>", want: nixllb.PackageSet{Kind: nixllb.NixPath, Ref: "nixpkgs"}},
		{src: "github:NixOS/nixpkgs/nixos-24.05", want: nixllb.PackageSet{Kind: nixllb.FlakeRef, Ref: "github:NixOS/nixpkgs/nixos-24.05"}},
		{src: "nixpkgs", want: nixllb.PackageSet{Kind: nixllb.FlakeRef, Ref: "nixpkgs"}},
		{src: "flake:nixpkgs/nixos-24.05", want: nixllb.PackageSet{Kind: nixllb.FlakeRef, Ref: "flake:nixpkgs/nixos-24.05"}},

		// Indirect flake references with a branch or revision.
		{src: "nixpkgs/nixos-24.05", want: nixllb.PackageSet{Kind: nixllb.FlakeRef, Ref: "nixpkgs/nixos-24.05"}},
		{src: "nixpkgs/release-24.05", want: nixllb.PackageSet{Kind: nixllb.FlakeRef, Ref: "nixpkgs/release-24.05"}},
		{src: "nixpkgs/0123456789abcdef0123456789abcdef01234567", want: nixllb.PackageSet{Kind: nixllb.FlakeRef, Ref: "nixpkgs/0123456789abcdef0123456789abcdef01234567"}},
		{src: "nixpkgs/nixos-unstable/0123456789abcdef0123456789abcdef01234567", want: nixllb.PackageSet{Kind: nixllb.FlakeRef, Ref: "nixpkgs/nixos-unstable/0123456789abcdef0123456789abcdef01234567"}},
		{src: "my_registry-name/v1.2", want: nixllb.PackageSet{Kind: nixllb.FlakeRef, Ref: "my_registry-name/v1.2"}},
		{src: "nixpkgs/", wantErr: "cannot tell what"},
		{src: "1nixpkgs/x", wantErr: "cannot tell what"},
		{src: "nixpkgs//x", wantErr: "cannot tell what"},

		// Tarballs, whatever the case of the extension.
		{src: "https://example.com/nixpkgs.tar.gz", want: nixllb.PackageSet{Kind: nixllb.Tarball, Ref: "https://example.com/nixpkgs.tar.gz"}},
		{src: "https://example.com/nixpkgs.TAR.GZ", want: nixllb.PackageSet{Kind: nixllb.Tarball, Ref: "https://example.com/nixpkgs.TAR.GZ"}},
		{src: "https://example.com/nixpkgs.Tar.Xz?x=1", want: nixllb.PackageSet{Kind: nixllb.Tarball, Ref: "https://example.com/nixpkgs.Tar.Xz?x=1"}},
		{src: "http://example.com/nixpkgs.TGZ", want: nixllb.PackageSet{Kind: nixllb.Tarball, Ref: "http://example.com/nixpkgs.TGZ"}},
		{src: "HTTPS://example.com/nixpkgs.ZIP", want: nixllb.PackageSet{Kind: nixllb.Tarball, Ref: "HTTPS://example.com/nixpkgs.ZIP"}},
		{src: "https://example.com/NIXPKGS.TAR.ZST sha256:abc", want: nixllb.PackageSet{Kind: nixllb.Tarball, Ref: "https://example.com/NIXPKGS.TAR.ZST", SHA256: "abc"}},
		{src: "https://example.com/nixpkgs.git sha256:abc", wantErr: "sha256: is for tarball URLs only"},

		// The build context.
		{src: ".", want: nixllb.PackageSet{Kind: nixllb.ContextDir, Ref: "."}},
		{src: "./nix", want: nixllb.PackageSet{Kind: nixllb.ContextDir, Ref: "nix"}},
		{src: "./a/../nix/", want: nixllb.PackageSet{Kind: nixllb.ContextDir, Ref: "nix"}},
		{src: "path:.", want: nixllb.PackageSet{Kind: nixllb.ContextFlake, Ref: "."}},
		{src: "path:./", want: nixllb.PackageSet{Kind: nixllb.ContextFlake, Ref: "."}},
		{src: "path:./nix", want: nixllb.PackageSet{Kind: nixllb.ContextFlake, Ref: "nix"}},
		{src: "path:./a/../nix", want: nixllb.PackageSet{Kind: nixllb.ContextFlake, Ref: "nix"}},
		{src: "path:nix", want: nixllb.PackageSet{Kind: nixllb.ContextFlake, Ref: "nix"}},

		// Absolute paths and paths out of the context.
		{src: "/nix", wantErr: "/nix is an absolute path"},
		{src: "path:/nix", wantErr: "path:/nix is an absolute path"},
		{src: "..", wantErr: ".. is outside the build context"},
		{src: "../nix", wantErr: "../nix is outside the build context"},
		{src: "./a/../../nix", wantErr: "./a/../../nix is outside the build context"},
		{src: "path:..", wantErr: "path:.. is outside the build context"},
		{src: "path:../nix", wantErr: "path:../nix is outside the build context"},
		{src: "path:./a/../../nix", wantErr: "path:./a/../../nix is outside the build context"},
		{src: "path:", wantErr: "path: is an empty path"},

		{src: "NixOS/nixpkgs/x/", wantErr: "cannot tell what"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			text := "NIXPKGS " + tt.src + "\n"
			if tt.wantErr != "" {
				wantResolveError(t, text, ConvertOpt{}, 1, "NIXPKGS: "+tt.wantErr)
				return
			}
			r := mustResolve(t, text, ConvertOpt{})
			if r.packageSet == nil || *r.packageSet != tt.want {
				t.Errorf("package set %+v, want %+v", r.packageSet, tt.want)
			}
		})
	}
}

func TestResolveFlake(t *testing.T) {
	tests := []struct {
		ref string
		// want is the flake reference, or "./DIR" for a flake of the build
		// context; name is the installable's name in progress lines.
		want, name string
		wantErr    string
	}{
		{ref: ".#app", want: "./.", name: ".#app"},
		{ref: ".", want: "./.", name: ".#"},
		{ref: "./#app", want: "./.", name: ".#app"},
		{ref: "./tools#cli", want: "./tools", name: "./tools#cli"},
		{ref: "./a/../tools#cli", want: "./tools", name: "./tools#cli"},
		{ref: "path:.#app", want: "./.", name: ".#app"},
		{ref: "path:./tools#cli", want: "./tools", name: "./tools#cli"},
		{ref: "path:./a/../tools#cli", want: "./tools", name: "./tools#cli"},
		{ref: "path:tools#cli", want: "./tools", name: "./tools#cli"},
		{ref: "github:owner/repo#tool", want: "github:owner/repo", name: "github:owner/repo#tool"},
		{ref: "nixpkgs#hello", want: "nixpkgs", name: "nixpkgs#hello"},
		{ref: "nixpkgs/nixos-24.05#hello", want: "nixpkgs/nixos-24.05", name: "nixpkgs/nixos-24.05#hello"},
		{ref: "github:a/b#x.\"y.z\"", want: "github:a/b", name: "github:a/b#x.\"y.z\""},

		{ref: "/flake#app", wantErr: "/flake is an absolute path"},
		{ref: "path:/flake#app", wantErr: "path:/flake is an absolute path"},
		{ref: "..#app", wantErr: ".. is outside the build context"},
		{ref: "../x#app", wantErr: "../x is outside the build context"},
		{ref: "./a/../../x#app", wantErr: "./a/../../x is outside the build context"},
		{ref: "path:..#app", wantErr: "path:.. is outside the build context"},
		{ref: "path:../x#app", wantErr: "path:../x is outside the build context"},
		{ref: "path:./a/../../x#app", wantErr: "path:./a/../../x is outside the build context"},
		{ref: "#app", wantErr: `"#app" has no flake reference`},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			text := "ARG A\nFLAKE '" + tt.ref + "'\n"
			if tt.wantErr != "" {
				wantResolveError(t, text, ConvertOpt{}, 2, "FLAKE: "+tt.wantErr)
				return
			}
			r := mustResolve(t, text, ConvertOpt{})
			if len(r.groups) != 1 || len(r.groups[0].Installables) != 1 {
				t.Fatalf("groups %+v, want one installable", r.groups)
			}
			got := r.groups[0].Installables[0]
			ref := got.Flake
			if got.Kind == nixllb.ContextFlakeOutput {
				ref = "./" + got.Path
			} else if got.Kind != nixllb.FlakeOutput {
				t.Fatalf("installable %+v, want a flake output", got)
			}
			if ref != tt.want || got.Name != tt.name {
				t.Errorf("installable %+v, want flake %q named %q", got, tt.want, tt.name)
			}
		})
	}
}

// Attributes and files are named as a Nixfile names them.
func TestResolveInstallableNames(t *testing.T) {
	r := mustResolve(t, "PACKAGES python3Packages.requests 'a.\"b.c\"'\nBUILD default.nix\nBUILD ./pkgs/app.nix app bin\n", ConvertOpt{})
	var got []string
	for _, g := range r.groups {
		for _, in := range g.Installables {
			got = append(got, in.Name)
		}
	}
	if want := []string{"python3Packages.requests", `a."b.c"`, "default.nix", "pkgs/app.nix:app", "pkgs/app.nix:bin"}; !reflect.DeepEqual(got, want) {
		t.Errorf("names %q, want %q", got, want)
	}
}

// NIXPKGS and FLAKE read the same local references the same way.
func TestResolveLocalRefsConsistent(t *testing.T) {
	for _, ref := range []string{"/x", "path:/x", "../x", "path:../x", "./a/../../x", "path:./a/../../x", "..", "path:.."} {
		_, errN := resolveText(t, "NIXPKGS "+ref+"\n", ConvertOpt{})
		_, errF := resolveText(t, "FLAKE "+ref+"#a\n", ConvertOpt{})
		if errN == nil || errF == nil {
			t.Errorf("%s: NIXPKGS error %v, FLAKE error %v; want both to fail", ref, errN, errF)
			continue
		}
		trim := func(err error, kw string) string {
			_, msg, _ := strings.Cut(err.Error(), kw+": ")
			msg, _, _ = strings.Cut(msg, ";")
			return msg
		}
		if n, f := trim(errN, "NIXPKGS"), trim(errF, "FLAKE"); n != f {
			t.Errorf("%s: NIXPKGS says %q, FLAKE says %q", ref, n, f)
		}
	}
}

// An ARG of an automatic name gets the automatic value even with a default;
// only --build-arg overrides it.
func TestResolveAutomaticArgs(t *testing.T) {
	text := "ARG TARGETARCH=foo\nARG TARGETOS=bar\nARG TARGETPLATFORM=baz\nARG TARGETVARIANT=v9\nARG NIX_SYSTEM=qux\nARG OTHER=$TARGETARCH\n" +
		"LABEL arch=$TARGETARCH os=$TARGETOS platform=$TARGETPLATFORM variant=${TARGETVARIANT-unset} system=$NIX_SYSTEM other=$OTHER\n"
	arm := &ocispecs.Platform{OS: "linux", Architecture: "arm64"}
	tests := []struct {
		name string
		opt  ConvertOpt
		want map[string]string
	}{
		{name: "default platform", want: map[string]string{
			"arch": "amd64", "os": "linux", "platform": "linux/amd64", "variant": "", "system": "x86_64-linux", "other": "amd64"}},
		{name: "arm64", opt: ConvertOpt{TargetPlatform: arm}, want: map[string]string{
			"arch": "arm64", "os": "linux", "platform": "linux/arm64", "variant": "", "system": "aarch64-linux", "other": "arm64"}},
		{name: "build args win", opt: ConvertOpt{TargetPlatform: arm, BuildArgs: map[string]string{"TARGETARCH": "x", "NIX_SYSTEM": "", "OTHER": "o"}}, want: map[string]string{
			"arch": "x", "os": "linux", "platform": "linux/arm64", "variant": "", "system": "", "other": "o"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustResolve(t, text, tt.opt)
			if got := labels(r); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("labels %v, want %v", got, tt.want)
			}
		})
	}
	// Without ARG, an automatic name is not a variable; an ordinary ARG's
	// default still applies.
	r := mustResolve(t, "ARG A=$TARGETARCH-x\nLABEL a=$A b=${TARGETARCH-unset}\n", ConvertOpt{})
	if got, want := labels(r), map[string]string{"a": "-x", "b": "unset"}; !reflect.DeepEqual(got, want) {
		t.Errorf("labels %v, want %v", got, want)
	}
}

// ENV KEY VALUE keeps the value's spacing.
func TestResolveEnvOldForm(t *testing.T) {
	r := mustResolve(t, "ARG W=world\nENV GREETING  hello   \"big  $W\"  x\\ \\ y\nENV A=1\n", ConvertOpt{})
	want := []nixfile.KeyValue{{Key: "GREETING", Value: "hello   big  world  x  y"}, {Key: "A", Value: "1"}}
	if !reflect.DeepEqual(r.config.env, want) {
		t.Errorf("env = %q, want %q", r.config.env, want)
	}
}

// A config made large by the closure, not by a line of its own, blames the
// lines that asked for the packages.
func TestCheckConfigSizeBlamesPackages(t *testing.T) {
	r := mustResolve(t, "LABEL a=b\nPACKAGES hello\nPACKAGES curl\n", ConvertOpt{})
	img := imageFor(ocispecs.Platform{OS: "linux", Architecture: "amd64"}, r.config, strings.Repeat("/x/bin:", MaxConfigSize/7+1), nil, nil)
	err := r.checkConfigSize(img)
	var le *nixfile.LocationError
	if !errors.As(err, &le) || le.Range.Start.Line != 2 || len(le.Also) != 1 || le.Also[0].Start.Line != 3 {
		t.Fatalf("error %.200v is not located at lines 2 and 3", err)
	}
	if !strings.Contains(err.Error(), "more than 4 MiB") {
		t.Errorf("error %.200q", err)
	}
}

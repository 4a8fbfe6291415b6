package nixllb

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/internal/golden"
)

func TestParseAttrPath(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{in: "", want: nil},
		{in: "hello", want: []string{"hello"}},
		{in: "python3Packages.requests", want: []string{"python3Packages", "requests"}},
		{in: "a.b.c.d", want: []string{"a", "b", "c", "d"}},
		{in: `a."b.c"`, want: []string{"a", "b.c"}},
		{in: `"a.b"`, want: []string{"a.b"}},
		{in: `"a.b".c."d.e"`, want: []string{"a.b", "c", "d.e"}},
		{in: `a.""`, want: []string{"a", ""}},
		{in: `""`, want: []string{""}},
		{in: `a."x\"y"`, want: []string{"a", `x"y`}},
		{in: `a."x\\y"`, want: []string{"a", `x\y`}},
		{in: `a."\${x}"`, want: []string{"a", "${x}"}},
		{in: `a."x\ny\tz\r"`, want: []string{"a", "x\ny\tz\r"}},
		{in: `a."q\q"`, want: []string{"a", "qq"}},
		{in: "gcc-unwrapped", want: []string{"gcc-unwrapped"}},
		{in: "a'.b_1", want: []string{"a'", "b_1"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAttrPath(tt.in)
			if err != nil {
				t.Fatalf("ParseAttrPath(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseAttrPath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseAttrPathErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{in: ".", want: "empty name"},
		{in: ".a", want: "empty name"},
		{in: "a.", want: "empty name"},
		{in: "a..b", want: "empty name"},
		{in: `a."b`, want: "unterminated quote"},
		{in: `"`, want: "unterminated quote"},
		{in: `a."b\"`, want: "unterminated quote"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAttrPath(tt.in)
			if err == nil {
				t.Fatalf("ParseAttrPath(%q) = %q, want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "invalid attribute path") {
				t.Errorf("ParseAttrPath(%q) error %q does not contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestFormatAttrPath(t *testing.T) {
	tests := []struct {
		path []string
		want string
	}{
		{path: nil, want: ""},
		{path: []string{"hello"}, want: "hello"},
		{path: []string{"python3Packages", "requests"}, want: "python3Packages.requests"},
		{path: []string{"a", "b.c"}, want: `a."b.c"`},
		{path: []string{""}, want: `""`},
		{path: []string{"1password"}, want: `"1password"`},
		{path: []string{"_private", "x-y'"}, want: "_private.x-y'"},
		{path: []string{"-x"}, want: `"-x"`},
		{path: []string{"with space"}, want: `"with space"`},
		{path: []string{`q"uote`, `back\slash`}, want: `"q\"uote"."back\\slash"`},
		{path: []string{"${x}"}, want: `"\${x}"`},
		{path: []string{"nl\ntab\tcr\r"}, want: `"nl\ntab\tcr\r"`},
		{path: []string{"é"}, want: `"é"`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := FormatAttrPath(tt.path); got != tt.want {
				t.Errorf("FormatAttrPath(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

func TestAttrPathRoundTrip(t *testing.T) {
	paths := [][]string{
		{"hello"},
		{"python3Packages", "requests"},
		{"haskellPackages", "foo.bar", "baz"},
		{"a.b", "c.d.e"},
		{"", "x"},
		{"x", ""},
		{`a"b`, `c\d`, "${e}", "$f", "{g}"},
		{"tab\tnew\nline\rcr"},
		{"unicode é", "日本"},
		{"1st", "-dash", "it's"},
	}
	for _, p := range paths {
		s := FormatAttrPath(p)
		got, err := ParseAttrPath(s)
		if err != nil {
			t.Errorf("ParseAttrPath(FormatAttrPath(%q) = %q): %v", p, s, err)
			continue
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("ParseAttrPath(FormatAttrPath(%q) = %q) = %q", p, s, got)
		}
	}
	// From text: parsing what was formatted from a parse gives the same.
	for _, s := range []string{"a.b", `a."b.c".d`, `"x y"`, `a."\${b}"`, `"\n"`, `""`} {
		p1, err := ParseAttrPath(s)
		if err != nil {
			t.Fatalf("ParseAttrPath(%q): %v", s, err)
		}
		p2, err := ParseAttrPath(FormatAttrPath(p1))
		if err != nil || !reflect.DeepEqual(p1, p2) {
			t.Errorf("%q: parsed %q, formatted %q, parsed again %q (%v)", s, p1, FormatAttrPath(p1), p2, err)
		}
	}
}

// Whether the nix stage mounts the build context follows from the kinds.
func TestReadsContext(t *testing.T) {
	for _, tc := range []struct {
		set  *PackageSet
		want bool
	}{
		{set: nil}, {set: &PackageSet{Kind: NixPath, Ref: "nixpkgs"}}, {set: &PackageSet{Kind: FlakeRef, Ref: "path:/x"}},
		{set: &PackageSet{Kind: Tarball, Ref: "https://x/a.tar.gz"}},
		{set: &PackageSet{Kind: ContextDir, Ref: "."}, want: true}, {set: &PackageSet{Kind: ContextFlake, Ref: "sub"}, want: true},
	} {
		if got := tc.set.ReadsContext(); got != tc.want {
			t.Errorf("%+v.ReadsContext() = %t", tc.set, got)
		}
	}
	for _, tc := range []struct {
		in   Installable
		want bool
	}{
		{in: attrHello}, {in: flakeRemote}, {in: flakeDefault, want: true}, {in: fileWhole, want: true},
	} {
		if got := tc.in.ReadsContext(); got != tc.want {
			t.Errorf("%+v.ReadsContext() = %t", tc.in, got)
		}
	}
}

// A flake of the build context is read at the context's mount.
func TestContextFlakeRef(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{in: ".", want: "path:" + ContextMount},
		{in: "", want: "path:" + ContextMount},
		{in: "./sub", want: "path:" + ContextMount + "/sub"},
		{in: "sub/dir", want: "path:" + ContextMount + "/sub/dir"},
	}
	for _, tt := range tests {
		if got := contextFlakeRef(tt.in); got != tt.want {
			t.Errorf("contextFlakeRef(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestGroupAttr(t *testing.T) {
	if got := GroupAttr(3); got != "groups.g3" {
		t.Errorf("GroupAttr(3) = %q", got)
	}
}

// Installables of every kind, for the golden expressions.
var (
	attrHello    = Installable{Kind: Attr, Attr: []string{"hello"}}
	attrNested   = Installable{Kind: Attr, Attr: []string{"python3Packages", "requests"}}
	attrOutput   = Installable{Kind: Attr, Attr: []string{"openssl", "dev"}}
	attrQuoted   = Installable{Kind: Attr, Attr: []string{"haskellPackages", "foo.bar"}}
	flakeRemote  = Installable{Kind: FlakeOutput, Flake: "github:owner/repo/v1.0", Attr: []string{"tool"}}
	flakeDefault = Installable{Kind: ContextFlakeOutput, Path: "."}
	flakeSub     = Installable{Kind: ContextFlakeOutput, Path: "sub", Attr: []string{"packages", "x86_64-linux", "app"}}
	fileWhole    = Installable{Kind: File, Path: "default.nix"}
	fileAttr     = Installable{Kind: File, Path: "./pkgs/app.nix", Attr: []string{"app", "bin"}}
)

var exprCases = []struct {
	name   string
	system string
	set    *PackageSet
	groups []Group
}{
	{
		name: "full", system: "x86_64-linux", set: nil,
		groups: []Group{{Where: "line 2", Installables: []Installable{attrHello}}},
	},
	{
		name: "default_set_attrs", system: "x86_64-linux", set: nil,
		groups: []Group{
			{Where: "line 3", Installables: []Installable{attrHello, attrNested}},
			{Where: "line 4", Installables: []Installable{attrOutput, attrQuoted}},
		},
	},
	{
		name: "nixpath", system: "aarch64-linux", set: &PackageSet{Kind: NixPath, Ref: "nixpkgs-unstable"},
		groups: []Group{{Where: "line 5", Installables: []Installable{attrHello}}},
	},
	{
		name: "flakeref_flake_outputs", system: "x86_64-linux", set: &PackageSet{Kind: FlakeRef, Ref: "github:NixOS/nixpkgs/nixos-24.05"},
		groups: []Group{
			{Where: "line 2", Installables: []Installable{attrHello}},
			{Where: "line 3", Installables: []Installable{flakeRemote, flakeDefault, flakeSub}},
		},
	},
	{
		name: "contextdir_root_files", system: "x86_64-linux", set: &PackageSet{Kind: ContextDir, Ref: "."},
		groups: []Group{
			{Where: "line 7", Installables: []Installable{fileWhole}},
			{Where: "line 8", Installables: []Installable{fileAttr, attrHello}},
		},
	},
	{
		name: "contextflake_set", system: "x86_64-linux", set: &PackageSet{Kind: ContextFlake, Ref: "nix"},
		groups: []Group{{Where: "line 2", Installables: []Installable{attrHello}}},
	},
	{
		name: "contextdir_sub", system: "x86_64-linux", set: &PackageSet{Kind: ContextDir, Ref: "./nix/pkgs"},
		groups: []Group{{Where: "line 1", Installables: []Installable{attrNested}}},
	},
	{
		name: "tarball_sha256", system: "x86_64-linux",
		set: &PackageSet{Kind: Tarball, Ref: "https://github.com/NixOS/nixpkgs/archive/0123456789abcdef0123456789abcdef01234567.tar.gz",
			SHA256: "1vnd1l0m6c1jcr9j4s8zbpvq1fl6b1a8fb7yxcsvbi5cs5b3dq3w"},
		groups: []Group{{Where: "line 2", Installables: []Installable{attrHello}}},
	},
	{
		name: "tarball_no_sha256", system: "x86_64-linux", set: &PackageSet{Kind: Tarball, Ref: "https://example.com/nixpkgs.tar.gz"},
		groups: []Group{{Where: "line 2", Installables: []Installable{attrHello}}},
	},
	{
		name: "no_groups", system: "x86_64-linux", set: nil, groups: nil,
	},
	{
		// A NIX_PATH name that is not one <...> path in Nix's grammar (resolve
		// rejects it; this is the second line of defence) is a string.
		name: "nixpath_hostile", system: "x86_64-linux", set: &PackageSet{Kind: NixPath, Ref: hostileNixPathName},
		groups: []Group{{Where: "line 2", Installables: []Installable{attrHello}}},
	},
	{
		// Everything that reaches the expression as a string is quoted.
		name: "escaping", system: `x"${y}`,
		set: &PackageSet{Kind: FlakeRef, Ref: `github:a/b?dir=${x}&q="\`},
		groups: []Group{{Where: `line "1" ${x}`, Installables: []Installable{
			{Kind: Attr, Attr: []string{`a"b`, `c\d`, "${e}", "new\nline", "nul\x00byte", `'';x''`, "$", "a$"}},
			{Kind: FlakeOutput, Flake: `path:/x"${y}`, Attr: []string{"${z}"}},
			{Kind: File, Path: `dir/${x}"q.nix`, Attr: []string{"a b"}},
		}}},
	},
}

// hostileNixPathName is the NIX_PATH name of issue 13's injection: spliced
// into <...>, it ran the throw.
const hostileNixPathName = `1;__lessThan=(_:_:throw("INJ"+"ECTED-RAN"));#`

func TestExprGolden(t *testing.T) {
	for _, tt := range exprCases {
		t.Run(tt.name, func(t *testing.T) {
			got := Expr(tt.system, tt.set, tt.groups)
			if again := Expr(tt.system, tt.set, tt.groups); again != got {
				t.Fatalf("Expr is not deterministic")
			}
			if n := strings.Count(got, "\n    g"); n != len(tt.groups) {
				t.Errorf("Expr output has %d groups, want %d", n, len(tt.groups))
			}
			golden.Check(t, filepath.Join("testdata", "expr", tt.name+".golden"), []byte(got))
		})
	}
}

// nixInstantiate runs nix-instantiate when it is installed; these checks
// need no daemon and no network, but nix is not part of the test bed.
func nixInstantiate(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("nix-instantiate", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var kept []string
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(l, "warning:") && l != "" {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\n"), err
}

func needNix(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs nix-instantiate; skipped with -short")
	}
	if _, err := exec.LookPath("nix-instantiate"); err != nil {
		// hack/testbed up installs Debian's nix-bin; CI never skips silently.
		if os.Getenv("CI") == "true" {
			t.Fatal("nix-instantiate is not installed: run hack/testbed up")
		}
		t.Skip("nix-instantiate is not installed: run hack/testbed up")
	}
}

// Every expression the golden tests generate, and every Nix file of the
// package, is valid Nix syntax.
func TestExprParsesWithNix(t *testing.T) {
	needNix(t)
	goldens, err := filepath.Glob(filepath.Join("testdata", "expr", "*.golden"))
	if err != nil || len(goldens) < len(exprCases) {
		t.Fatalf("testdata/expr has %d goldens, want %d: %v", len(goldens), len(exprCases), err)
	}
	files, err := filepath.Glob("*.nix")
	if err != nil || len(files) == 0 {
		t.Fatalf("no .nix files in the package: %v", err)
	}
	for _, file := range append(goldens, files...) {
		t.Run(file, func(t *testing.T) {
			abs, err := filepath.Abs(file)
			if err != nil {
				t.Fatal(err)
			}
			if out, err := nixInstantiate(t, t.TempDir(), nil, "--parse", abs); err != nil {
				t.Fatalf("nix-instantiate --parse: %v\n%s", err, out)
			}
		})
	}
}

// writeExpr writes a build.nix and helpers.nix beside it into dir.
func writeExpr(t *testing.T, dir, expr string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "build.nix"), []byte(expr), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, helpersFile), helpersExpr, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakePkgs is a package set of fake derivations: enough for the helpers.
const fakePkgs = `{ system ? "none" }:
let
  mk = name: outs: meta:
    let
      self = { type = "derivation"; inherit name system meta; outputs = outs; outputName = builtins.head outs; }
        // builtins.listToAttrs (map (o: { name = o; value = self // { outputName = o; }; }) outs);
    in self;
in {
  hello = mk "hello" [ "out" "man" ] { outputsToInstall = [ "out" "man" ]; };
  openssl = mk "openssl" [ "bin" "out" "dev" "doc" ] { };
  python3Packages = { requests = mk "requests" [ "out" ] { }; };
  "dotted.name" = mk "dotted" [ "out" ] { };
  notAPackage = 42;
  bundle = [ (mk "one" [ "out" ] { }) (mk "two" [ "lib" "out" ] { outputsToInstall = [ "out" ]; }) ];
  systemName = mk system [ "out" ] { };
}
`

// The helpers pick outputs and word their errors as documented, checked by
// evaluating the expression against a fake package set.
func TestExprEvaluatesWithNix(t *testing.T) {
	needNix(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "fake"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fake", "default.nix"), []byte(fakePkgs), 0o644); err != nil {
		t.Fatal(err)
	}
	attr := func(p ...string) Installable { return Installable{Kind: Attr, Attr: p} }
	groups := []Group{
		{Where: "line 1", Installables: []Installable{attr("hello"), attr("openssl"), attr("openssl", "dev")}},
		{Where: "line 2", Installables: []Installable{attr("python3Packages", "requests"), attr("dotted.name"), attr("bundle")}},
		{Where: "line 3", Installables: []Installable{attr("systemName")}},
		{Where: "line 4", Installables: []Installable{attr("helo")}},
		{Where: "line 5", Installables: []Installable{attr("python3Packages")}},
		{Where: "line 6", Installables: []Installable{attr("notAPackage")}},
		{Where: "line 7", Installables: []Installable{attr("notAPackage", "x")}},
	}
	expr := Expr("riscv64-linux", &PackageSet{Kind: NixPath, Ref: "fakepkgs"}, groups)
	writeExpr(t, dir, expr)
	env := []string{"NIX_PATH=fakepkgs=" + filepath.Join(dir, "fake")}
	eval := func(i int) (string, error) {
		return nixInstantiate(t, dir, env, "--eval", "--strict", "--json", "--expr",
			"map (d: d.name + \"!\" + d.outputName) (import ./build.nix)."+GroupAttr(i))
	}
	ok := []struct {
		group int
		want  string
	}{
		// hello: its outputsToInstall less man; openssl: no outputsToInstall,
		// so its default (first) output; openssl.dev: the named output.
		{group: 0, want: `["hello!out","openssl!bin","openssl!dev"]`},
		{group: 1, want: `["requests!out","dotted!out","one!out","two!out"]`},
		{group: 2, want: `["riscv64-linux!out"]`}, // the system reaches the set
	}
	for _, tt := range ok {
		got, err := eval(tt.group)
		if err != nil {
			t.Errorf("group %d: %v\n%s", tt.group, err, got)
			continue
		}
		if got != tt.want {
			t.Errorf("group %d = %s, want %s", tt.group, got, tt.want)
		}
	}
	bad := []struct {
		group int
		want  string
	}{
		{group: 3, want: "nixfile: line 4: attribute 'helo' not found in the package set (did you mean hello?)"},
		{group: 4, want: "nixfile: line 5: 'python3Packages' is a set of 1 attributes, not a package; name one of them, e.g. python3Packages.requests"},
		{group: 5, want: "nixfile: line 6: 'notAPackage' is a int, not a package (a derivation)"},
		{group: 6, want: "nixfile: line 7: 'notAPackage' in the package set is a int, not a set of attributes"},
	}
	for _, tt := range bad {
		got, err := eval(tt.group)
		if err == nil {
			t.Errorf("group %d evaluated to %s, want an error", tt.group, got)
			continue
		}
		if !strings.Contains(got, tt.want) {
			t.Errorf("group %d error:\n%s\nwant it to contain %q", tt.group, got, tt.want)
		}
	}
	// all is every group; with bad ones it fails, so check a good subset.
	expr = Expr("x86_64-linux", &PackageSet{Kind: NixPath, Ref: "fakepkgs"}, groups[:2])
	writeExpr(t, dir, expr)
	got, err := nixInstantiate(t, dir, env, "--eval", "--strict", "--json", "--expr",
		`builtins.length (import ./build.nix).all`)
	if err != nil || got != "7" {
		t.Errorf("length of all = %s (%v), want 7", got, err)
	}
}

// A flake without packages for the system names the system: the throw's
// message is the whole string, not only its first part.
func TestExprFlakeThrowNamesSystem(t *testing.T) {
	needNix(t)
	expr := packageSetExpr(&PackageSet{Kind: FlakeRef, Ref: "github:a/b"})
	// Stand in for the flake: replace getFlake with a set that has neither.
	expr = strings.Replace(expr, "builtins.getFlake", "(_: { })", 1)
	got, err := nixInstantiate(t, t.TempDir(), nil, "--eval", "--expr",
		`let system = "riscv64-linux"; in `+expr)
	if err == nil {
		t.Fatalf("evaluated to %s, want an error", got)
	}
	if want := "nixfile: the flake github:a/b has no legacyPackages or packages for riscv64-linux"; !strings.Contains(got, want) {
		t.Errorf("error:\n%s\nwant it to contain %q", got, want)
	}
}

// Package sets and .nix files of the build context evaluate, with the
// context mount replaced by a directory of the test.
func TestExprContextEvaluatesWithNix(t *testing.T) {
	needNix(t)
	dir := t.TempDir()
	files := map[string]string{
		"nix/default.nix":  fakePkgs,
		"default.nix":      "{ hello, system }: if system == \"riscv64-linux\" then hello else throw \"wrong system\"\n",
		"pkgs/app.nix":     "{ pkgs, openssl }: { app = { bin = openssl.dev; }; list = [ pkgs.hello openssl ]; }\n",
		"plain.nix":        "{ value = 1; }\n",
		"with space/x.nix": "{ hello }: hello\n",
	}
	for name, text := range files {
		p := filepath.Join(dir, "context", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := func(path string, attr ...string) Installable { return Installable{Kind: File, Path: path, Attr: attr} }
	groups := []Group{
		{Where: "line 1", Installables: []Installable{file("default.nix"), file("./pkgs/app.nix", "app", "bin")}},
		{Where: "line 2", Installables: []Installable{file("pkgs/app.nix", "list"), file("with space/x.nix")}},
		{Where: "line 3", Installables: []Installable{file("plain.nix")}},
	}
	expr := Expr("riscv64-linux", &PackageSet{Kind: ContextDir, Ref: "./nix"}, groups)
	if !strings.Contains(expr, `"`+ContextMount) {
		t.Fatalf("the expression does not name %s", ContextMount)
	}
	expr = strings.ReplaceAll(expr, `"`+ContextMount, `"`+filepath.Join(dir, "context"))
	writeExpr(t, dir, expr)
	eval := func(i int) (string, error) {
		return nixInstantiate(t, dir, nil, "--eval", "--strict", "--json", "--expr",
			"map (d: d.name + \"!\" + d.outputName) (import ./build.nix)."+GroupAttr(i))
	}
	for _, tt := range []struct {
		group int
		want  string
	}{
		{group: 0, want: `["hello!out","openssl!dev"]`},
		{group: 1, want: `["hello!out","openssl!bin","hello!out"]`},
	} {
		got, err := eval(tt.group)
		if err != nil || got != tt.want {
			t.Errorf("group %d = %s (%v), want %s", tt.group, got, err, tt.want)
		}
	}
	got, err := eval(2)
	if want := "nixfile: line 3: '" + filepath.Join(dir, "context", "plain.nix") + "' is a set of 1 attributes, not a package"; err == nil || !strings.Contains(got, want) {
		t.Errorf("group 2: %s (%v), want an error containing %q", got, err, want)
	}
}

func TestValidateNixPathName(t *testing.T) {
	tests := []struct {
		name  string
		value string
		ok    bool
	}{
		{name: "nixpkgs", value: "nixpkgs", ok: true},
		{name: "with a path", value: "nixpkgs/lib", ok: true},
		{name: "every character", value: "a-Z_0.9+x/y", ok: true},
		{name: "empty", value: ""},
		{name: "injection", value: hostileNixPathName},
		{name: "closing bracket", value: "a>b"},
		{name: "opening bracket", value: "a<b"},
		{name: "blank", value: "a b"},
		{name: "leading slash", value: "/a"},
		{name: "trailing slash", value: "a/"},
		{name: "double slash", value: "a//b"},
		{name: "quote", value: `a"b`},
		{name: "dollar", value: "a${b}"},
		{name: "newline", value: "a\nb"},
		{name: "NUL", value: "a\x00b"},
		{name: "non-ASCII", value: "é"},
		{name: "dot dot", value: "nixpkgs/../run/secrets/netrc"},
		{name: "dot dot first", value: "../nixpkgs"},
		{name: "dot", value: "nixpkgs/./lib"},
		{name: "dots in a name", value: "nixpkgs/..lib/a..b", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateNixPathName(tt.value)
			if tt.ok != (err == nil) {
				t.Fatalf("ValidateNixPathName(%q) = %v, want ok %v", tt.value, err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "invalid NIX_PATH entry") {
				t.Errorf("error %q does not say invalid NIX_PATH entry", err)
			}
			// What the expression holds is <name> exactly when it is valid.
			if got := nixPathExpr(tt.value); (got == "<"+tt.value+">") != tt.ok {
				t.Errorf("nixPathExpr(%q) = %s", tt.value, got)
			}
		})
	}
}

func TestValidateRef(t *testing.T) {
	tests := []struct {
		name  string
		value string
		ok    bool
	}{
		{name: "github", value: "github:NixOS/nixpkgs/nixos-24.05", ok: true},
		{name: "query", value: "git+https://example.com/r.git?ref=main&rev=0123abcd", ok: true},
		{name: "percent", value: "https://example.com/a%20b.tar.gz", ok: true},
		{name: "registry", value: "nixpkgs", ok: true},
		{name: "empty", value: ""},
		{name: "angle brackets", value: "<" + hostileNixPathName + ">"},
		{name: "quote", value: `github:a/b";x=throw"y`},
		{name: "backslash", value: `github:a/b\x`},
		{name: "interpolation", value: "github:a/b${x}"},
		{name: "backtick", value: "github:a/`b`"},
		{name: "blank", value: "github:a/b c"},
		{name: "tab", value: "github:a/b\tc"},
		{name: "newline", value: "github:a/b\nc"},
		{name: "NUL", value: "github:a/b\x00c"},
		{name: "DEL", value: "github:a/b\x7fc"},
		{name: "non-ASCII", value: "github:a/é"},
		{name: "pipe", value: "github:a|b"},
		{name: "caret", value: "github:a^b"},
		{name: "git+https", value: "git+https://example.com/file.git", ok: true},
		{name: "a file URL", value: "file:///run/secrets/netrc"},
		{name: "git+file", value: "git+file:///run/secrets"},
		{name: "git+file, relative", value: "git+file:run/secrets"},
		{name: "tarball+file", value: "tarball+file:///tmp/x.tar.gz"},
		{name: "hg+file", value: "hg+file:///r"},
		{name: "path, absolute", value: "path:/run/secrets"},
		{name: "upper case", value: "GIT+FILE:///run/secrets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateRef(tt.value)
			if tt.ok != (err == nil) {
				t.Fatalf("ValidateRef(%q) = %v, want ok %v", tt.value, err, tt.ok)
			}
		})
	}
}

func TestParseAttrPathNUL(t *testing.T) {
	for _, s := range []string{"hello\x00evil", "\"a\x00b\"", "\x00", "a.\"\\\x00\""} {
		t.Run(strings.ReplaceAll(s, "\x00", "NUL"), func(t *testing.T) {
			got, err := ParseAttrPath(s)
			if err == nil || !strings.Contains(err.Error(), "NUL") {
				t.Errorf("ParseAttrPath(%q) = %q, %v; want an error about the NUL byte", s, got, err)
			}
		})
	}
}

// A hostile NIX_PATH name that reached the expression would not run: it is
// looked up as a name on the NIX_PATH, and not found.
func TestExprHostileNixPathDoesNotRun(t *testing.T) {
	needNix(t)
	dir := t.TempDir()
	expr := Expr("x86_64-linux", &PackageSet{Kind: NixPath, Ref: hostileNixPathName}, nil)
	writeExpr(t, dir, expr)
	got, err := nixInstantiate(t, dir, []string{"NIX_PATH="}, "--eval", "--expr", "builtins.seq (import ./build.nix).pkgs true")
	if err == nil {
		t.Fatalf("evaluated to %s, want an error", got)
	}
	if strings.Contains(got, "INJECTED-RAN") {
		t.Fatalf("the NIX_PATH name ran as Nix code:\n%s", got)
	}
	if !strings.Contains(got, "was not found in the Nix search path") {
		t.Errorf("error:\n%s\nwant nix's lookup failure", got)
	}
}

package nixllb

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// metaPkgs has the shapes of meta.license and friends that nixpkgs has,
// on fake derivations with fixed store paths (nothing is instantiated).
const metaPkgs = `{ system ? "none" }:
let
  sp = h: n: "/nix/store/${h}-${n}";
  mk = { name, outs ? [ "out" ], meta ? { }, extra ? { } }:
    let
      self = { type = "derivation"; inherit name meta; outputs = outs; outputName = builtins.head outs;
        drvPath = sp "d0000000000000000000000000000000" "${name}.drv";
        outPath = sp "00000000000000000000000000000000" name; }
        // extra
        // builtins.listToAttrs (map (o: { name = o; value = self // { outputName = o;
             outPath = sp "00000000000000000000000000000000" (if o == "out" then name else "${name}-${o}"); }; }) outs);
    in self;
  licenses = { mit = { spdxId = "MIT"; fullName = "MIT License"; free = true; };
               custom = { shortName = "custom"; fullName = "A Custom License"; }; };
in {
  hello = mk { name = "hello-2.12"; extra = { pname = "hello"; version = "2.12"; };
    meta = { description = "Says hello"; homepage = "https://example.org/hello"; license = licenses.mit; }; };
  libfoo = mk { name = "libfoo-1.2"; outs = [ "out" "dev" ];
    meta = { homepage = [ "https://a.example" "https://b.example" ]; license = [ licenses.mit licenses.custom ]; }; };
  strlic = mk { name = "strlic"; meta = { license = "BSD-3-Clause"; }; };
  broken = mk { name = "broken-1"; meta = { description = throw "no description"; license = throw "nope"; }; };
  bare = mk { name = "bare"; meta = null; };
}
`

// meta.nix reads what nixpkgs-shaped packages say of themselves, and
// leaves out what fails to evaluate instead of failing.
func TestMetaExprEvaluatesWithNix(t *testing.T) {
	needNix(t)
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "fake"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "fake", "default.nix"), []byte(metaPkgs), 0o644))
	attr := func(p ...string) Installable { return Installable{Kind: Attr, Attr: p} }
	groups := []Group{
		{Where: "line 1", Installables: []Installable{attr("hello"), attr("libfoo", "dev")}},
		{Where: "line 2", Installables: []Installable{attr("strlic"), attr("broken"), attr("bare")}},
	}
	writeExpr(t, dir, Expr("x86_64-linux", &PackageSet{Kind: NixPath, Ref: "fakepkgs"}, groups))
	must(os.WriteFile(filepath.Join(dir, "meta.nix"), metaExpr, 0o644))
	out, err := nixInstantiate(t, dir, []string{"NIX_PATH=fakepkgs=" + filepath.Join(dir, "fake")},
		"--eval", "--strict", "--json", "meta.nix", "--arg", "build", "./build.nix")
	if err != nil {
		t.Fatalf("nix-instantiate: %v\n%s", err, out)
	}
	m, err := ReadMetadata(map[string][]byte{MetaPackages: []byte(out), MetaNixVersion: []byte("nix (Nix) 2.8.0\n")})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	const h = "/nix/store/00000000000000000000000000000000-"
	const d = "/nix/store/d0000000000000000000000000000000-"
	want := &Metadata{NixVersion: "2.8.0", Packages: []PackageMeta{
		{Group: 1, Path: h + "bare", Output: "out", Name: "bare", DrvPath: d + "bare.drv"},
		{Group: 1, Path: h + "broken-1", Output: "out", Name: "broken-1", DrvPath: d + "broken-1.drv"},
		{Group: 0, Path: h + "hello-2.12", Output: "out", Name: "hello-2.12", Pname: "hello", Version: "2.12", DrvPath: d + "hello-2.12.drv",
			Description: "Says hello", Homepage: []string{"https://example.org/hello"}, Licenses: []License{{SPDXID: "MIT", Name: "MIT License"}}},
		{Group: 0, Path: h + "libfoo-1.2-dev", Output: "dev", Name: "libfoo-1.2", DrvPath: d + "libfoo-1.2.drv",
			Homepage: []string{"https://a.example", "https://b.example"}, Licenses: []License{{SPDXID: "MIT", Name: "MIT License"}, {Name: "A Custom License"}}},
		{Group: 1, Path: h + "strlic", Output: "out", Name: "strlic", DrvPath: d + "strlic.drv", Licenses: []License{{Name: "BSD-3-Clause"}}},
	}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got  %+v\nwant %+v", m, want)
	}
}

func TestReadMetadataRejectsBadPaths(t *testing.T) {
	for name, data := range map[string]string{
		"not a store path": `[{"group":"g0","path":"/etc/passwd"}]`,
		"bad group":        `[{"group":"x","path":"/nix/store/00000000000000000000000000000000-a"}]`,
		"not json":         `error: something`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ReadMetadata(map[string][]byte{MetaPackages: []byte(data)}); err == nil {
				t.Error("want an error")
			}
		})
	}
}

// nix path-info's narHash and deriver reach PathInfo in both of its formats.
func TestPathInfoHashAndDeriver(t *testing.T) {
	const p = "/nix/store/00000000000000000000000000000000-a"
	const drv = "/nix/store/d0000000000000000000000000000000-a.drv"
	for name, data := range map[string]string{
		"nix 2.8 list":    `[{"path":"` + p + `","narHash":"sha256-AAAA","narSize":3,"references":[],"deriver":"` + drv + `"}]`,
		"nix 2.19 object": `{"` + p + `":{"narHash":"sha256-AAAA","narSize":3,"references":[],"deriver":"d0000000000000000000000000000000-a.drv"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			c, err := ParseClosure([]byte(p), []byte(p), nil, []byte(data))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Info[p]; got.NarHash != "sha256-AAAA" || got.Deriver != drv || !strings.HasSuffix(got.Path, "-a") {
				t.Errorf("got %+v", got)
			}
		})
	}
}

// The build closure's lines are read by derivation, sorted; a bad line or
// path is an error, not a half-read closure.
func TestReadBuildClosure(t *testing.T) {
	const d = "/nix/store/d0000000000000000000000000000000-hello-2.12.drv"
	const s = "/nix/store/s0000000000000000000000000000000-hello-2.12.tar.gz"
	got, err := ReadBuildClosure([]byte(d + " " + s + "\n" + d + " " + d + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]string{d: {d, s}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{d + "\n", d + " /etc/passwd\n", "x " + s + "\n"} {
		if _, err := ReadBuildClosure([]byte(bad)); err == nil || !strings.Contains(err.Error(), MetaBuildClosure) {
			t.Errorf("ReadBuildClosure(%q): %v, want an error naming %s", bad, err, MetaBuildClosure)
		}
	}
}

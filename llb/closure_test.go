package nixllb

import (
	"crypto/sha256"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fakeHash is a valid-looking store path hash, the same for the same name.
func fakeHash(name string) string {
	sum := sha256.Sum256([]byte(name))
	var b strings.Builder
	for _, c := range sum[:32] {
		b.WriteByte(NixBase32[int(c)%32])
	}
	return b.String()
}

// sp is the store path of a name, with a fake hash.
func sp(name string) string { return StoreDir + "/" + fakeHash(name) + "-" + name }

func TestFakeHash(t *testing.T) {
	for _, name := range []string{"a", "glibc-2.39", "hello"} {
		if err := ValidateStorePath(sp(name)); err != nil {
			t.Errorf("sp(%q): %v", name, err)
		}
	}
}

func TestValidateStorePath(t *testing.T) {
	const h = "0123456789abcdfghijklmnpqrsvwxyz" // every hash character
	valid := []struct {
		name string
		path string
	}{
		{name: "simple", path: "/nix/store/" + h + "-hello-2.12.1"},
		{name: "plus", path: "/nix/store/" + h + "-gcc-c++-13"},
		{name: "question mark", path: "/nix/store/" + h + "-what?"},
		{name: "equals", path: "/nix/store/" + h + "-a=b"},
		{name: "dots inside", path: "/nix/store/" + h + "-python3.11-requests-2.31.0.dist"},
		{name: "underscore", path: "/nix/store/" + h + "-_under_score_"},
		{name: "dash", path: "/nix/store/" + h + "--"},
		{name: "upper case", path: "/nix/store/" + h + "-Hello"},
		{name: "dot dot inside", path: "/nix/store/" + h + "-a..b"},
		{name: "one character", path: "/nix/store/" + h + "-x"},
		{name: "drv", path: "/nix/store/" + h + "-hello.drv"},
		{name: "fake hash", path: sp("openssl-3.0.13-lib")},
	}
	for _, tt := range valid {
		t.Run("valid/"+tt.name, func(t *testing.T) {
			if err := ValidateStorePath(tt.path); err != nil {
				t.Errorf("ValidateStorePath(%q) = %v, want nil", tt.path, err)
			}
		})
	}
	invalid := []struct {
		name string
		path string
	}{
		{name: "empty", path: ""},
		{name: "store dir", path: "/nix/store"},
		{name: "store dir slash", path: "/nix/store/"},
		{name: "hash only", path: "/nix/store/" + h},
		{name: "hash and dash", path: "/nix/store/" + h + "-"},
		{name: "hash 31 long", path: "/nix/store/" + h[1:] + "-hello"},
		{name: "hash 33 long", path: "/nix/store/0" + h + "-hello"},
		{name: "hash with e", path: "/nix/store/" + "e" + h[1:] + "-hello"},
		{name: "hash with o", path: "/nix/store/" + "o" + h[1:] + "-hello"},
		{name: "hash with u", path: "/nix/store/" + "u" + h[1:] + "-hello"},
		{name: "hash with t", path: "/nix/store/" + "t" + h[1:] + "-hello"},
		{name: "hash upper case", path: "/nix/store/" + strings.ToUpper(h) + "-hello"},
		{name: "no dash", path: "/nix/store/" + h + "hello"},
		{name: "name dot", path: "/nix/store/" + h + "-."},
		{name: "name dot dot", path: "/nix/store/" + h + "-.."},
		{name: "name starts with dot", path: "/nix/store/" + h + "-.hidden"},
		{name: "traversal", path: "/nix/store/" + h + "-x/../../etc"},
		{name: "traversal to passwd", path: "/nix/store/" + h + "-x/../../../etc/passwd"},
		{name: "file inside", path: "/nix/store/" + h + "-hello/bin/hello"},
		{name: "trailing slash", path: "/nix/store/" + h + "-hello/"},
		{name: "double slash", path: "/nix/store//" + h + "-hello"},
		{name: "relative", path: "nix/store/" + h + "-hello"},
		{name: "base name", path: h + "-hello"},
		{name: "other store dir", path: "/gnu/store/" + h + "-hello"},
		{name: "other dir", path: "/etc/" + h + "-hello"},
		{name: "under the store dir", path: "/nix/store/.links/" + h + "-hello"},
		{name: "space", path: "/nix/store/" + h + "-hello world"},
		{name: "newline", path: "/nix/store/" + h + "-hello\n"},
		{name: "leading space", path: " /nix/store/" + h + "-hello"},
		{name: "non-ASCII", path: "/nix/store/" + h + "-héllo"},
		{name: "NUL", path: "/nix/store/" + h + "-a\x00b"},
	}
	for _, tt := range invalid {
		t.Run("invalid/"+tt.name, func(t *testing.T) {
			err := ValidateStorePath(tt.path)
			if err == nil {
				t.Fatalf("ValidateStorePath(%q) = nil, want an error", tt.path)
			}
			if !strings.Contains(err.Error(), "not a nix store path") {
				t.Errorf("ValidateStorePath(%q) = %q, want it to say \"not a nix store path\"", tt.path, err)
			}
		})
	}
}

// FuzzValidateStorePath holds ValidateStorePath to its specification, a
// regular expression too slow for every path of every build.
func FuzzValidateStorePath(f *testing.F) {
	spec := regexp.MustCompile(`^/nix/store/[0-9abcdfghijklmnpqrsvwxyz]{32}-[a-zA-Z0-9+\-._?=]+$`)
	const h = "0123456789abcdfghijklmnpqrsvwxyz"
	for _, p := range []string{"", "/nix/store/" + h + "-a", "/nix/store/" + h + "-.a", "/nix/store/" + h + "-a/b", "/nix/store/" + h + "-"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		want := spec.MatchString(p) && !strings.HasPrefix(p[min(len(p), len("/nix/store/")+33):], ".")
		if got := ValidateStorePath(p) == nil; got != want {
			t.Errorf("ValidateStorePath(%q) accepts: %v, the specification: %v", p, got, want)
		}
	})
}

func TestStorePathName(t *testing.T) {
	tests := []struct {
		path string
		want string
	}{
		{path: sp("hello-2.12.1"), want: "hello-2.12.1"},
		{path: sp("x"), want: "x"},
		{path: "short", want: "short"},
	}
	for _, tt := range tests {
		if got := StorePathName(tt.path); got != tt.want {
			t.Errorf("StorePathName(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func lines(paths ...string) []byte { return []byte(strings.Join(paths, "\n") + "\n") }

func TestParseClosure(t *testing.T) {
	var (
		hello   = sp("hello-2.12.1")
		curl    = sp("curl-8.7.1-bin")
		libcurl = sp("curl-8.7.1")
		glibc   = sp("glibc-2.39-52")
		openssl = sp("openssl-3.0.13")
		extra   = sp("not-in-the-closure")
	)
	roots := lines(hello, curl)
	closure := lines(hello, curl, libcurl, glibc, openssl)
	bins := lines(hello, curl)
	want := &Closure{
		Roots: sortedCopy(hello, curl),
		Paths: sortedCopy(hello, curl, libcurl, glibc, openssl),
		Bins:  []string{curl, hello}, // by name: curl-... before hello-...
		Info: map[string]PathInfo{
			hello:   {Path: hello, NarSize: 100, References: sortedCopy(glibc)},
			curl:    {Path: curl, NarSize: 200, References: sortedCopy(glibc, libcurl)},
			libcurl: {Path: libcurl, NarSize: 300, References: sortedCopy(glibc, openssl)},
			glibc:   {Path: glibc, NarSize: 400, References: []string{}},
			openssl: {Path: openssl, NarSize: 500, References: sortedCopy(glibc)},
		},
	}
	if len(want.Bins) != 2 || StorePathName(want.Bins[0]) > StorePathName(want.Bins[1]) {
		t.Fatal("bad test: Bins not sorted by name")
	}

	// nix 2.8 to 2.18: a list of objects with "path"; references are full
	// paths and include the path itself when it refers to itself.
	listJSON := `[
  {"path":"` + hello + `","registrationTime":1,"narSize":100,"references":["` + glibc + `","` + hello + `"],"valid":true},
  {"path":"` + curl + `","narSize":200,"references":["` + libcurl + `","` + glibc + `"]},
  {"path":"` + libcurl + `","narSize":300,"references":["` + openssl + `","` + glibc + `","` + extra + `"]},
  {"path":"` + glibc + `","narSize":400,"references":["` + glibc + `"]},
  {"path":"` + openssl + `","narSize":500,"references":["` + glibc + `"]},
  {"path":"` + extra + `","narSize":600,"references":[]}
]`
	// nix >= 2.19: an object keyed by path; newer ones may give references
	// as base names, and null for a path that is not valid.
	base := func(p string) string { return strings.TrimPrefix(p, StoreDir+"/") }
	objectJSON := `{
  "` + glibc + `": {"narSize":400,"references":["` + base(glibc) + `"],"signatures":[]},
  "` + hello + `": {"narSize":100,"references":["` + glibc + `","` + hello + `"]},
  "` + curl + `": {"narSize":200,"references":["` + base(libcurl) + `","` + base(glibc) + `"]},
  "` + libcurl + `": {"narSize":300,"references":["` + openssl + `","` + base(glibc) + `","` + base(extra) + `"]},
  "` + openssl + `": {"narSize":500,"references":["` + glibc + `"]},
  "` + extra + `": null
}`
	for _, tt := range []struct {
		name     string
		pathInfo string
	}{
		{name: "list", pathInfo: listJSON},
		{name: "object", pathInfo: objectJSON},
		{name: "object with surrounding space", pathInfo: "\n  " + objectJSON + "\n\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseClosure(roots, closure, bins, []byte(tt.pathInfo))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ParseClosure:\n got %+v\nwant %+v", got, want)
			}
			if got.Size() != 1500 {
				t.Errorf("Size() = %d, want 1500", got.Size())
			}
		})
	}

	t.Run("lists are cleaned", func(t *testing.T) {
		// Blank lines, CRLF, surrounding space and repeats are fine.
		messy := []byte("\r\n  " + hello + "  \r\n" + hello + "\n\n" + glibc)
		got, err := ParseClosure(messy, messy, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if w := sortedCopy(hello, glibc); !reflect.DeepEqual(got.Roots, w) || !reflect.DeepEqual(got.Paths, w) {
			t.Errorf("Roots %q, Paths %q, want %q", got.Roots, got.Paths, w)
		}
		if len(got.Bins) != 0 || len(got.Info) != 0 || got.Size() != 0 {
			t.Errorf("Bins %q, Info %v, Size %d, want none", got.Bins, got.Info, got.Size())
		}
	})

	t.Run("no path info", func(t *testing.T) {
		for _, pi := range []string{"", "  \n", "[]", "{}"} {
			got, err := ParseClosure(roots, closure, bins, []byte(pi))
			if err != nil {
				t.Fatalf("path-info %q: %v", pi, err)
			}
			if len(got.Info) != 0 {
				t.Errorf("path-info %q gave Info %v", pi, got.Info)
			}
		}
	})

	bad := "/nix/store/" + fakeHash("bad") + "-x/../../etc"
	errorCases := []struct {
		name                           string
		roots, closure, bins, pathInfo string
		want                           string
	}{
		{name: "bad root", roots: string(lines(hello, bad)), closure: string(closure), want: "roots list"},
		{name: "bad closure path", roots: string(roots), closure: string(lines(hello, curl, "/etc/passwd")), want: "closure list"},
		{name: "bad bin", roots: string(roots), closure: string(closure), bins: string(lines(hello, "relative/path")), want: "bins list"},
		{name: "trailing slash in closure", roots: string(roots), closure: string(closure) + hello + "/\n", want: "not a nix store path"},
		{name: "empty roots", roots: "\n", closure: string(closure), want: "empty closure"},
		{name: "empty closure", roots: string(roots), closure: "", want: "empty closure"},
		{name: "root outside closure", roots: string(lines(hello, extra)), closure: string(closure), want: "outside its closure"},
		{name: "bad JSON", roots: string(roots), closure: string(closure), pathInfo: "[{", want: "reading nix path-info"},
		{name: "JSON of the wrong shape", roots: string(roots), closure: string(closure), pathInfo: `"a string"`, want: "reading nix path-info"},
		{name: "JSON references not a list", roots: string(roots), closure: string(closure), pathInfo: `[{"path":"` + hello + `","references":"x"}]`, want: "reading nix path-info"},
	}
	for _, tt := range errorCases {
		t.Run("error/"+tt.name, func(t *testing.T) {
			got, err := ParseClosure([]byte(tt.roots), []byte(tt.closure), []byte(tt.bins), []byte(tt.pathInfo))
			if err == nil {
				t.Fatalf("ParseClosure succeeded with %+v, want an error containing %q", got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseClosure error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func sortedCopy(paths ...string) []string {
	out := slices.Clone(paths)
	slices.Sort(out)
	return out
}

// metaFiles are the files of a good nix stage's Meta: hello (with bin) and
// glibc, with a CA bundle in cacert.
func metaFiles() map[string][]byte {
	hello, glibc, cacert := sp("hello-2.12.1"), sp("glibc-2.39"), sp("nss-cacert-3.98")
	return map[string][]byte{
		MetaRoots:      lines(hello, cacert),
		MetaClosure:    lines(hello, glibc, cacert),
		MetaBins:       lines(hello),
		MetaPathInfo:   []byte("[]"),
		MetaBinEntries: []byte(hello + "\thello\n"),
		MetaFeatures:   []byte("cacert\t" + cacert + "/etc/ssl/certs/ca-bundle.crt\n"),
	}
}

func TestReadClosure(t *testing.T) {
	hello, cacert := sp("hello-2.12.1"), sp("nss-cacert-3.98")
	tests := []struct {
		name string
		// edit changes the good files.
		edit        func(files map[string][]byte)
		wantEntries map[string][]string
		wantCACert  string
	}{
		{
			name:        "good",
			edit:        func(map[string][]byte) {},
			wantEntries: map[string][]string{hello: {"hello"}},
			wantCACert:  cacert + "/etc/ssl/certs/ca-bundle.crt",
		},
		{
			name: "a bin name twice is one command",
			edit: func(f map[string][]byte) {
				f[MetaBinEntries] = []byte(hello + "\thello\n" + hello + "\tgreet\n" + hello + "\thello\n")
			},
			wantEntries: map[string][]string{hello: {"greet", "hello"}},
			wantCACert:  cacert + "/etc/ssl/certs/ca-bundle.crt",
		},
		{
			name: "names no link can have are left out",
			edit: func(f map[string][]byte) {
				f[MetaBinEntries] = []byte(hello + "\thello\n" + hello + "\t\n" + hello + "\t.\n" + hello + "\t..\n" +
					hello + "\ta/b\n" + hello + "\ta\tb\n" + hello + "\tnul\x00\n" + hello + "\tcr\r\n")
			},
			wantEntries: map[string][]string{hello: {"hello"}},
			wantCACert:  cacert + "/etc/ssl/certs/ca-bundle.crt",
		},
		{
			name:        "no features, no entries",
			edit:        func(f map[string][]byte) { f[MetaFeatures], f[MetaBinEntries] = nil, nil },
			wantEntries: map[string][]string{},
		},
		{
			name: "the image's CA bundle is a path of the nix image",
			edit: func(f map[string][]byte) {
				f[MetaFeatures] = []byte(FeatureImageCACert + "\t/etc/ssl/certs/ca-certificates.crt\n")
			},
			wantEntries: map[string][]string{hello: {"hello"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := metaFiles()
			tt.edit(files)
			c, err := ReadClosure(files)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.BinEntries, tt.wantEntries) {
				t.Errorf("BinEntries = %q, want %q", c.BinEntries, tt.wantEntries)
			}
			if got := c.Feature(FeatureCACert); got != tt.wantCACert {
				t.Errorf("CA bundle %q, want %q", got, tt.wantCACert)
			}
		})
	}
}

// layerLine is a line of MetaLayers, of 100 bytes a path.
func layerLine(paths ...string) string {
	return string(FormatLayers([]Layer{{Archive: archiveName(paths), Size: 100 * int64(len(paths)), Paths: paths}}))
}

// The layers the archiver lists come back in their order, each with its
// paths in theirs.
func TestReadClosureLayers(t *testing.T) {
	hello, glibc, cacert := sp("hello-2.12.1"), sp("glibc-2.39"), sp("nss-cacert-3.98")
	files := metaFiles()
	files[MetaLayers] = []byte(layerLine(glibc) + layerLine(hello, cacert))
	c, err := ReadClosure(files)
	if err != nil {
		t.Fatal(err)
	}
	want := []Layer{{archiveName([]string{glibc}), 100, []string{glibc}}, {archiveName([]string{cacert, hello}), 200, []string{hello, cacert}}}
	if !reflect.DeepEqual(c.Layers, want) {
		t.Errorf("Layers = %v, want %v", c.Layers, want)
	}
	// Its size is its layers', path-info or not.
	if c.Size() != 300 {
		t.Errorf("Size() = %d, want the layers' 300", c.Size())
	}
	// A frontend that needs no path-info reads the paths in the layers
	// only: the same closure, checked as much.
	noList := maps.Clone(files)
	delete(noList, MetaClosure)
	delete(noList, MetaPathInfo)
	c2, err := ReadClosure(noList)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c2.Paths, c.Paths) || !reflect.DeepEqual(c2.Layers, c.Layers) || !reflect.DeepEqual(c2.Roots, c.Roots) {
		t.Errorf("without the closure list: paths %v, layers %v; want %v, %v", c2.Paths, c2.Layers, c.Paths, c.Layers)
	}
	for _, bad := range []struct{ layers, want string }{
		{layerLine(glibc) + layerLine(hello, glibc, cacert), "in two layers"},
		{layerLine(glibc, cacert), "outside its closure"}, // the root hello is in no layer
		{layerLine(glibc) + layerLine(hello, cacert) + "x\t1\t" + glibc + "\n", "bad line"},
		{"", "empty closure"},
	} {
		noList[MetaLayers] = []byte(bad.layers)
		if _, err := ReadClosure(noList); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("layers %q without the closure list: %v, want %q", bad.layers, err, bad.want)
		}
	}
	files[MetaLayers] = nil
	if c, err := ReadClosure(files); err != nil || c.Layers != nil {
		t.Errorf("without an archiver: %v, %v", err, c.Layers)
	}
}

// What a broken or hostile nix stage reports is an error that says which
// file is wrong, never a panic and never a path outside the closure.
func TestReadClosureHostile(t *testing.T) {
	hello, glibc, cacert := sp("hello-2.12.1"), sp("glibc-2.39"), sp("nss-cacert-3.98")
	other := sp("not-in-the-closure")
	h := fakeHash("x")
	tests := []struct {
		name    string
		file    string // the Meta file replaced
		content string
		want    string
	}{
		{name: "root outside the store", file: MetaRoots, content: "/etc/passwd\n", want: "roots list"},
		{name: "root with ..", file: MetaRoots, content: "/nix/store/" + h + "-x/../../etc\n", want: "not a nix store path"},
		{name: "root that is the store dir's parent", file: MetaRoots, content: "/nix/store/..\n", want: "not a nix store path"},
		{name: "root with a NUL", file: MetaRoots, content: hello + "\x00\n", want: "not a nix store path"},
		{name: "root with a NUL inside", file: MetaRoots, content: "/nix/store/" + h + "-a\x00b\n", want: "not a nix store path"},
		{name: "root with a blank", file: MetaRoots, content: "/nix/store/" + h + "-a b\n", want: "not a nix store path"},
		{name: "root not in the closure", file: MetaRoots, content: string(lines(hello, other)), want: "outside its closure"},
		{name: "closure path outside the store", file: MetaClosure, content: hello + "\n/tmp/x\n", want: "closure list"},
		{name: "closure path under the store dir", file: MetaClosure, content: hello + "\n/nix/store/.links/" + h + "-x\n", want: "closure list"},
		{name: "closure path inside a store path", file: MetaClosure, content: hello + "\n" + hello + "/bin\n", want: "closure list"},
		{name: "empty closure", file: MetaClosure, content: "", want: "empty closure"},
		{name: "empty roots", file: MetaRoots, content: "\n\n", want: "empty closure"},
		{name: "bin not a root", file: MetaBins, content: glibc + "\n", want: "not a requested output"},
		{name: "bin not in the closure", file: MetaBins, content: other + "\n", want: "not a requested output"},
		{name: "bin outside the store", file: MetaBins, content: "/usr\n", want: "bins list"},
		{name: "bin entry of a path that is not a root", file: MetaBinEntries, content: glibc + "\tls\n", want: "bin-entries list: bad line"},
		{name: "bin entry of a path outside the closure", file: MetaBinEntries, content: other + "\tls\n", want: "bin-entries list: bad line"},
		{name: "bin entry without a tab", file: MetaBinEntries, content: hello + " hello\n", want: "bin-entries list: bad line"},
		{name: "bin entry split by a newline in its name", file: MetaBinEntries, content: hello + "\tnew\nline\n", want: "bin-entries list: bad line"},
		{name: "feature outside the store", file: MetaFeatures, content: "cacert\t/etc/shadow\n", want: "features list"},
		{name: "feature in a path outside the closure", file: MetaFeatures, content: "cacert\t" + other + "/etc/ssl/certs/ca-bundle.crt\n", want: "not in the closure"},
		{name: "feature leaving its path", file: MetaFeatures, content: "cacert\t" + cacert + "/../../../etc/shadow\n", want: "not in the closure"},
		{name: "feature ending in ..", file: MetaFeatures, content: "zoneinfo\t" + cacert + "/..\n", want: "not in the closure"},
		{name: "feature with a dot", file: MetaFeatures, content: "zoneinfo\t" + cacert + "/./x\n", want: "not in the closure"},
		{name: "feature with a double slash", file: MetaFeatures, content: "zoneinfo\t" + cacert + "//x\n", want: "not in the closure"},
		{name: "feature with a NUL", file: MetaFeatures, content: "zoneinfo\t" + cacert + "/x\x00y\n", want: "not in the closure"},
		{name: "feature with a CR", file: MetaFeatures, content: "zoneinfo\t" + cacert + "/x\r\n", want: "not in the closure"},
		{name: "feature prefix of a path", file: MetaFeatures, content: "zoneinfo\t" + cacert + "x/share\n", want: "not in the closure"},
		{name: "feature without a tab", file: MetaFeatures, content: "cacert " + cacert + "\n", want: "features list: bad line"},
		{name: "layer of a path outside the closure", file: MetaLayers, content: layerLine(hello, glibc, cacert) + layerLine(other), want: "not in the closure"},
		{name: "layer with a path twice", file: MetaLayers, content: layerLine(hello, glibc) + layerLine(cacert, glibc), want: "in two layers"},
		{name: "layers without a path", file: MetaLayers, content: layerLine(hello, glibc), want: "has 2 of the closure's 3 paths"},
		{name: "layer archive named otherwise", file: MetaLayers, content: "../../etc/passwd\t0\t" + hello + "\t" + glibc + "\t" + cacert + "\n", want: "layers list: bad line"},
		{name: "layer archive of other paths", file: MetaLayers, content: archiveName([]string{hello}) + "\t0\t" + hello + "\t" + glibc + "\t" + cacert + "\n", want: "layers list: bad line"},
		{name: "layer without paths", file: MetaLayers, content: archiveName(nil) + "\t0\n" + layerLine(hello, glibc, cacert), want: "layers list: bad line"},
		{name: "layer without a size", file: MetaLayers, content: archiveName([]string{hello, glibc, cacert}) + "\t" + hello + "\t" + glibc + "\t" + cacert + "\n", want: "layers list: bad line"},
		{name: "layer of a negative size", file: MetaLayers, content: archiveName([]string{hello, glibc, cacert}) + "\t-1\t" + hello + "\t" + glibc + "\t" + cacert + "\n", want: "layers list: bad line"},
		{name: "path-info not JSON", file: MetaPathInfo, content: "{", want: "reading nix path-info"},
		{name: "path-info negative size", file: MetaPathInfo, content: `[{"path":"` + hello + `","narSize":-1}]`, want: "negative size"},
		{name: "huge closure list", file: MetaClosure, content: strings.Repeat(hello+"\n", MaxMetaFileSize/len(hello)+1), want: "larger than 64 MiB"},
		{name: "huge path-info", file: MetaPathInfo, content: "[" + strings.Repeat(" ", MaxMetaFileSize) + "]", want: "larger than 64 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := metaFiles()
			files[tt.file] = []byte(tt.content)
			var (
				c   *Closure
				err error
			)
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("ReadClosure panicked: %v", p)
					}
				}()
				c, err = ReadClosure(files)
			}()
			if err == nil {
				t.Fatalf("ReadClosure succeeded (%+v), want an error containing %q", c, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

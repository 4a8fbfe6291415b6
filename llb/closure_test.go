package nixllb

import (
	"crypto/sha256"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// nixBase32 is the alphabet of nix's store path hashes: no e, o, u or t.
const nixBase32 = "0123456789abcdfghijklmnpqrsvwxyz"

// fakeHash is a valid-looking store path hash, the same for the same name.
func fakeHash(name string) string {
	sum := sha256.Sum256([]byte(name))
	var b strings.Builder
	for _, c := range sum[:32] {
		b.WriteByte(nixBase32[int(c)%32])
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
  {"path":"` + hello + `","narHash":"sha256:x","narSize":100,"references":["` + glibc + `","` + hello + `"],"valid":true},
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

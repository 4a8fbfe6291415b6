package sbom

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nixfile/nixfile/internal/golden"
	nixllb "github.com/nixfile/nixfile/llb"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"
)

func TestNarHashHex(t *testing.T) {
	// The same hash in each form nix prints, from `nix hash to-base32` and
	// `nix hash to-base16` of nix 2.8.
	const want = "10551daed7fa467d0b58826e7eb9a0f2af7d693de319f2ef775fffcda244b9f6"
	tests := []struct {
		name, in, want string
	}{
		{name: "sri", in: "sha256-EFUdrtf6Rn0LWIJufrmg8q99aT3jGfLvd1//zaJEufY=", want: want},
		{name: "base32", in: "sha256:1xmr8jicvzszfzpz46g37mlpvbzjl2wpwvl2b05psipssyp1sm8h", want: want},
		{name: "hex", in: "sha256:" + strings.ToUpper(want), want: want},
		{name: "base32 of 1", in: "sha256:0080000000000000000000000000000000000000000000000000",
			want: "0000000000000000000000000000000000000000000000000000000000000001"},
		{name: "base32 of ff00...", in: "sha256:000000000000000000000000000000000000000000000000007z",
			want: "ff00000000000000000000000000000000000000000000000000000000000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := narHashHex(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("narHashHex(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "md5:abc", "sha256-notbase64!", "sha256:xyz", "sha256:e080000000000000000000000000000000000000000000000000", "sha512-AAAA"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if got, err := narHashHex(bad); err == nil {
				t.Errorf("narHashHex(%q) = %s, want an error", bad, got)
			}
		})
	}
}

func TestSplitName(t *testing.T) {
	tests := []struct {
		in, name, version, output string
	}{
		{in: "hello-2.12.1", name: "hello", version: "2.12.1"},
		{in: "hello", name: "hello"},
		{in: "greet", name: "greet"},
		{in: "glibc-2.34-210-bin", name: "glibc", version: "2.34-210", output: "bin"},
		{in: "libfoo-1.2-dev", name: "libfoo", version: "1.2", output: "dev"},
		{in: "foo-lib", name: "foo-lib"},
		{in: "python3.11-requests-2.31.0", name: "python3.11-requests", version: "2.31.0"},
		{in: "odd+name_v1.0-x?=y", name: "odd+name_v1.0-x?=y"},
		{in: "nss-cacert-3.0", name: "nss-cacert", version: "3.0"},
		{in: "iana-etc-20240318", name: "iana-etc", version: "20240318"},
		{in: "foo-_bar", name: "foo", version: "_bar"}, // nix: any non-letter starts the version
		{in: "trailing-", name: "trailing-"},
		{in: "motd.txt", name: "motd.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			name, version := splitName(tc.in)
			version, output := cutOutput(version)
			if name != tc.name || version != tc.version || output != tc.output {
				t.Errorf("got name %q version %q output %q, want %q %q %q", name, version, output, tc.name, tc.version, tc.output)
			}
		})
	}
}

func TestPurl(t *testing.T) {
	tests := []struct {
		name, version, output, hash, want string
	}{
		{name: "hello", version: "2.12.1", want: "pkg:nix/hello@2.12.1"},
		{name: "hello", want: "pkg:nix/hello"},
		{name: "libfoo", version: "1.2", output: "dev", hash: "abc", want: "pkg:nix/libfoo@1.2?hash=abc&output=dev"},
		{name: "libfoo", version: "1.2", output: "out", hash: "abc", want: "pkg:nix/libfoo@1.2?hash=abc"},
		{name: "odd+name_v1.0-x?=y", want: "pkg:nix/odd%2Bname_v1.0-x%3F%3Dy"},
		{name: "a b", version: "1/2", want: "pkg:nix/a%20b@1%2F2"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := purl(tc.name, tc.version, tc.output, tc.hash); got != tc.want {
				t.Errorf("purl = %s, want %s", got, tc.want)
			}
		})
	}
}

// Store paths of the cases: valid nix hashes, names as nixpkgs makes them.
const (
	busybox  = "/nix/store/0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-busybox-1.35.0"
	hello    = "/nix/store/1a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-hello"
	libfoo   = "/nix/store/2a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-libfoo-1.2"
	libfooD  = "/nix/store/3a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-libfoo-1.2-dev"
	odd      = "/nix/store/4a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-odd+name_v1.0-x?=y"
	glibcBin = "/nix/store/5a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-glibc-2.34-210-bin"
	libfooV  = "/nix/store/6a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-libfoo-1.2.drv"
	helloV   = "/nix/store/7a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-hello.drv"
	sriHash  = "sha256-EFUdrtf6Rn0LWIJufrmg8q99aT3jGfLvd1//zaJEufY="
	b32Hash  = "sha256:0080000000000000000000000000000000000000000000000000"
)

var epoch = time.Unix(1700000000, 0).UTC()

var cases = []struct {
	name string
	in   Input
}{
	{
		name: "multiple_outputs",
		in: Input{
			Platform: "linux/amd64",
			Created:  epoch,
			Groups:   []string{"line 2", "line 3"},
			Closure: &nixllb.Closure{
				Roots: []string{hello, libfooD},
				Paths: []string{busybox, hello, libfoo, libfooD},
				Info: map[string]nixllb.PathInfo{
					busybox: {Path: busybox, NarHash: sriHash, NarSize: 1000},
					hello:   {Path: hello, NarHash: b32Hash, References: []string{busybox}, Deriver: helloV},
					libfoo:  {Path: libfoo, NarHash: sriHash, Deriver: libfooV},
					libfooD: {Path: libfooD, NarHash: sriHash, References: []string{libfoo}, Deriver: libfooV},
				},
			},
			Meta: &nixllb.Metadata{
				NixVersion: "2.8.0",
				Packages: []nixllb.PackageMeta{
					{Group: 0, Path: hello, Output: "out", Name: "hello", DrvPath: helloV, Description: "Prints a greeting",
						Homepage: []string{"https://example.org/hello", "https://mirror.example.org/hello"},
						Licenses: []nixllb.License{{SPDXID: "GPL-3.0-or-later", Name: "GNU General Public License v3.0 or later"}}},
					{Group: 1, Path: libfooD, Output: "dev", Name: "libfoo-1.2", Pname: "libfoo", Version: "1.2", DrvPath: libfooV,
						Licenses: []nixllb.License{{SPDXID: "MIT", Name: "MIT License"}, {SPDXID: "Apache-2.0", Name: "Apache License 2.0"}}},
				},
			},
		},
	},
	{
		name: "odd_names",
		in: Input{
			Platform: "linux/arm64",
			Created:  epoch,
			Groups:   []string{"line 1"},
			Closure: &nixllb.Closure{
				Roots: []string{glibcBin, odd},
				Paths: []string{glibcBin, odd},
				Info: map[string]nixllb.PathInfo{
					glibcBin: {Path: glibcBin, NarHash: sriHash},
					odd:      {Path: odd, NarHash: sriHash, References: []string{glibcBin}},
				},
			},
			Meta: &nixllb.Metadata{Packages: []nixllb.PackageMeta{
				{Group: 0, Path: odd, Name: "odd+name_v1.0-x?=y",
					Licenses: []nixllb.License{{Name: "Some Custom License"}, {SPDXID: "MIT", Name: "MIT License"}}},
			}},
		},
	},
	{
		// Older nix without path info, and no metadata: names from the
		// store paths, no checksums, no relationships but DESCRIBES.
		name: "missing_info",
		in: Input{
			Created: time.Unix(0, 0),
			Closure: &nixllb.Closure{
				Roots: []string{hello},
				Paths: []string{busybox, hello},
				Info:  map[string]nixllb.PathInfo{},
			},
		},
	},
}

func init() {
	// The rootfs defaults and COPYs besides the closure.
	cases = append(cases, struct {
		name string
		in   Input
	}{name: "image_files", in: Input{
		Platform: "linux/amd64",
		Created:  epoch,
		Closure: &nixllb.Closure{
			Roots: []string{busybox}, Paths: []string{busybox},
			Info: map[string]nixllb.PathInfo{busybox: {Path: busybox, NarHash: sriHash}},
		},
		Rootfs: []nixllb.Entry{
			{Path: "/etc/passwd", Kind: nixllb.FileEntry, Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/bin/sh\n")},
			{Path: "/etc/group", Kind: nixllb.FileEntry, Mode: 0o644, Data: []byte("root:x:0:\n")},
			{Path: "/root", Kind: nixllb.DirEntry, Mode: 0o700},
			{Path: "/tmp", Kind: nixllb.DirEntry, Mode: 0o777 | os.ModeSticky},
			{Path: "/etc/ssl/certs/ca-bundle.crt", Kind: nixllb.CopyEntry, Mode: 0o644, Source: "/image-cacert"},
			{Path: "/bin/sh", Kind: nixllb.SymlinkEntry, Target: busybox + "/bin/sh"},
			{Path: "/bin/odd name+x", Kind: nixllb.SymlinkEntry, Target: busybox + "/bin/odd name+x"},
		},
		Copies: []Copy{
			{Instruction: "COPY app.conf /etc/app/", Line: "line 3", Sources: []string{"app.conf"}, Dest: "/etc/app/"},
			{Instruction: "COPY a b dir/", Line: "line 5", Sources: []string{"a", "b"}, Dest: "/srv/dir/"},
			{Instruction: "COPY --from=alpine:3 /etc/os-release /etc/", Line: "line 6", Sources: []string{"etc/os-release"}, Dest: "/etc/", From: "alpine:3"},
		},
	}})
	// The build-time closure: derivations and sources, one of them (busybox)
	// in the image as well, related to the outputs they build.
	bc := cases[0].in
	bc.BuildClosure = map[string][]string{
		helloV:  {busybox, helloV, "/nix/store/8a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-gcc-13.2.0.drv", "/nix/store/9a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-hello-2.12.tar.gz"},
		libfooV: {libfooV, "/nix/store/8a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-gcc-13.2.0.drv"},
	}
	cases = append(cases, struct {
		name string
		in   Input
	}{name: "build_closure", in: bc})
	// ROOTFS with nothing but /tmp: a package with no files.
	cases = append(cases, struct {
		name string
		in   Input
	}{name: "only_directories", in: Input{Created: epoch, Rootfs: []nixllb.Entry{{Path: "/tmp", Kind: nixllb.DirEntry, Mode: 0o777 | os.ModeSticky}}}})
	// An image of COPYs alone has no store path.
	cases = append(cases, struct {
		name string
		in   Input
	}{name: "no_closure", in: Input{Platform: "linux/amd64", Created: epoch}})
}

func TestGolden(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := JSON(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", tc.name+".spdx.json"), got)
			again, err := JSON(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, again) {
				t.Error("two conversions of the same input differ")
			}
		})
	}
}

var elementIDRe = regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.\-]+$`)

// Every document reads back with tools-golang, validates, and has what
// SPDX 2.3 requires of each package.
func TestValid(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := JSON(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := spdxjson.Read(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("reading the document back: %v", err)
			}
			if err := spdxlib.ValidateDocument(doc); err != nil {
				t.Fatalf("invalid document: %v", err)
			}
			if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || !strings.HasPrefix(doc.DocumentNamespace, namespaceBase) {
				t.Errorf("document header: %s %s %s", doc.SPDXVersion, doc.DataLicense, doc.DocumentNamespace)
			}
			closure := tc.in.Closure
			if closure == nil {
				closure = &nixllb.Closure{}
			}
			outside := len(tc.in.Copies)
			if len(tc.in.Rootfs) > 0 {
				outside++
			}
			buildOnly := map[string]bool{}
			for _, reqs := range tc.in.BuildClosure {
				for _, r := range reqs {
					if !slices.Contains(closure.Paths, r) {
						buildOnly[r] = true
					}
				}
			}
			outside += len(buildOnly)
			if len(doc.Packages) != len(closure.Paths)+outside {
				t.Errorf("%d packages for %d store paths and %d packages outside the store", len(doc.Packages), len(closure.Paths), outside)
			}
			seen := map[string]bool{}
			for _, p := range doc.Packages {
				id := "SPDXRef-" + string(p.PackageSPDXIdentifier)
				if !elementIDRe.MatchString(id) || seen[id] {
					t.Errorf("package id %q is invalid or not unique", id)
				}
				seen[id] = true
				if p.PackageName == "" || p.PackageDownloadLocation == "" || p.PackageLicenseConcluded == "" {
					t.Errorf("package %s lacks a required field", id)
				}
			}
			described, _ := spdxlib.GetDescribedPackageIDs(doc)
			if len(described) != len(closure.Roots)+outside-len(buildOnly) {
				t.Errorf("the document describes %d packages, want the %d roots and %d outside the store", len(described), len(closure.Roots), outside)
			}
		})
	}
}

// The namespace is a digest of the content: another closure, another
// namespace; the same closure, the same one.
func TestNamespaceFollowsContent(t *testing.T) {
	in := cases[0].in
	a, err := Document(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Platform = "linux/arm64"
	b, err := Document(in)
	if err != nil {
		t.Fatal(err)
	}
	if a.DocumentNamespace == b.DocumentNamespace {
		t.Error("two different documents have the same namespace")
	}
}

func TestBadHashIsAnError(t *testing.T) {
	in := Input{Closure: &nixllb.Closure{
		Roots: []string{hello}, Paths: []string{hello},
		Info: map[string]nixllb.PathInfo{hello: {Path: hello, NarHash: "sha1:abc"}},
	}}
	if _, err := JSON(in); err == nil || !strings.Contains(err.Error(), hello) {
		t.Errorf("got %v, want an error naming %s", err, hello)
	}
}

// Each path of a derivation's closure is a BUILD_DEPENDENCY_OF the
// requested outputs that derivation builds, and of nothing else.
func TestBuildClosureRelationships(t *testing.T) {
	var in Input
	for _, tc := range cases {
		if tc.name == "build_closure" {
			in = tc.in
		}
	}
	doc, err := Document(in)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, r := range doc.Relationships {
		if r.Relationship == "BUILD_DEPENDENCY_OF" {
			got[string(r.RefB.ElementRefID)] = append(got[string(r.RefB.ElementRefID)], string(r.RefA.ElementRefID))
		}
	}
	if n := len(got[string(elementID(hello))]); n != 4 {
		t.Errorf("hello has %d build dependencies, want its derivation closure's 4: %v", n, got)
	}
	if n := len(got[string(elementID(libfooD))]); n != 2 {
		t.Errorf("libfoo.dev has %d build dependencies, want 2: %v", n, got)
	}
	if len(got) != 2 {
		t.Errorf("build dependencies of %d packages, want the 2 requested outputs: %v", len(got), got)
	}
}

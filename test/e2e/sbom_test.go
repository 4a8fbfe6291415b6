package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/moby/buildkit/client"
	"github.com/nixfile/nixfile/frontend/builder"
	"github.com/nixfile/nixfile/internal/testbed"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"
	"github.com/spdx/tools-golang/spdxlib"
	"github.com/tonistiigi/fsutil"
)

// export is a build's OCI export, read as an index: the image manifest
// and, when there is one, its attestation manifest's in-toto statements.
type export struct {
	imageDigest string
	image       *v1.Manifest
	// files is the image's flattened filesystem (filesOf).
	files map[string]fileEntry
	// statements are the attestation manifest's in-toto statements, raw;
	// attestsTo the image digests attestation manifests name.
	statements [][]byte
	attestsTo  []string
	// steps are the names of the steps the build ran or took from cache.
	steps []string
}

// buildExport builds dir in-process, as build does, and reads the whole
// OCI index back: build's reader wants a single image and no attestation.
func buildExport(t *testing.T, bed *testbed.Bed, dir string, attrs map[string]string) *export {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := bed.Client(t)
	fs, err := fsutil.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	ociPath := filepath.Join(t.TempDir(), "image.tar")
	all := map[string]string{"filename": "Nixfile"}
	maps.Copy(all, attrs)
	statusCh := make(chan *client.SolveStatus)
	steps := map[string]bool{}
	var logs bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := range statusCh {
			for _, v := range s.Vertexes {
				steps[v.Name] = true
			}
			for _, l := range s.Logs {
				logs.Write(l.Data)
			}
		}
	}()
	_, err = c.Build(ctx, client.SolveOpt{
		LocalMounts:   map[string]fsutil.FS{"context": fs, "dockerfile": fs},
		FrontendAttrs: all,
		Exports: []client.ExportEntry{{
			Type: client.ExporterOCI,
			// A name, so that the attestations have the image as subject.
			Attrs:  map[string]string{"name": "example.invalid/nixfile/sbom-test:latest"},
			Output: func(map[string]string) (io.WriteCloser, error) { return os.Create(ociPath) },
		}},
	}, "", builder.Build, statusCh)
	<-done
	if err != nil {
		t.Fatalf("build: %v\nlog:\n%s", err, tail(logs.String(), 40))
	}
	out := readExport(t, ociPath)
	out.steps = slices.Sorted(maps.Keys(steps))
	return out
}

// readExport reads an OCI export's image and attestations.
func readExport(t *testing.T, ociPath string) *export {
	t.Helper()
	out := &export{}
	layoutDir := t.TempDir()
	if b, err := exec.Command("tar", "-xf", ociPath, "-C", layoutDir).CombinedOutput(); err != nil {
		t.Fatalf("untar OCI export: %v: %s", err, b)
	}
	root, err := layout.ImageIndexFromPath(layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	// The exporter nests an index holding the image and its attestation
	// manifest when there is one; walk whatever is there.
	var walk func(idx v1.ImageIndex)
	walk = func(idx v1.ImageIndex) {
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range im.Manifests {
			if d.MediaType.IsIndex() {
				child, err := idx.ImageIndex(d.Digest)
				if err != nil {
					t.Fatal(err)
				}
				walk(child)
				continue
			}
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if d.Annotations["vnd.docker.reference.type"] != "attestation-manifest" {
				if out.image != nil {
					t.Fatalf("more than one image in the export")
				}
				out.image, out.imageDigest, out.files = m, d.Digest.String(), filesOf(t, img)
				continue
			}
			out.attestsTo = append(out.attestsTo, d.Annotations["vnd.docker.reference.digest"])
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range layers {
				rc, err := l.Uncompressed()
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
				out.statements = append(out.statements, b)
			}
		}
	}
	walk(root)
	if out.image == nil {
		t.Fatal("no image in the export")
	}
	return out
}

// With `buildx build --sbom=true`, through the frontend image as users
// run it, the OCI export carries the SBOM, and BuildKit runs no scanner.
func TestSBOMThroughBuildx(t *testing.T) {
	bed := testbed.Require(t)
	dir := writeContext(t, map[string]string{"Nixfile": "# syntax=nixfile/nixfile\nPACKAGES greeter\n"})
	tarPath := filepath.Join(t.TempDir(), "app.tar")
	r := buildxBuild(t, dir, "--sbom=true", "--output", "type=oci,dest="+tarPath+",name=example.invalid/nixfile/buildx-sbom:latest")
	if strings.Contains(r.stderr, "generating sbom using") {
		t.Errorf("BuildKit ran its scanner:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "[nix] describe greeter for the SBOM") {
		t.Errorf("no metadata step in the build's output:\n%s", tail(r.stderr, 40))
	}
	e := readExport(t, tarPath)
	subject, predicate := e.sbomOf(t)
	if subject != e.imageDigest {
		t.Errorf("the SBOM's subject is %s, want the image %s", subject, e.imageDigest)
	}
	doc, err := spdxjson.Read(bytes.NewReader(predicate))
	if err != nil {
		t.Fatal(err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Fatal(err)
	}
	byPath, _ := docFacts(t, doc)
	if got, want := slices.Sorted(maps.Keys(byPath)), nixClosure(t, bed, "greeter"); !reflect.DeepEqual(got, want) {
		t.Errorf("SBOM packages %v, want the closure %v", got, want)
	}
}

// sbomOf is the export's one SPDX statement: its subject and predicate.
func (e *export) sbomOf(t *testing.T) (subject string, predicate []byte) {
	t.Helper()
	var found int
	for _, s := range e.statements {
		var st struct {
			Type          string `json:"_type"`
			PredicateType string `json:"predicateType"`
			Subject       []struct {
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
			Predicate json.RawMessage `json:"predicate"`
		}
		if err := json.Unmarshal(s, &st); err != nil {
			t.Fatalf("attestation layer is not an in-toto statement: %v", err)
		}
		if st.PredicateType != "https://spdx.dev/Document" {
			continue
		}
		found++
		if len(st.Subject) != 1 {
			t.Fatalf("SPDX statement has %d subjects, want the image", len(st.Subject))
		}
		subject, predicate = "sha256:"+st.Subject[0].Digest["sha256"], st.Predicate
	}
	if found != 1 {
		t.Fatalf("%d SPDX statements in the export, want 1", found)
	}
	return subject, predicate
}

// nixFacts builds attributes of <nixpkgs> in the nix test image, as
// nixClosure does, and asks nix about paths of their closure by other
// commands than the frontend's: nix-store --dump piped to sha256sum for
// the NAR hash, --query --references for the edges.
func nixFacts(t *testing.T, bed *testbed.Bed, attrs, paths []string) (narSHA256 map[string]string, refs map[string][]string) {
	t.Helper()
	script := `set -e; nix-build '<nixpkgs>' --no-out-link -A ` + strings.Join(attrs, " -A ") + ` >/dev/null
for p in ` + strings.Join(paths, " ") + `; do
  printf 'H %s %s\n' "$p" "$(nix-store --dump "$p" | sha256sum | cut -d' ' -f1)"
  for r in $(nix-store --query --references "$p"); do printf 'R %s %s\n' "$p" "$r"; done
done >/out/facts`
	narSHA256, refs = map[string]string{}, map[string][]string{}
	for _, line := range strings.Split(runNix(t, bed, script, "facts"), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "H":
			narSHA256[f[1]] = f[2]
		case len(f) == 3 && f[0] == "R" && f[1] != f[2]:
			refs[f[1]] = append(refs[f[1]], f[2])
		}
	}
	return narSHA256, refs
}

// docFacts indexes an SPDX document's packages by store path.
func docFacts(t *testing.T, doc *spdx.Document) (byPath map[string]*spdx.Package, byID map[common.ElementID]string) {
	t.Helper()
	byPath, byID = map[string]*spdx.Package{}, map[common.ElementID]string{}
	for _, p := range doc.Packages {
		if !strings.HasPrefix(p.PackageFileName, "/nix/store/") {
			continue // outside the store: the rootfs, a COPY
		}
		if byPath[p.PackageFileName] != nil {
			t.Errorf("store path %s is in the SBOM twice", p.PackageFileName)
		}
		byPath[p.PackageFileName] = p
		byID[p.PackageSPDXIdentifier] = p.PackageFileName
	}
	return byPath, byID
}

// With --sbom, the image gets an SPDX attestation that lists exactly its
// closure, with what nix and the package set know of each path; the image
// is the same as without it, and the same Nixfile gives the same bytes.
func TestSBOMAttestation(t *testing.T) {
	bed := testbed.Require(t)
	nixfile := "PACKAGES hello libfoo.dev\nPACKAGES odd tzdata greeter\nCOPY app.conf /etc/app.conf\n"
	attrs := []string{"hello", "libfoo.dev", "odd", "tzdata", "greeter"}
	dir := writeContext(t, map[string]string{"Nixfile": nixfile, "app.conf": "answer = 42\n"})
	sbomAttrs := map[string]string{"attest:sbom": "", "build-arg:SOURCE_DATE_EPOCH": "1700000000"}

	withSBOM := buildExport(t, bed, dir, sbomAttrs)
	subject, predicate := withSBOM.sbomOf(t)
	if subject != withSBOM.imageDigest || !reflect.DeepEqual(withSBOM.attestsTo, []string{withSBOM.imageDigest}) {
		t.Errorf("the SBOM's subject is %s and its manifest attests to %v, want the image %s", subject, withSBOM.attestsTo, withSBOM.imageDigest)
	}
	for _, s := range withSBOM.steps {
		if strings.Contains(s, "generating sbom using") {
			t.Errorf("BuildKit ran its scanner: %q", s)
		}
	}
	doc, err := spdxjson.Read(bytes.NewReader(predicate))
	if err != nil {
		t.Fatalf("the SBOM does not parse as SPDX JSON: %v\n%s", err, predicate)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Fatalf("invalid SPDX document: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.CreationInfo.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("version %s, created %s; want SPDX-2.3 and SOURCE_DATE_EPOCH", doc.SPDXVersion, doc.CreationInfo.Created)
	}

	t.Run("packages are exactly the closure", func(t *testing.T) {
		want := nixClosure(t, bed, attrs...)
		byPath, _ := docFacts(t, doc)
		got := slices.Sorted(maps.Keys(byPath))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("SBOM packages:\n%s\nwant the closure:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("rootfs files and COPYs", func(t *testing.T) {
		var rootfs, copied *spdx.Package
		for _, p := range doc.Packages {
			switch {
			case p.PackageName == "nixfile rootfs":
				rootfs = p
			case p.PackageName == "COPY app.conf /etc/app.conf":
				copied = p
			}
		}
		if rootfs == nil || copied == nil {
			t.Fatalf("no rootfs package (%v) or COPY package (%v) in the SBOM", rootfs != nil, copied != nil)
		}
		if copied.PackageFileName != "/etc/app.conf" || len(copied.PackageChecksums) != 0 || !strings.Contains(copied.PackageComment, "line 3") {
			t.Errorf("COPY package: file name %q, checksums %v, comment %q", copied.PackageFileName, copied.PackageChecksums, copied.PackageComment)
		}
		contained := map[common.ElementID]bool{}
		for _, r := range doc.Relationships {
			if r.Relationship == common.TypeRelationshipContains && r.RefA.ElementRefID == rootfs.PackageSPDXIdentifier {
				contained[r.RefB.ElementRefID] = true
			}
		}
		var names []string
		for _, f := range doc.Files {
			name := strings.TrimPrefix(f.FileName, "./")
			names = append(names, name)
			if !contained[f.FileSPDXIdentifier] {
				t.Errorf("%s is not CONTAINed by the rootfs package", name)
			}
			img, ok := withSBOM.files[name]
			if !ok {
				t.Errorf("the SBOM lists %s, which is not in the image", name)
				continue
			}
			content := img.data
			if img.typeflag == tar.TypeSymlink {
				content = []byte(img.linkname)
			}
			sum := sha256.Sum256(content)
			var got string
			for _, c := range f.Checksums {
				if c.Algorithm == common.SHA256 {
					got = c.Value
				}
			}
			if got != hex.EncodeToString(sum[:]) {
				t.Errorf("%s: SHA256 %s in the SBOM, %x in the image", name, got, sum)
			}
		}
		for _, want := range []string{"etc/passwd", "etc/group", "bin/hello"} {
			if !slices.Contains(names, want) {
				t.Errorf("the SBOM's rootfs files %v lack %s", names, want)
			}
		}
	})

	t.Run("hashes and references are nix's", func(t *testing.T) {
		byPath, byID := docFacts(t, doc)
		paths := slices.Sorted(maps.Keys(byPath))
		hashes, refs := nixFacts(t, bed, attrs, paths)
		if len(hashes) != len(paths) || len(refs[byPathName(paths, "greeter")]) == 0 {
			t.Fatalf("nix gave %d hashes for %d paths, and greeter's references %v", len(hashes), len(paths), refs[byPathName(paths, "greeter")])
		}
		deps := map[string][]string{}
		var described []string
		for _, r := range doc.Relationships {
			switch r.Relationship {
			case common.TypeRelationshipDependsOn:
				deps[byID[r.RefA.ElementRefID]] = append(deps[byID[r.RefA.ElementRefID]], byID[r.RefB.ElementRefID])
			case common.TypeRelationshipDescribe:
				if p, ok := byID[r.RefB.ElementRefID]; ok {
					described = append(described, p)
				}
			}
		}
		for _, p := range paths {
			pkg := byPath[p]
			if len(pkg.PackageChecksums) != 1 || pkg.PackageChecksums[0].Algorithm != common.SHA256 || pkg.PackageChecksums[0].Value != hashes[p] {
				t.Errorf("%s: checksums %+v, want SHA256 %s", p, pkg.PackageChecksums, hashes[p])
			}
			got, want := slices.Sorted(slices.Values(deps[p])), slices.Sorted(slices.Values(refs[p]))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s DEPENDS_ON %v, want its references %v", p, got, want)
			}
		}
		sort.Strings(described)
		var roots []string
		for _, p := range paths {
			name := p[len("/nix/store/")+33:]
			if slices.Contains([]string{"hello", "libfoo-1.2-dev", "odd+name_v1.0-x?=y", "tzdata-2024a", "greeter"}, name) {
				roots = append(roots, p)
			}
		}
		if !reflect.DeepEqual(described, roots) {
			t.Errorf("the document DESCRIBES %v, want the requested %v", described, roots)
		}
	})

	t.Run("names, versions, licenses and purls", func(t *testing.T) {
		byPath, _ := docFacts(t, doc)
		type want struct{ name, version, license, homepage, purlPrefix string }
		wants := map[string]want{
			"hello":              {name: "hello", license: "MIT", homepage: "https://www.gnu.org/software/hello/manual/", purlPrefix: "pkg:nix/hello?hash="},
			"libfoo-1.2-dev":     {name: "libfoo", version: "1.2", license: "MIT AND Apache-2.0", purlPrefix: "pkg:nix/libfoo@1.2?hash="},
			"libfoo-1.2":         {name: "libfoo", version: "1.2", license: "MIT AND Apache-2.0", purlPrefix: "pkg:nix/libfoo@1.2?hash="},
			"odd+name_v1.0-x?=y": {name: "odd+name", version: "1.0-x", license: "NOASSERTION", purlPrefix: "pkg:nix/odd%2Bname@1.0-x?hash="},
			"tzdata-2024a":       {name: "tzdata", version: "2024a", license: "NOASSERTION", homepage: "https://www.iana.org/time-zones", purlPrefix: "pkg:nix/tzdata@2024a?hash="},
			"greeter":            {name: "greeter", license: "NOASSERTION", purlPrefix: "pkg:nix/greeter?hash="},
			// Not requested: what its store name says, nothing of its meta.
			"busybox-1.35.0": {name: "busybox", version: "1.35.0", license: "NOASSERTION", purlPrefix: "pkg:nix/busybox@1.35.0?hash="},
		}
		seen := 0
		for p, pkg := range byPath {
			w, ok := wants[p[len("/nix/store/")+33:]]
			if !ok {
				continue
			}
			seen++
			purl := ""
			if len(pkg.PackageExternalReferences) == 1 {
				purl = pkg.PackageExternalReferences[0].Locator
			}
			if pkg.PackageName != w.name || pkg.PackageVersion != w.version || pkg.PackageLicenseDeclared != w.license ||
				pkg.PackageHomePage != w.homepage || !strings.HasPrefix(purl, w.purlPrefix) {
				t.Errorf("%s: name %q version %q license %q homepage %q purl %q; want %+v", p, pkg.PackageName, pkg.PackageVersion,
					pkg.PackageLicenseDeclared, pkg.PackageHomePage, purl, w)
			}
			if strings.HasSuffix(p, "-dev") && !strings.HasSuffix(purl, "&output=dev") {
				t.Errorf("%s: purl %s does not name the dev output", p, purl)
			}
			if strings.Contains(p, "odd+name") && !strings.Contains(pkg.PackageLicenseComments, "Public Domain") {
				t.Errorf("%s: license comment %q does not name the license without an SPDX id", p, pkg.PackageLicenseComments)
			}
		}
		if seen != len(wants) {
			t.Errorf("found %d of the %d packages checked", seen, len(wants))
		}
	})

	t.Run("the same Nixfile gives the same bytes", func(t *testing.T) {
		// --no-cache runs the nix steps again, the metadata step too.
		again := buildExport(t, bed, dir, map[string]string{"attest:sbom": "", "build-arg:SOURCE_DATE_EPOCH": "1700000000", "no-cache": ""})
		if _, p := again.sbomOf(t); !bytes.Equal(p, predicate) {
			t.Errorf("two builds gave different SBOMs:\n%s\n---\n%s", p, predicate)
		}
		if !slices.Contains(again.steps, metaStepName(again.steps)) || metaStepName(again.steps) == "" {
			t.Errorf("the rebuild ran no metadata step: %v", again.steps)
		}
	})

	t.Run("without --sbom the image is the same and nothing extra runs", func(t *testing.T) {
		plain := buildExport(t, bed, dir, map[string]string{"build-arg:SOURCE_DATE_EPOCH": "1700000000"})
		if len(plain.statements) != 0 {
			t.Errorf("a build without --sbom has %d attestations", len(plain.statements))
		}
		if plain.imageDigest != withSBOM.imageDigest {
			t.Errorf("the image manifest is %s without --sbom and %s with it", plain.imageDigest, withSBOM.imageDigest)
		}
		if !reflect.DeepEqual(plain.image.Layers, withSBOM.image.Layers) || plain.image.Config.Digest != withSBOM.image.Config.Digest {
			t.Error("the image's layers or config differ with --sbom")
		}
		if s := metaStepName(plain.steps); s != "" {
			t.Errorf("a build without --sbom ran %q", s)
		}
	})
}

// byPathName is the store path of paths whose name is name.
func byPathName(paths []string, name string) string {
	for _, p := range paths {
		if strings.HasSuffix(p, "-"+name) && len(p) == len("/nix/store/")+33+len(name) {
			return p
		}
	}
	return ""
}

// metaStepName is the metadata step among steps, or "".
func metaStepName(steps []string) string {
	for _, s := range steps {
		if strings.HasPrefix(s, "[nix] describe ") {
			return s
		}
	}
	return ""
}

// With NIXFILE_SBOM_BUILD_CLOSURE=1, the SBOM adds the requested package's
// derivation closure, as nix-store --query --requisites of its .drv gives
// it, each path a BUILD_DEPENDENCY_OF the package; the image stays the same.
func TestSBOMBuildClosure(t *testing.T) {
	bed := testbed.Require(t)
	dir := writeContext(t, map[string]string{"Nixfile": "PACKAGES greeter\n"})
	plain := buildExport(t, bed, dir, map[string]string{"attest:sbom": ""})
	withClosure := buildExport(t, bed, dir, map[string]string{"attest:sbom": "", "build-arg:NIXFILE_SBOM_BUILD_CLOSURE": "1"})
	if plain.imageDigest != withClosure.imageDigest {
		t.Errorf("the image changed with the build closure: %s, %s", plain.imageDigest, withClosure.imageDigest)
	}
	_, predicate := withClosure.sbomOf(t)
	doc, err := spdxjson.Read(bytes.NewReader(predicate))
	if err != nil {
		t.Fatal(err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Fatalf("invalid SPDX document: %v", err)
	}
	want := strings.Fields(runNix(t, bed, `set -e; nix-store --query --requisites $(nix-instantiate '<nixpkgs>' -A greeter) | sort >/out/reqs`, "reqs"))
	if len(want) < 2 {
		t.Fatalf("nix gives a derivation closure of %v", want)
	}
	pathOf := map[common.ElementID]string{}
	var greeter common.ElementID
	for _, p := range doc.Packages {
		pathOf[p.PackageSPDXIdentifier] = p.PackageFileName
		if strings.HasSuffix(p.PackageFileName, "-greeter") {
			greeter = p.PackageSPDXIdentifier
		}
	}
	var got []string
	for _, r := range doc.Relationships {
		if r.Relationship == common.TypeRelationshipBuildDependencyOf {
			if r.RefB.ElementRefID != greeter {
				t.Errorf("%s is a BUILD_DEPENDENCY_OF %s, want of greeter", pathOf[r.RefA.ElementRefID], pathOf[r.RefB.ElementRefID])
			}
			got = append(got, pathOf[r.RefA.ElementRefID])
		}
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("build dependencies of greeter:\n%s\nwant its derivation closure:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_, plainPredicate := plain.sbomOf(t)
	if strings.Contains(string(plainPredicate), "BUILD_DEPENDENCY_OF") || strings.Contains(string(plainPredicate), "build-time closure") {
		t.Error("without the build arg, the SBOM has the build closure")
	}
}

// Package sbom turns what the nix stage reports (the closure, nix's path
// info and the requested packages' meta) into an SPDX 2.3 document: one
// package per store path of the image, with the store references as
// DEPENDS_ON relationships. It is pure: the same input gives the same bytes.
package sbom

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	nixllb "github.com/nixfile/nixfile/llb"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"
)

// PredicateType is the in-toto predicate type of an SPDX document, the one
// BuildKit gives its own SBOMs.
const PredicateType = "https://spdx.dev/Document"

// Input is what a document is made of.
type Input struct {
	// Closure is the image's closure, with nix's path info; nil when the
	// image has no store paths.
	Closure *nixllb.Closure
	// Meta describes the requested packages; nil when unknown.
	Meta *nixllb.Metadata
	// Groups name each group (Nixfile line) by index, e.g. "line 3".
	Groups []string
	// Platform is the image's platform, e.g. linux/amd64.
	Platform string
	// Created is the document's creation time: the image's epoch.
	Created time.Time
	// Rootfs are the files the frontend writes outside the store, in the
	// order it writes them; Copies the Nixfile's COPYs, in Nixfile order.
	Rootfs []nixllb.Entry
	Copies []Copy
	// BuildClosure is, when asked for, the derivation closure of each
	// requested output's derivation: requisites by .drv path.
	BuildClosure map[string][]string
}

// noAssertion is SPDX's "this document says nothing about it".
const noAssertion = "NOASSERTION"

// namespaceBase is the start of every document namespace; the rest is a
// digest of the document, so the same image has the same namespace.
const namespaceBase = "https://github.com/nixfile/nixfile/sbom/"

// Document returns the SPDX document of in.
func Document(in Input) (*spdx.Document, error) {
	c := in.Closure
	if c == nil {
		c = &nixllb.Closure{}
	}
	requested := map[string][]nixllb.PackageMeta{} // by path
	byDrv := map[string]nixllb.PackageMeta{}       // a requested output's derivation
	if in.Meta != nil {
		for _, m := range in.Meta.Packages {
			requested[m.Path] = append(requested[m.Path], m)
			if m.DrvPath != "" {
				if _, ok := byDrv[m.DrvPath]; !ok {
					byDrv[m.DrvPath] = m
				}
			}
		}
	}
	ids := map[string]common.ElementID{}
	for _, p := range c.Paths {
		ids[p] = elementID(p)
	}

	doc := &spdx.Document{
		SPDXVersion:    spdx.Version,
		DataLicense:    spdx.DataLicense,
		SPDXIdentifier: "DOCUMENT",
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: "nixfile"}},
			Created:  in.Created.UTC().Format(time.RFC3339),
		},
	}
	if in.Meta != nil && in.Meta.NixVersion != "" {
		doc.CreationInfo.Creators = append(doc.CreationInfo.Creators, common.Creator{CreatorType: "Tool", Creator: "nix-" + in.Meta.NixVersion})
	}
	var rootNames []string
	for _, p := range c.Paths {
		pkg, err := storePackage(p, c.Info[p], requested[p], byDrv, in.Groups)
		if err != nil {
			return nil, err
		}
		pkg.PackageSPDXIdentifier = ids[p]
		doc.Packages = append(doc.Packages, pkg)
	}
	for _, r := range c.Roots {
		doc.Relationships = append(doc.Relationships, relationship("DOCUMENT", ids[r], common.TypeRelationshipDescribe))
		rootNames = append(rootNames, nixllb.StorePathName(r))
	}
	for _, p := range c.Paths {
		refs := slices.Clone(c.Info[p].References)
		sort.Strings(refs)
		for _, r := range refs {
			if id, ok := ids[r]; ok && r != p {
				doc.Relationships = append(doc.Relationships, relationship(ids[p], id, common.TypeRelationshipDependsOn))
			}
		}
	}
	if len(in.BuildClosure) > 0 && in.Meta != nil {
		doc.Packages, doc.Relationships = addBuildClosure(doc.Packages, doc.Relationships, ids, in.BuildClosure, in.Meta.Packages)
	}
	// What is outside the store: the rootfs defaults and the COPYs, parts
	// of the image the document describes as it does the requested outputs.
	if len(in.Rootfs) > 0 {
		pkg, files := rootfsPackage(in.Rootfs)
		doc.Packages = append(doc.Packages, pkg)
		doc.Files = append(doc.Files, files...)
		doc.Relationships = append(doc.Relationships, relationship("DOCUMENT", pkg.PackageSPDXIdentifier, common.TypeRelationshipDescribe))
		for _, f := range files {
			doc.Relationships = append(doc.Relationships, relationship(pkg.PackageSPDXIdentifier, f.FileSPDXIdentifier, common.TypeRelationshipContains))
		}
	}
	for i, cp := range in.Copies {
		pkg := copyPackage(i, cp)
		doc.Packages = append(doc.Packages, pkg)
		doc.Relationships = append(doc.Relationships, relationship("DOCUMENT", pkg.PackageSPDXIdentifier, common.TypeRelationshipDescribe))
	}
	doc.DocumentName = "nix closure of " + strings.Join(rootNames, " ")
	if len(rootNames) == 0 {
		doc.DocumentName = "empty nix closure"
	}
	if in.Platform != "" {
		doc.DocumentName += " (" + in.Platform + ")"
	}
	// The namespace must name this document alone, and the same image must
	// get the same bytes: a digest of the rest of the document does both.
	body, err := marshal(doc)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	doc.DocumentNamespace = namespaceBase + hex.EncodeToString(sum[:])
	return doc, nil
}

// JSON returns the SPDX JSON of in.
func JSON(in Input) ([]byte, error) {
	doc, err := Document(in)
	if err != nil {
		return nil, err
	}
	return marshal(doc)
}

func marshal(doc *spdx.Document) ([]byte, error) {
	var buf bytes.Buffer
	if err := spdxjson.Write(doc, &buf, spdxjson.Indent("  "), spdxjson.EscapeHTML(false)); err != nil {
		return nil, fmt.Errorf("sbom: writing SPDX JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// elementID is a store path's SPDX id: its hash makes it unique, its name
// makes it readable.
func elementID(p string) common.ElementID {
	return common.ElementID("nix-" + storeHash(p) + "-" + spdxIDChars(nixllb.StorePathName(p)))
}

func relationship(a, b common.ElementID, typ string) *spdx.Relationship {
	return &spdx.Relationship{
		RefA:         common.DocElementID{ElementRefID: a},
		RefB:         common.DocElementID{ElementRefID: b},
		Relationship: typ,
	}
}

// storePackage is one store path as an SPDX package. req holds what the
// package set says of it when it was requested; byDrv what it says of the
// requested outputs' derivations, for the other outputs of those.
func storePackage(p string, info nixllb.PathInfo, req []nixllb.PackageMeta, byDrv map[string]nixllb.PackageMeta, groups []string) (*spdx.Package, error) {
	storeName := nixllb.StorePathName(p)
	pkg := &spdx.Package{
		PackageFileName:           p,
		PackageDownloadLocation:   noAssertion,
		FilesAnalyzed:             false,
		IsFilesAnalyzedTagPresent: true,
		PackageLicenseConcluded:   noAssertion,
		PackageLicenseDeclared:    noAssertion,
		PackageCopyrightText:      noAssertion,
	}
	if info.NarHash != "" {
		h, err := narHashHex(info.NarHash)
		if err != nil {
			return nil, fmt.Errorf("sbom: %s: %w", p, err)
		}
		pkg.PackageChecksums = []common.Checksum{{Algorithm: common.SHA256, Value: h}}
	}

	// What nix knows of the package: the requested output's own meta, else
	// that of a requested output of the same derivation.
	var meta *nixllb.PackageMeta
	deriver := info.Deriver
	if len(req) > 0 {
		meta = &req[0]
		if meta.DrvPath != "" {
			deriver = meta.DrvPath
		}
	} else if m, ok := byDrv[deriver]; ok && deriver != "" {
		meta = &m
		meta.Output = siblingOutput(storeName, m.Name)
	}

	name, version := splitName(storeName)
	version, output := cutOutput(version)
	if meta != nil {
		if meta.Name != "" {
			name, version = splitName(meta.Name)
		}
		if meta.Pname != "" {
			name = meta.Pname
			version = meta.Version
		}
		output = meta.Output
		pkg.PackageDescription = meta.Description
		if len(meta.Homepage) > 0 {
			pkg.PackageHomePage = meta.Homepage[0]
		}
		pkg.PackageLicenseDeclared, pkg.PackageLicenseComments = licenseExpr(meta.Licenses)
	}
	pkg.PackageName = name
	pkg.PackageVersion = version
	if deriver != "" {
		pkg.PackageSourceInfo = "built by nix from the derivation " + deriver
	}
	if len(req) > 0 {
		var lines []string
		for _, m := range req {
			if m.Group >= 0 && m.Group < len(groups) {
				lines = append(lines, groups[m.Group])
			}
		}
		lines = slices.Compact(lines)
		if len(lines) > 0 {
			pkg.PackageComment = "requested by the Nixfile, " + strings.Join(lines, ", ")
		}
	}
	pkg.PackageExternalReferences = []*spdx.PackageExternalReference{{
		Category: common.CategoryPackageManager,
		RefType:  common.TypePackageManagerPURL,
		Locator:  purl(name, version, output, storeHash(p)),
	}}
	return pkg, nil
}

// siblingOutput is the output of a store path whose derivation is named
// drvName: nix names output o of it drvName-o, and out drvName.
func siblingOutput(storeName, drvName string) string {
	if storeName == drvName || drvName == "" {
		return "out"
	}
	if o, ok := strings.CutPrefix(storeName, drvName+"-"); ok {
		return o
	}
	return ""
}

// licenseExpr is a declared license expression from meta.license: the SPDX
// ids joined with AND (nixpkgs' list does not say AND or OR; the package is
// under all of them), or NOASSERTION with the names in a comment when one
// has no SPDX id.
func licenseExpr(ls []nixllb.License) (expr, comment string) {
	if len(ls) == 0 {
		return noAssertion, ""
	}
	var ids, names []string
	for _, l := range ls {
		if isLicenseID(l.SPDXID) {
			ids = append(ids, l.SPDXID)
		}
		n := l.Name
		if n == "" {
			n = l.SPDXID
		}
		names = append(names, n)
	}
	if len(ids) < len(ls) {
		return noAssertion, "meta.license: " + strings.Join(names, ", ")
	}
	ids = slices.Compact(ids)
	if len(ids) == 1 {
		return ids[0], ""
	}
	return strings.Join(ids, " AND "), "meta.license lists several licenses; nixpkgs does not say whether all or any apply"
}

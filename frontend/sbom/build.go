package sbom

import (
	"slices"
	"strings"

	nixllb "github.com/nixfile/nixfile/llb"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"
)

// addBuildClosure adds the build-time closure: a package for each path of
// the derivation closure of a requested output's derivation (its .drv
// files, sources, builders) that is not in the image already, each
// BUILD_DEPENDENCY_OF the requested outputs that derivation builds. SPDX
// 2.3 has BUILD_DEPENDENCY_OF for "A is a build dependency of B"; the
// closure is everything nix needs to build the output, not tools for
// developing it (DEV_DEPENDENCY_OF). ids is updated with the new packages.
func addBuildClosure(pkgs []*spdx.Package, rels []*spdx.Relationship, ids map[string]common.ElementID, closure map[string][]string, metas []nixllb.PackageMeta) ([]*spdx.Package, []*spdx.Relationship) {
	built := map[string][]string{} // requested outputs by derivation
	for _, m := range metas {
		if m.DrvPath != "" && ids[m.Path] != "" && !slices.Contains(built[m.DrvPath], m.Path) {
			built[m.DrvPath] = append(built[m.DrvPath], m.Path)
		}
	}
	var added []string
	seen := map[string]bool{}
	for _, reqs := range closure {
		for _, r := range reqs {
			if ids[r] == "" && !seen[r] {
				seen[r] = true
				added = append(added, r)
			}
		}
	}
	slices.Sort(added)
	for _, p := range added {
		ids[p] = elementID(p)
		name, version := splitName(strings.TrimSuffix(nixllb.StorePathName(p), ".drv"))
		kind := "a source or input of the build"
		if strings.HasSuffix(p, ".drv") {
			kind = "a derivation"
		}
		pkgs = append(pkgs, &spdx.Package{
			PackageName:               name,
			PackageVersion:            version,
			PackageSPDXIdentifier:     ids[p],
			PackageFileName:           p,
			PackageDownloadLocation:   noAssertion,
			FilesAnalyzed:             false,
			IsFilesAnalyzedTagPresent: true,
			PackageLicenseConcluded:   noAssertion,
			PackageLicenseDeclared:    noAssertion,
			PackageCopyrightText:      noAssertion,
			PackageComment:            "build-time closure, not in the image: " + kind,
		})
	}
	drvs := make([]string, 0, len(closure))
	for d := range closure {
		drvs = append(drvs, d)
	}
	slices.Sort(drvs)
	for _, d := range drvs {
		for _, out := range built[d] {
			for _, r := range closure[d] {
				if r != out {
					rels = append(rels, relationship(ids[r], ids[out], common.TypeRelationshipBuildDependencyOf))
				}
			}
		}
	}
	return pkgs, rels
}

package nixllb

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/client/llb"
)

// The metadata step describes the requested packages for an SBOM: what the
// package set says of each requested output (pname, version, meta). It is
// a step of its own, run only when a build asks for an SBOM, so that a
// build without one runs and caches exactly what it did before. It
// evaluates the same build.nix as the build step, on the same nix image and
// store cache, so it sees the same derivations; it builds nothing.

// The metadata step's files, mounted beside build.nix: meta.sh runs
// meta.nix (and, for the build closure, drvs.nix) over build.nix.
var (
	//go:embed meta.nix
	metaExpr []byte
	//go:embed drvs.nix
	drvsExpr []byte
	//go:embed meta.sh
	metaScript []byte
)

// Files in the metadata step's output.
const (
	// MetaPackages is meta.nix's JSON: one entry a requested output.
	MetaPackages = "packages.json"
	// MetaNixVersion is `nix --version`.
	MetaNixVersion = "nix-version"
	// MetaBuildClosure is the build-time closure, when asked for: a line
	// "DRV REQUISITE" for each path of the derivation closure of each
	// requested output's derivation.
	MetaBuildClosure = "build-closure"
)

// SBOMBuildClosureArg is the build arg that adds the build-time closure to
// the SBOM, as BUILDKIT_SBOM_SCAN_STAGE adds a Dockerfile's build stages.
const SBOMBuildClosureArg = "NIXFILE_SBOM_BUILD_CLOSURE"

// MetadataFiles are the files of NewMetaStep's output the frontend reads.
var MetadataFiles = []string{MetaPackages, MetaNixVersion}

// NewMetaStep returns the metadata step of the nix stage that spec
// describes: its output holds MetadataFiles, and MetaBuildClosure when
// buildClosure is set.
func NewMetaStep(spec StageSpec, buildClosure bool) llb.State {
	exprState := exprDir(spec, "[internal] generate meta.nix",
		exprFile{"meta.nix", metaExpr}, exprFile{"drvs.nix", drvsExpr}, exprFile{"meta.sh", metaScript})
	args := []string{"/bin/sh", exprMount + "/meta.sh"}
	if buildClosure {
		args = append(args, "build-closure")
	}
	opts := append([]llb.RunOption{
		llb.Args(args),
		llb.WithCustomName("[nix] describe " + spec.installables() + " for the SBOM"),
		llb.AddMount(exprMount, exprState, llb.Readonly),
	}, spec.nixStepOptions()...)
	run := spec.Image.Run(opts...)
	return run.AddMount(metaMount, llb.Scratch())
}

// ReadBuildClosure reads MetaBuildClosure: the requisites of each
// derivation, every path validated.
func ReadBuildClosure(data []byte) (map[string][]string, error) {
	out := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		drv, req, ok := strings.Cut(line, " ")
		if !ok {
			return nil, fmt.Errorf("the metadata step's %s: bad line %q", MetaBuildClosure, line)
		}
		for _, p := range []string{drv, req} {
			if err := ValidateStorePath(p); err != nil {
				return nil, fmt.Errorf("the metadata step's %s: %w", MetaBuildClosure, err)
			}
		}
		out[drv] = append(out[drv], req)
	}
	for _, reqs := range out {
		sort.Strings(reqs)
	}
	return out, nil
}

// License is one license of a package, as its meta.license gives it.
type License struct {
	// SPDXID is the license's SPDX identifier, when the package set knows it.
	SPDXID string
	// Name is its full or short name, or the string meta.license gave.
	Name string
}

// PackageMeta is what the package set says of one requested output.
type PackageMeta struct {
	// Group is the index of the group (Nixfile line) that asked for it.
	Group int
	// Path is the output's store path.
	Path string
	// Output is the output's name (out, bin, dev, ...), when known.
	Output string
	// Name, Pname and Version are the derivation's, when set.
	Name, Pname, Version string
	// DrvPath is the derivation's store path.
	DrvPath string
	// Description and Homepage are from meta.
	Description string
	Homepage    []string
	Licenses    []License
}

// Metadata is what the metadata step reports.
type Metadata struct {
	// NixVersion is the nix version that evaluated, e.g. "2.8.0"; empty
	// when unknown.
	NixVersion string
	// Packages are sorted by path, then group; a path is there once a
	// group that asked for it.
	Packages []PackageMeta
}

// ReadMetadata reads the files of NewMetaStep's output. Every path is
// validated.
func ReadMetadata(files map[string][]byte) (*Metadata, error) {
	type license struct {
		SPDXID *string `json:"spdxId"`
		Name   *string `json:"name"`
	}
	type entry struct {
		Group       string    `json:"group"`
		Path        string    `json:"path"`
		Output      *string   `json:"output"`
		Name        *string   `json:"name"`
		Pname       *string   `json:"pname"`
		Version     *string   `json:"version"`
		DrvPath     *string   `json:"drvPath"`
		Description *string   `json:"description"`
		Homepage    []string  `json:"homepage"`
		Licenses    []license `json:"licenses"`
	}
	var entries []entry
	if err := json.Unmarshal(files[MetaPackages], &entries); err != nil {
		return nil, fmt.Errorf("reading the metadata step's %s: %w", MetaPackages, err)
	}
	m := &Metadata{NixVersion: nixVersion(string(files[MetaNixVersion]))}
	seen := map[string]bool{}
	for _, e := range entries {
		if err := ValidateStorePath(e.Path); err != nil {
			return nil, fmt.Errorf("the metadata step's %s: %w", MetaPackages, err)
		}
		g, err := strconv.Atoi(strings.TrimPrefix(e.Group, "g"))
		if err != nil || !strings.HasPrefix(e.Group, "g") {
			return nil, fmt.Errorf("the metadata step's %s: bad group %q", MetaPackages, e.Group)
		}
		key := e.Path + "\x00" + e.Group
		if seen[key] {
			continue
		}
		seen[key] = true
		p := PackageMeta{
			Group: g, Path: e.Path, Output: deref(e.Output), Name: deref(e.Name), Pname: deref(e.Pname),
			Version: deref(e.Version), DrvPath: deref(e.DrvPath), Description: deref(e.Description), Homepage: e.Homepage,
		}
		if len(p.Homepage) == 0 {
			p.Homepage = nil
		}
		if p.DrvPath != "" && ValidateStorePath(p.DrvPath) != nil {
			p.DrvPath = ""
		}
		for _, l := range e.Licenses {
			if l := (License{SPDXID: deref(l.SPDXID), Name: deref(l.Name)}); l != (License{}) {
				p.Licenses = append(p.Licenses, l)
			}
		}
		m.Packages = append(m.Packages, p)
	}
	sort.SliceStable(m.Packages, func(i, j int) bool {
		a, b := m.Packages[i], m.Packages[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Group < b.Group
	})
	return m, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// nixVersion is the version in `nix --version`'s "nix (Nix) 2.8.0".
func nixVersion(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

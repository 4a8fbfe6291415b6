package nixllb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// StoreDir is the only nix store the frontend copies from.
const StoreDir = "/nix/store"

// ValidateStorePath reports whether p is a top-level store path, so that a
// copy of it can never reach outside the store: the store dir, 32
// characters of nix's base-32 alphabet (no e, o, u, t), a dash and a name
// of the characters nix allows that does not start with a dot (so never
// "." or ".."). A loop over byte tables, not a regular expression: a big
// closure's paths are all checked on every build, no-change rebuilds too.
func ValidateStorePath(p string) error {
	if !isStorePath(p) {
		return fmt.Errorf("not a nix store path: %.300q", p)
	}
	return nil
}

// NixBase32 is nix's base-32 alphabet, that of store path hashes: no e, o,
// u or t.
const NixBase32 = "0123456789abcdfghijklmnpqrsvwxyz"

// hashChars and nameChars are the bytes a store path's hash and name may hold.
var hashChars, nameChars = byteSet(NixBase32),
	byteSet("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+-._?=")

func byteSet(chars string) (set [256]bool) {
	for i := range len(chars) {
		set[chars[i]] = true
	}
	return set
}

func isStorePath(p string) bool {
	const hashLen = 32
	rest, ok := strings.CutPrefix(p, StoreDir+"/")
	if !ok || len(rest) < hashLen+2 || rest[hashLen] != '-' || rest[hashLen+1] == '.' {
		return false
	}
	for i := range hashLen {
		if !hashChars[rest[i]] {
			return false
		}
	}
	for i := hashLen + 1; i < len(rest); i++ {
		if !nameChars[rest[i]] {
			return false
		}
	}
	return true
}

// StorePathName is the name part of a store path, after the hash.
func StorePathName(p string) string {
	if len(p) > len(StoreDir)+34 {
		return p[len(StoreDir)+34:]
	}
	return p
}

// PathInfo is what nix knows of one store path.
type PathInfo struct {
	Path       string
	NarSize    int64
	References []string
	// NarHash is nix's hash of the path's NAR serialisation, as nix
	// prints it: "sha256-BASE64" (SRI) or "sha256:BASE32" (older nix).
	NarHash string
	// Deriver is the derivation that built the path, when nix knows it.
	Deriver string
}

// Closure is what the nix stage reports.
type Closure struct {
	// Roots are the requested output paths, sorted.
	Roots []string
	// Paths is the runtime closure of Roots, sorted.
	Paths []string
	// Bins are the roots with a bin directory, sorted by package name.
	Bins []string
	// Info is keyed by store path; it may lack paths (older nix).
	Info map[string]PathInfo
	// BinEntries are the names in each root's bin directory, sorted.
	BinEntries map[string][]string
	// Features are files of the closure an image's root can use, by kind
	// (Feature*), sorted.
	Features map[string][]string
	// Layers are the layers the nix stage archived, in order; nil when it
	// copied the store paths as they are.
	Layers []Layer
}

// ErrEmptyClosure is ParseClosure's error for a build that gave no store
// paths (a .nix file that evaluates to an empty list).
var ErrEmptyClosure = errors.New("the nix stage reported an empty closure")

// ParseClosure reads the files of Stage.Meta. Every path is validated.
func ParseClosure(roots, closure, bins, pathInfo []byte) (*Closure, error) {
	c := &Closure{}
	var err error
	if c.Roots, err = pathList(MetaRoots, roots); err != nil {
		return nil, err
	}
	if c.Paths, err = pathList(MetaClosure, closure); err != nil {
		return nil, err
	}
	if c.Bins, err = pathList(MetaBins, bins); err != nil {
		return nil, err
	}
	if len(c.Roots) == 0 || len(c.Paths) == 0 {
		return nil, ErrEmptyClosure
	}
	in := pathSet(c.Paths)
	isRoot := map[string]bool{}
	for _, r := range c.Roots {
		if !in[r] {
			return nil, fmt.Errorf("the nix stage reported root %s outside its closure", r)
		}
		isRoot[r] = true
	}
	// Bins go on PATH and get /bin links: only requested outputs may.
	for _, b := range c.Bins {
		if !isRoot[b] {
			return nil, fmt.Errorf("the nix stage's %s list: %s is not a requested output", MetaBins, b)
		}
	}
	sort.SliceStable(c.Bins, func(i, j int) bool { return StorePathName(c.Bins[i]) < StorePathName(c.Bins[j]) })
	infos, err := parsePathInfo(pathInfo)
	if err != nil {
		return nil, fmt.Errorf("reading nix path-info: %w", err)
	}
	c.Info = make(map[string]PathInfo, len(infos))
	for _, pi := range infos {
		if !in[pi.Path] {
			continue
		}
		if pi.NarSize < 0 {
			return nil, fmt.Errorf("reading nix path-info: %s has a negative size", pi.Path)
		}
		refs := pi.References[:0:0]
		for _, r := range pi.References {
			if in[r] && r != pi.Path {
				refs = append(refs, r)
			}
		}
		sort.Strings(refs)
		pi.References = refs
		c.Info[pi.Path] = pi
	}
	return c, nil
}

// Size is the closure's size in bytes as nix reports it (0 when unknown):
// its layers' when the nix stage archived it (Info may not have been read).
func (c *Closure) Size() int64 {
	var n int64
	if len(c.Layers) > 0 {
		for _, l := range c.Layers {
			n += l.Size
		}
		return n
	}
	for _, pi := range c.Info {
		n += pi.NarSize
	}
	return n
}

func pathList(what string, data []byte) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || seen[line] {
			continue
		}
		if err := ValidateStorePath(line); err != nil {
			return nil, fmt.Errorf("the nix stage's %s list: %w", what, err)
		}
		seen[line] = true
		out = append(out, line)
	}
	sort.Strings(out)
	return out, nil
}

// parsePathInfo reads `nix path-info --json` in both of its formats: a list
// of objects with "path" (nix < 2.19) and an object keyed by path (newer).
func parsePathInfo(data []byte) ([]PathInfo, error) {
	type entry struct {
		Path       string   `json:"path"`
		NarSize    int64    `json:"narSize"`
		References []string `json:"references"`
		NarHash    string   `json:"narHash"`
		Deriver    string   `json:"deriver"`
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil
	}
	var out []PathInfo
	if data[0] == '[' {
		var list []entry
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, err
		}
		for _, e := range list {
			out = append(out, PathInfo{Path: e.Path, NarSize: e.NarSize, References: e.References, NarHash: e.NarHash, Deriver: storePath(e.Deriver)})
		}
		return out, nil
	}
	var byPath map[string]*entry
	if err := json.Unmarshal(data, &byPath); err != nil {
		return nil, err
	}
	out = make([]PathInfo, 0, len(byPath))
	for _, p := range slices.Sorted(maps.Keys(byPath)) {
		e := byPath[p]
		if e == nil {
			continue
		}
		refs := make([]string, 0, len(e.References))
		for _, r := range e.References {
			refs = append(refs, storePath(r))
		}
		out = append(out, PathInfo{Path: p, NarSize: e.NarSize, References: refs, NarHash: e.NarHash, Deriver: storePath(e.Deriver)})
	}
	return out, nil
}

// storePath makes a base name absolute: newer nix may give those.
func storePath(p string) string {
	if p != "" && !strings.HasPrefix(p, "/") {
		return StoreDir + "/" + p
	}
	return p
}

// Features a closure can bring to an image's root, found by the nix stage.
const (
	// FeatureCACert is a CA bundle file in the closure (nixpkgs' cacert).
	FeatureCACert = "cacert"
	// FeatureImageCACert means the closure has no CA bundle and the nix
	// image's own was copied to MetaImageCACert.
	FeatureImageCACert = "image-cacert"
	// FeatureZoneinfo is a time zone database directory (tzdata).
	FeatureZoneinfo = "zoneinfo"
	// FeatureServices and FeatureProtocols are iana-etc's files.
	FeatureServices  = "services"
	FeatureProtocols = "protocols"
)

// MaxMetaFileSize is the most bytes a file of Stage.Meta may have: far
// more than the path-info of a closure of many thousands of paths, and a
// bound on what a broken or hostile nix stage makes the frontend read.
const MaxMetaFileSize = 64 << 20

// ReadClosure reads the files of Stage.Meta, by name. Without MetaClosure
// the closure is the paths of the archived layers (see layerPaths).
func ReadClosure(files map[string][]byte) (*Closure, error) {
	for _, name := range MetaFiles {
		if n := len(files[name]); n > MaxMetaFileSize {
			return nil, fmt.Errorf("the nix stage's %s is larger than %d MiB", name, MaxMetaFileSize>>20)
		}
	}
	closure, listed := files[MetaClosure]
	if !listed {
		closure = layerPaths(files[MetaLayers])
	}
	c, err := ParseClosure(files[MetaRoots], closure, files[MetaBins], files[MetaPathInfo])
	if err != nil {
		return nil, err
	}
	if err := c.parseBinEntries(files[MetaBinEntries]); err != nil {
		return nil, err
	}
	in := pathSet(c.Paths)
	if err := c.parseFeatures(files[MetaFeatures], in); err != nil {
		return nil, err
	}
	if err := c.parseLayers(files[MetaLayers], in); err != nil {
		return nil, err
	}
	return c, nil
}

// MetaFiles are the files of Stage.Meta the frontend reads.
var MetaFiles = []string{MetaRoots, MetaClosure, MetaBins, MetaPathInfo, MetaBinEntries, MetaFeatures, MetaLayers}

func (c *Closure) parseBinEntries(data []byte) error {
	c.BinEntries = map[string][]string{}
	roots := map[string]bool{}
	for _, r := range c.Roots {
		roots[r] = true
	}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		root, name, ok := strings.Cut(line, "\t")
		if !ok || !roots[root] {
			return fmt.Errorf("the nix stage's %s list: bad line %.300q", MetaBinEntries, line)
		}
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\t\r\x00") {
			continue // not a name a link can have
		}
		c.BinEntries[root] = append(c.BinEntries[root], name)
	}
	for root, names := range c.BinEntries {
		sort.Strings(names)
		c.BinEntries[root] = slices.Compact(names) // a name twice is not two commands
	}
	return nil
}

// pathSet is the set of paths, for the checks that a reported path is one.
func pathSet(paths []string) map[string]bool {
	in := make(map[string]bool, len(paths))
	for _, p := range paths {
		in[p] = true
	}
	return in
}

// parseFeatures reads MetaFeatures; in is the set of the closure's paths.
func (c *Closure) parseFeatures(data []byte, in map[string]bool) error {
	c.Features = map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		kind, p, ok := strings.Cut(line, "\t")
		if !ok {
			return fmt.Errorf("the nix stage's %s list: bad line %.300q", MetaFeatures, line)
		}
		if kind != FeatureImageCACert {
			// A feature's file must be inside a store path of the closure.
			top := p
			if len(p) > len(StoreDir)+1 {
				if i := strings.IndexByte(p[len(StoreDir)+1:], '/'); i >= 0 {
					top = p[:len(StoreDir)+1+i]
				}
			}
			// A clean path (no "..", ".", "//" or trailing "/") of
			// printable characters: it becomes a symlink's target.
			if !in[top] || path.Clean(p) != p || strings.ContainsFunc(p, unicode.IsControl) {
				return fmt.Errorf("the nix stage's %s list: %.300q is not in the closure", MetaFeatures, p)
			}
		}
		c.Features[kind] = append(c.Features[kind], p)
	}
	for _, ps := range c.Features {
		sort.Strings(ps)
	}
	return nil
}

// Feature returns the first path of a feature, or "".
func (c *Closure) Feature(kind string) string {
	if ps := c.Features[kind]; len(ps) > 0 {
		return ps[0]
	}
	return ""
}

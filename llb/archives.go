package nixllb

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Layer is a layer of the closure as the nix stage's archiver wrote it:
// the archive Stage.Closure holds (Archive, a file name), its store paths,
// the most popular first, and the sum of their sizes as nix reports them.
type Layer struct {
	Archive string
	Size    int64
	Paths   []string
}

// ArchiveLayers groups the closure into layers (LayerGroups) and names each
// layer's archive by the set of its paths: an unchanged layer keeps its
// name, and so its copy's cache key, wherever it moves in the image.
func ArchiveLayers(c *Closure, max int) []Layer {
	groups := LayerGroups(c, max)
	layers := make([]Layer, len(groups))
	for i, g := range groups {
		layers[i] = Layer{Archive: archiveName(g), Paths: g}
		for _, p := range g {
			layers[i].Size += c.Info[p].NarSize
		}
	}
	return layers
}

// archivePrefix and archiveSuffix frame an archive's name: the hex of a
// hash of its sorted paths is between them.
const archivePrefix, archiveSuffix = "layer-", ".tar"

func archiveName(paths []string) string {
	sum := sha256.Sum256([]byte(strings.Join(slices.Sorted(slices.Values(paths)), "\n")))
	return archivePrefix + hex.EncodeToString(sum[:]) + archiveSuffix
}

// FormatLayers is MetaLayers' text: a line a layer, in order, of its
// archive's name, its size and its paths, separated by tabs (none can hold
// one).
func FormatLayers(layers []Layer) []byte {
	var b strings.Builder
	for _, l := range layers {
		b.WriteString(l.Archive)
		b.WriteByte('\t')
		b.WriteString(strconv.FormatInt(l.Size, 10))
		for _, p := range l.Paths {
			b.WriteByte('\t')
			b.WriteString(p)
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// layerPaths is the closure as the archived layers list it, one path a
// line: the archiver groups the whole closure, so a frontend that needs no
// path-info (no SBOM) reads the paths once, in the layers, and not again
// in MetaClosure. parseLayers then checks each path in exactly one layer.
func layerPaths(layers []byte) []byte {
	var b bytes.Buffer
	for line := range bytes.Lines(layers) {
		fields := bytes.Split(bytes.TrimSuffix(line, []byte("\n")), []byte("\t"))
		if len(fields) < 3 {
			continue // parseLayers says what is wrong with it
		}
		for _, p := range fields[2:] {
			b.Write(p)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// parseLayers reads MetaLayers: nothing (no archiver), or every path of the
// closure (in, as a set) in exactly one layer, each archive named as
// ArchiveLayers names it, so that what the layers unpack is exactly the
// closure.
func (c *Closure) parseLayers(data []byte, in map[string]bool) error {
	c.Layers = nil
	if len(data) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(c.Paths))
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		fields := strings.Split(line, "\t")
		if len(fields) < 3 {
			return fmt.Errorf("the nix stage's %s list: bad line %.300q", MetaLayers, line)
		}
		name, paths := fields[0], fields[2:]
		size, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil || size < 0 || name != archiveName(paths) {
			return fmt.Errorf("the nix stage's %s list: bad line %.300q", MetaLayers, line)
		}
		for _, p := range paths {
			if !in[p] || seen[p] {
				return fmt.Errorf("the nix stage's %s list: %.300q is not in the closure, or in two layers", MetaLayers, p)
			}
			seen[p] = true
		}
		c.Layers = append(c.Layers, Layer{Archive: name, Size: size, Paths: paths})
	}
	if len(seen) != len(c.Paths) {
		return fmt.Errorf("the nix stage's %s list has %d of the closure's %d paths", MetaLayers, len(seen), len(c.Paths))
	}
	return nil
}

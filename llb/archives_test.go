package nixllb

import (
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// Archives are named by the set of their paths, so that a layer keeps its
// name wherever it moves in the image and whatever order it lists them in.
func TestArchiveLayers(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	c := genClosure(rng, 300)
	layers := ArchiveLayers(c, 20)
	groups := LayerGroups(c, 20)
	if len(layers) != len(groups) {
		t.Fatalf("%d layers, %d groups", len(layers), len(groups))
	}
	names := map[string]bool{}
	for i, l := range layers {
		if !slices.Equal(l.Paths, groups[i]) {
			t.Errorf("layer %d holds %q, want group %q", i, l.Paths, groups[i])
		}
		if !strings.HasPrefix(l.Archive, "layer-") || !strings.HasSuffix(l.Archive, ".tar") || names[l.Archive] {
			t.Errorf("layer %d archive %q", i, l.Archive)
		}
		names[l.Archive] = true
		var size int64
		for _, p := range l.Paths {
			size += c.Info[p].NarSize
		}
		if l.Size != size {
			t.Errorf("layer %d: size %d, want its paths' %d", i, l.Size, size)
		}
		reversed := slices.Clone(l.Paths)
		slices.Reverse(reversed)
		if archiveName(reversed) != l.Archive {
			t.Errorf("layer %d: its paths in another order name another archive", i)
		}
	}
}

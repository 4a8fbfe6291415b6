package e2e

import (
	"archive/tar"
	"io"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/internal/testbed"
)

// layerContent is a layer's digest and the top-level store paths in it.
type layerContent struct {
	digest string
	paths  []string // /nix/store/... entries, sorted
	other  bool     // has files outside /nix
}

func (i *image) layerContents(t *testing.T) []layerContent {
	t.Helper()
	layers, err := i.img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []layerContent
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		lc := layerContent{digest: d.String()}
		seen := map[string]bool{}
		eachTarEntry(t, rc, func(h *tar.Header, _ io.Reader) {
			name := strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
			if rest, ok := strings.CutPrefix(name, "nix/store/"); ok && rest != "" {
				top := "/nix/store/" + strings.SplitN(rest, "/", 2)[0]
				if !seen[top] {
					seen[top] = true
					lc.paths = append(lc.paths, top)
				}
			} else if name != "nix" && name != "nix/" && name != "nix/store" && name != "nix/store/" {
				lc.other = true
			}
		})
		rc.Close()
		sort.Strings(lc.paths)
		out = append(out, lc)
	}
	return out
}

// The same store path is the same layer in every image.
func TestSharedDependencyIsTheSameLayer(t *testing.T) {
	bed := testbed.Require(t)
	a, err := build(t, bed, writeContext(t, map[string]string{"Nixfile": "PACKAGES hello\n"}), buildOpts{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := build(t, bed, writeContext(t, map[string]string{"Nixfile": "PACKAGES greeter tools.greet\nUSER app\n"}), buildOpts{})
	if err != nil {
		t.Fatal(err)
	}
	byPath := func(img *image) map[string]string {
		m := map[string]string{}
		for _, l := range img.layerContents(t) {
			if len(l.paths) == 1 && !l.other {
				m[l.paths[0]] = l.digest
			}
		}
		return m
	}
	la, lb := byPath(a), byPath(b)
	shared := 0
	for p, d := range la {
		if strings.HasSuffix(p, "-busybox-1.35.0") || strings.HasSuffix(p, "-hello") {
			shared++
			if lb[p] != d {
				t.Errorf("%s is layer %s in one image and %q in the other", p, d, lb[p])
			}
		}
	}
	if shared != 2 {
		t.Fatalf("want busybox and hello each in a layer of their own, got %v", la)
	}
}

// A closure with more paths than the budget takes exactly the budget's
// layers, and every store path is in exactly one of them.
func TestLayerBudget(t *testing.T) {
	bed := testbed.Require(t)
	tests := []struct {
		name    string
		nixfile string
		attrs   map[string]string
		budget  int
		want    int // layers the closure takes
	}{
		// Over the budget, busybox (about 2 MiB) keeps a layer of its own
		// and the four small paths share the one bucket a budget of 2 or
		// 3 has: paths under 1 MiB never get a layer of their own there.
		{name: "LAYERS in the Nixfile", nixfile: "PACKAGES greeter tools.greet odd\nLAYERS 2\n", budget: 2, want: 2},
		{name: "the build arg", nixfile: "PACKAGES greeter tools.greet odd\n", attrs: map[string]string{"build-arg:NIXFILE_LAYERS": "3"}, budget: 3, want: 2},
		{name: "under the budget, a layer per path", nixfile: "PACKAGES greeter tools.greet odd\nLAYERS 100\n", budget: 100, want: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := build(t, bed, writeContext(t, map[string]string{"Nixfile": tc.nixfile}), buildOpts{attrs: tc.attrs})
			if err != nil {
				t.Fatal(err)
			}
			closure := img.storeEntries()
			if len(closure) != 5 {
				t.Fatalf("want a closure of 5 paths, got %v", closure)
			}
			count := map[string]int{}
			closureLayers := 0
			for _, l := range img.layerContents(t) {
				if len(l.paths) > 0 {
					closureLayers++
				}
				for _, p := range l.paths {
					count[p]++
				}
			}
			if closureLayers != tc.want || closureLayers > tc.budget {
				t.Errorf("the closure takes %d layers, want %d (a budget of %d)", closureLayers, tc.want, tc.budget)
			}
			for _, p := range closure {
				if count[p] != 1 {
					t.Errorf("%s is in %d layers, want 1", p, count[p])
				}
			}
		})
	}
}

// Two builds of the same Nixfile on two fresh daemon states give the same
// image manifest digest, with SOURCE_DATE_EPOCH and without, and with
// store paths sharing layers (over the layer budget).
func TestReproducibleOnFreshDaemons(t *testing.T) {
	bed := testbed.Require(t)
	const nixfile = "PACKAGES greeter cacert\nUSER app\nCOPY conf/ /etc/app/\nENTRYPOINT [\"greeter\"]\n"
	for _, tc := range []struct {
		name    string
		nixfile string
		attrs   map[string]string
	}{
		{name: "without SOURCE_DATE_EPOCH", nixfile: nixfile},
		{name: "with SOURCE_DATE_EPOCH", nixfile: nixfile, attrs: map[string]string{"build-arg:SOURCE_DATE_EPOCH": "1700000000"}},
		{name: "in shared layers", nixfile: "PACKAGES greeter tools.greet odd cacert tzdata\nLAYERS 2\n"},
	} {
		files := map[string]string{"Nixfile": tc.nixfile, "conf/a": "a\n", "conf/b/c": "c\n"}
		t.Run(tc.name, func(t *testing.T) {
			var digests []string
			for i := 0; i < 2; i++ {
				addr := bed.FreshDaemon(t)
				img, err := build(t, bed, writeContext(t, files), buildOpts{attrs: tc.attrs, addr: addr})
				if err != nil {
					t.Fatal(err)
				}
				digests = append(digests, img.digest)
				if tc.attrs != nil && img.config.Created.Unix() != 1700000000 {
					t.Errorf("created %v, want SOURCE_DATE_EPOCH", img.config.Created)
				}
				if strings.Contains(tc.nixfile, "LAYERS") && !slices.ContainsFunc(img.layerContents(t), func(l layerContent) bool { return len(l.paths) > 1 }) {
					t.Errorf("no layer holds several store paths: the case tests nothing")
				}
			}
			if digests[0] != digests[1] {
				t.Errorf("two fresh daemons gave %s and %s", digests[0], digests[1])
			}
		})
	}
}

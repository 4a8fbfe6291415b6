package nixllb

import (
	"context"
	"fmt"
	"maps"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/nixfile/nixfile/internal/llbtest"
)

// graph builds a Closure from "name: ref ref..." lines; every name is a
// store path of the closure.
func graph(spec ...string) *Closure {
	c := &Closure{Info: map[string]PathInfo{}}
	for _, line := range spec {
		name, refs, _ := strings.Cut(line, ":")
		p := sp(strings.TrimSpace(name))
		var rs []string
		for _, r := range strings.Fields(refs) {
			rs = append(rs, sp(r))
		}
		slices.Sort(rs)
		c.Paths = append(c.Paths, p)
		c.Info[p] = PathInfo{Path: p, NarSize: 1 << 20, References: rs}
	}
	slices.Sort(c.Paths)
	return c
}

// names turns groups of store paths into groups of names, for messages.
func names(groups [][]string) [][]string {
	out := make([][]string, len(groups))
	for i, g := range groups {
		for _, p := range g {
			out[i] = append(out[i], StorePathName(p))
		}
	}
	return out
}

// A small closure: glibc is needed by every other path, openssl and zlib
// by three each (python, curl and, through them, app).
var smallClosure = []string{
	"app: python curl glibc",
	"python: openssl zlib glibc",
	"curl: openssl zlib glibc",
	"openssl: glibc",
	"zlib: glibc",
	"glibc:",
}

func TestLayerGroupsUnderBudget(t *testing.T) {
	c := graph(smallClosure...)
	// Dependents, directly or not: glibc 5, openssl 3 (python, curl, app),
	// zlib 3, curl 1, python 1, app 0; ties by path.
	want := [][]string{{"glibc"}}
	rest := [][]string{{"openssl"}, {"zlib"}}
	slices.SortFunc(rest, func(a, b []string) int { return strings.Compare(sp(a[0]), sp(b[0])) })
	want = append(want, rest...)
	mid := [][]string{{"curl"}, {"python"}}
	slices.SortFunc(mid, func(a, b []string) int { return strings.Compare(sp(a[0]), sp(b[0])) })
	want = append(want, mid...)
	want = append(want, []string{"app"})
	for _, max := range []int{6, 7, 100, 0, -1} {
		t.Run(fmt.Sprint("max=", max), func(t *testing.T) {
			got := names(LayerGroups(c, max))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("LayerGroups(max=%d) = %q, want %q", max, got, want)
			}
		})
	}
}

// genClosure is a generated closure of n paths: paths refer only to
// earlier ones (a DAG), sizes are skewed (most small, a few large).
func genClosure(rng *rand.Rand, n int) *Closure {
	c := &Closure{Info: map[string]PathInfo{}}
	for i := 0; i < n; i++ {
		addPath(rng, c, fmt.Sprintf("p%05d", i))
	}
	return c
}

// addPath adds a path named name that refers to some of the closure's
// paths, of a random skewed size, keeping Paths sorted.
func addPath(rng *rand.Rand, c *Closure, name string) string {
	p := sp(name)
	var refs []string
	for _, q := range c.Paths {
		if rng.Intn(20) == 0 {
			refs = append(refs, q)
		}
	}
	sizes := []int64{300, 4 << 10, 50 << 10, 200 << 10, 900 << 10, 3 << 20, 40 << 20}
	size := sizes[min(rng.Intn(len(sizes)+3), len(sizes)-1)] + rng.Int63n(1000)
	c.Info[p] = PathInfo{Path: p, NarSize: size, References: refs}
	c.Paths = append(c.Paths, p)
	slices.Sort(c.Paths)
	return p
}

func removePath(c *Closure, p string) {
	c.Paths = slices.DeleteFunc(slices.Clone(c.Paths), func(q string) bool { return q == p })
	info := maps.Clone(c.Info)
	delete(info, p)
	for q, pi := range info {
		pi.References = slices.DeleteFunc(slices.Clone(pi.References), func(r string) bool { return r == p })
		info[q] = pi
	}
	c.Info = info
}

// checkGroups checks what LayerGroups promises of any closure.
func checkGroups(t *testing.T, c *Closure, max int, groups [][]string) {
	t.Helper()
	if max <= 0 {
		max = DefaultMaxLayers
	}
	if len(groups) > max {
		t.Fatalf("%d groups, over the budget of %d", len(groups), max)
	}
	if len(c.Paths) <= max && len(groups) != len(c.Paths) {
		t.Fatalf("%d groups for %d paths under a budget of %d, want one a path", len(groups), len(c.Paths), max)
	}
	seen := map[string]int{}
	for i, g := range groups {
		if len(g) == 0 {
			t.Errorf("group %d is empty", i)
		}
		for _, p := range g {
			seen[p]++
		}
	}
	for _, p := range c.Paths {
		if seen[p] != 1 {
			t.Errorf("%s is in %d groups, want 1", StorePathName(p), seen[p])
		}
	}
	if len(seen) != len(c.Paths) {
		t.Errorf("groups hold %d distinct paths, the closure has %d", len(seen), len(c.Paths))
	}
	// Layers of their own first, most popular first.
	g2, nsolo := layerGroups(c, max)
	if !reflect.DeepEqual(g2, groups) {
		t.Fatalf("layerGroups and LayerGroups differ")
	}
	var solo []string
	if len(c.Paths) <= max {
		nsolo = len(groups)
	}
	for _, g := range groups[:nsolo] {
		if len(g) != 1 {
			t.Fatalf("a layer of its own holds %d paths", len(g))
		}
		solo = append(solo, g[0])
	}
	pop := popularity(c)
	for i := 1; i < len(solo); i++ {
		a, b := solo[i-1], solo[i]
		if pop[a] < pop[b] || pop[a] == pop[b] && a > b {
			t.Errorf("%s (%d dependents) comes before %s (%d dependents)", StorePathName(a), pop[a], StorePathName(b), pop[b])
		}
	}
	// Over budget, the paths with layers of their own are of at least
	// soloMin, at most half the budget, and the largest: a path of at
	// least soloMin shares a layer only when they are all taken by paths no
	// smaller.
	if len(c.Paths) > max && max > 1 {
		if nsolo > max-max/2 {
			t.Errorf("%d paths with layers of their own, over half the budget of %d", nsolo, max)
		}
		minSolo := int64(-1)
		for _, p := range solo {
			s := c.Info[p].NarSize
			if s < soloMin {
				t.Errorf("%s (%d bytes, under %d) has a layer of its own", StorePathName(p), s, soloMin)
			}
			if minSolo < 0 || s < minSolo {
				minSolo = s
			}
		}
		for _, g := range groups[nsolo:] {
			for _, p := range g {
				s := c.Info[p].NarSize
				if s >= soloMin && (nsolo < max-max/2 || s > minSolo) {
					t.Errorf("%s (%d bytes) shares a layer, while %d of %d layers of their own are taken, the smallest by %d bytes",
						StorePathName(p), s, nsolo, max-max/2, minSolo)
				}
			}
		}
	}
}

// changedGroups are the groups of b that a does not have, as sets.
func changedGroups(a, b [][]string) [][]string {
	key := func(g []string) string { s := slices.Clone(g); slices.Sort(s); return strings.Join(s, " ") }
	have := map[string]bool{}
	for _, g := range a {
		have[key(g)] = true
	}
	var out [][]string
	for _, g := range b {
		if !have[key(g)] {
			out = append(out, g)
		}
	}
	return out
}

func TestLayerGroupsGenerated(t *testing.T) {
	for _, tc := range []struct{ n, max int }{
		{6, 1}, {6, 2}, {6, 5}, {250, 10}, {250, 100}, {250, 0}, {250, 249}, {250, 250}, {250, 1000}, {3000, 100}, {3000, 7},
	} {
		t.Run(fmt.Sprintf("n=%d,max=%d", tc.n, tc.max), func(t *testing.T) {
			c := genClosure(rand.New(rand.NewSource(int64(tc.n))), tc.n)
			checkGroups(t, c, tc.max, LayerGroups(c, tc.max))
		})
	}
}

// Adding or removing one path changes at most two layers: the bucket the
// path is in, or its own layer, and the bucket of the path it displaces
// from (or lets into) a layer of its own.
func TestLayerGroupsChangeLocally(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, tc := range []struct{ n, max int }{{400, 100}, {2000, 100}, {150, 20}, {120, 100}} {
		t.Run(fmt.Sprintf("n=%d,max=%d", tc.n, tc.max), func(t *testing.T) {
			c := genClosure(rng, tc.n)
			before := LayerGroups(c, tc.max)
			for i := 0; i < 30; i++ {
				added := &Closure{Paths: slices.Clone(c.Paths), Info: maps.Clone(c.Info)}
				p := addPath(rng, added, fmt.Sprintf("new%02d", i))
				after := LayerGroups(added, tc.max)
				checkGroups(t, added, tc.max, after)
				if ch := changedGroups(before, after); len(ch) > 2 {
					t.Errorf("adding %s changed %d layers: %q", StorePathName(p), len(ch), names(ch))
				}
				removed := &Closure{Paths: slices.Clone(c.Paths), Info: c.Info}
				q := c.Paths[rng.Intn(len(c.Paths))]
				removePath(removed, q)
				if ch := changedGroups(before, LayerGroups(removed, tc.max)); len(ch) > 2 {
					t.Errorf("removing %s changed %d layers: %q", StorePathName(q), len(ch), names(ch))
				}
			}
		})
	}
}

// A small package added to a closure of big paths changes only layers of
// small paths: the registry gets a few bytes, not a big shared layer.
func TestLayerGroupsSmallAdditionStaysSmall(t *testing.T) {
	c := &Closure{Info: map[string]PathInfo{}}
	for i := 0; i < 400; i++ {
		p := sp(fmt.Sprintf("blob%03d", i))
		c.Paths = append(c.Paths, p)
		c.Info[p] = PathInfo{Path: p, NarSize: 1<<20 + 120}
	}
	slices.Sort(c.Paths)
	before := LayerGroups(c, 0)
	small := sp("greeter-1.0")
	added := &Closure{Paths: append(slices.Clone(c.Paths), small), Info: maps.Clone(c.Info)}
	added.Info[small] = PathInfo{Path: small, NarSize: 2000}
	slices.Sort(added.Paths)
	for _, g := range changedGroups(before, LayerGroups(added, 0)) {
		var bytes int64
		for _, p := range g {
			bytes += added.Info[p].NarSize
		}
		if bytes > 64<<10 {
			t.Errorf("adding a 2 kB path changed a layer of %d bytes: %q", bytes, names([][]string{g}))
		}
	}
}

// realisticClosure is n paths shaped like a real application's closure:
// most under 64 KiB, some up to 1 MiB, a few large (big bigs of 2-60 MiB),
// each referring to a few earlier paths.
func realisticClosure(rng *rand.Rand, n, big int) *Closure {
	c := &Closure{Info: map[string]PathInfo{}}
	for i := 0; i < n; i++ {
		p := sp(fmt.Sprintf("r%05d", i))
		size := 200 + rng.Int63n(60<<10)
		switch {
		case i < big:
			size = 2<<20 + rng.Int63n(58<<20)
		case rng.Intn(4) == 0:
			size = 64<<10 + rng.Int63n(960<<10)
		}
		var refs []string
		for k := 0; k < 3 && len(c.Paths) > 0; k++ {
			refs = append(refs, c.Paths[rng.Intn(len(c.Paths))])
		}
		slices.Sort(refs)
		refs = slices.Compact(refs)
		c.Info[p] = PathInfo{Path: p, NarSize: size, References: refs}
		c.Paths = append(c.Paths, p)
	}
	slices.Sort(c.Paths)
	return c
}

// groupBytes is the sum of the sizes of a group's paths.
func groupBytes(c *Closure, g []string) int64 {
	var n int64
	for _, p := range g {
		n += c.Info[p].NarSize
	}
	return n
}

// A new path larger than paths that have layers of their own, in a closure
// with fewer large paths than such layers (most real ones), gets a layer of
// its own and changes nothing else: no smaller path is pushed out into a
// bucket, which would be rebuilt and uploaded again. With more large paths
// than layers for them, the one other group that changes is a bucket of
// paths of at least soloMin.
func TestLayerGroupsLargeInsertion(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for _, tc := range []struct {
		name     string
		n, big   int
		max      int
		newSize  int64
		maxOther int // groups that may change besides the new path's
	}{
		{name: "few large paths, a large one added", n: 3000, big: 20, newSize: 30 << 20},
		{name: "few large paths, a just-large one added", n: 3000, big: 20, newSize: soloMin},
		{name: "few large paths, a medium one added", n: 3000, big: 20, newSize: 900 << 10},
		{name: "few large paths, tight budget", n: 500, big: 5, max: 12, newSize: 10 << 20},
		{name: "more large paths than layers, a larger one added", n: 2000, big: 80, newSize: 100 << 20, maxOther: 1},
		{name: "more large paths than layers, a small one added", n: 2000, big: 80, newSize: 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := realisticClosure(rng, tc.n, tc.big)
			before := LayerGroups(c, tc.max)
			checkGroups(t, c, tc.max, before)
			added := &Closure{Paths: slices.Clone(c.Paths), Info: maps.Clone(c.Info)}
			p := sp("new-package-1.0")
			added.Paths = append(added.Paths, p)
			slices.Sort(added.Paths)
			added.Info[p] = PathInfo{Path: p, NarSize: tc.newSize, References: []string{c.Paths[0]}}
			after := LayerGroups(added, tc.max)
			checkGroups(t, added, tc.max, after)
			var others [][]string
			for _, g := range changedGroups(before, after) {
				if !slices.Contains(g, p) {
					others = append(others, g)
				}
			}
			if len(others) > tc.maxOther {
				t.Fatalf("adding %s (%d bytes) changed %d groups besides its own: %q", StorePathName(p), tc.newSize, len(others), names(others))
			}
			for _, g := range others {
				for _, q := range g {
					if s := added.Info[q].NarSize; s < soloMin {
						t.Errorf("adding %s changed a group that holds %s, of %d bytes", StorePathName(p), StorePathName(q), s)
					}
				}
			}
			// Removing it again gives the groups back.
			if got := LayerGroups(c, tc.max); !reflect.DeepEqual(got, before) {
				t.Errorf("LayerGroups changed between calls")
			}
		})
	}
}

// With most paths small, a small package added costs a few kilobytes: the
// bucket it joins holds small paths only.
func TestLayerGroupsSmallAdditionToRealisticClosure(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	c := realisticClosure(rng, 3000, 30)
	before := LayerGroups(c, 0)
	for i := 0; i < 20; i++ {
		added := &Closure{Paths: slices.Clone(c.Paths), Info: maps.Clone(c.Info)}
		p := sp(fmt.Sprintf("small%02d", i))
		added.Paths = append(added.Paths, p)
		slices.Sort(added.Paths)
		added.Info[p] = PathInfo{Path: p, NarSize: 2000}
		ch := changedGroups(before, LayerGroups(added, 0))
		if len(ch) != 1 {
			t.Fatalf("adding %s changed %d groups, want 1: %q", StorePathName(p), len(ch), names(ch))
		}
		// 3000 paths over the small class's 16 buckets: about 140 of
		// under 64 KiB each.
		if n := groupBytes(added, ch[0]); n > 16<<20 {
			t.Errorf("adding %s changed a group of %d bytes", StorePathName(p), n)
		}
	}
}

func TestLayerGroupsDeterministic(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	c := genClosure(rng, 300)
	want := LayerGroups(c, 40)
	orig := slices.Clone(c.Paths)
	for i := 0; i < 20; i++ {
		shuffled := &Closure{Paths: slices.Clone(orig), Info: c.Info}
		rng.Shuffle(len(shuffled.Paths), func(i, j int) {
			shuffled.Paths[i], shuffled.Paths[j] = shuffled.Paths[j], shuffled.Paths[i]
		})
		if got := LayerGroups(shuffled, 40); !reflect.DeepEqual(got, want) {
			t.Fatalf("LayerGroups of a shuffled closure = %q, want %q", names(got), names(want))
		}
	}
	if !reflect.DeepEqual(c.Paths, orig) {
		t.Errorf("LayerGroups changed the closure's Paths")
	}
}

func BenchmarkLayerGroups5000(b *testing.B) {
	c := genClosure(rand.New(rand.NewSource(5)), 5000)
	b.ResetTimer()
	for b.Loop() {
		LayerGroups(c, 0)
	}
}

func TestLayerGroupsWithoutInfo(t *testing.T) {
	// Older nix may report no path info: order is by path alone, and no
	// path is large enough for a layer of its own over the budget.
	c := &Closure{Paths: sortedCopy(sp("b"), sp("a"), sp("c"))}
	got := LayerGroups(c, 2)
	want := [][]string{{c.Paths[0], c.Paths[1], c.Paths[2]}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LayerGroups = %q, want %q", got, want)
	}
}

func TestPopularity(t *testing.T) {
	// A chain, a self reference and a cycle (nix has none, but no loop).
	c := graph("a: b a", "b: c", "c: b", "d:")
	got := map[string]int{}
	for p, n := range popularity(c) {
		got[StorePathName(p)] = n
	}
	// b is reached from a and c, c from a and b; a only from itself, which
	// does not count; d from nothing.
	want := map[string]int{"b": 2, "c": 2}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("popularity = %v, want %v", got, want)
	}
}

func TestHumanSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{n: 0, want: "0 B"},
		{n: 1023, want: "1023 B"},
		{n: 1024, want: "1 kB"},
		{n: 5 << 20, want: "5 MB"},
		{n: 3 << 29, want: "1.5 GB"},
	}
	for _, tt := range tests {
		if got := humanSize(tt.n); got != tt.want {
			t.Errorf("humanSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// copiedPaths are the store paths a copy of CopyClosure copies: one to
// itself, the store's entries its include patterns name, or a layer's
// archive's.
func copiedPaths(t *testing.T, c *Closure, cp *pb.FileActionCopy) []string {
	t.Helper()
	if cp.AttemptUnpackDockerCompatibility {
		for _, l := range c.Layers {
			if "/"+l.Archive == cp.Src && cp.Dest == "/" && !cp.AllowWildcard && len(cp.IncludePatterns) == 0 {
				return l.Paths
			}
		}
		t.Errorf("unpack of %s to %s (wildcards: %t, patterns %q), want a layer's archive, at /", cp.Src, cp.Dest, cp.AllowWildcard, cp.IncludePatterns)
		return nil
	}
	if strings.TrimSuffix(cp.Src, "/") != StoreDir {
		if cp.Src != cp.Dest || len(cp.IncludePatterns) > 0 {
			t.Errorf("copy %s to %s with patterns %q, want the same path", cp.Src, cp.Dest, cp.IncludePatterns)
		}
		return []string{cp.Src}
	}
	if strings.TrimSuffix(cp.Dest, "/") != StoreDir || !cp.DirCopyContents || len(cp.IncludePatterns) == 0 || cp.AllowWildcard {
		t.Errorf("copy of the store to %s (contents only: %t, wildcards: %t) with patterns %q, want the named entries to the store",
			cp.Dest, cp.DirCopyContents, cp.AllowWildcard, cp.IncludePatterns)
	}
	var out []string
	for _, pat := range cp.IncludePatterns {
		out = append(out, StoreDir+"/"+strings.ReplaceAll(pat, `\`, ""))
	}
	return out
}

func TestLiteralPattern(t *testing.T) {
	for name, want := range map[string]string{
		"abc-hello-2.12":         "abc-hello-2.12",
		"abc-odd+name_v1.0-x?=y": `abc-odd+name_v1.0-x\?=y`,
		`a*b[c]d\e`:              `a\*b\[c\]d\\e`,
	} {
		if got := literalPattern(name); got != want {
			t.Errorf("literalPattern(%q) = %q, want %q", name, got, want)
		}
	}
}

// CopyClosure makes one file op a layer, merged when there are several,
// copying each store path to itself, or unpacking its archive at /.
func TestCopyClosure(t *testing.T) {
	c := graph(smallClosure...)
	for _, tt := range []struct {
		max        int
		caps       Caps
		wantLayers int
		restamped  int // layers copied once more, whole
		wantMerge  bool
		archives   bool
	}{
		{max: 1, wantLayers: 1, wantMerge: false},
		{max: 3, wantLayers: 3, wantMerge: true},
		// Restamped: one more file op for the layer of several paths.
		{max: 3, caps: Caps{NoCopyPatterns: true}, wantLayers: 3, restamped: 1, wantMerge: true},
		{max: 0, wantLayers: len(c.Paths), wantMerge: true},
		// Archives: an unpack a path, and their parents need no restamp.
		{max: 3, archives: true, wantLayers: 3, wantMerge: true},
		{max: 1, archives: true, wantLayers: 1},
		{max: 3, archives: true, caps: Caps{NoCopyPatterns: true, RestampCopies: true}, wantLayers: 3, wantMerge: true},
	} {
		t.Run(fmt.Sprintf("max=%d,caps=%+v,archives=%t", tt.max, tt.caps, tt.archives), func(t *testing.T) {
			c.Layers = nil
			if tt.archives {
				c.Layers = ArchiveLayers(c, tt.max)
			}
			st, history := CopyClosure(llb.Image("docker.io/nixos/nix:2.28.3"), c, CopyOpts{MaxLayers: tt.max, Caps: tt.caps, Archives: tt.archives})
			if len(history) != tt.wantLayers {
				t.Errorf("%d history lines, want one a layer: %d", len(history), tt.wantLayers)
			}
			def, err := st.Marshal(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var fileOps, merges int
			copied := map[string]int{}
			for _, op := range llbtest.Ops(t, def) {
				if f := op.GetFile(); f != nil {
					fileOps++
					for _, a := range f.GetActions() {
						if cp := a.GetCopy(); cp != nil {
							if cp.Src == "/" && cp.Dest == "/" && cp.DirCopyContents {
								continue // a layer restamped
							}
							if tt.caps.NoCopyPatterns && len(cp.IncludePatterns) > 0 {
								t.Errorf("a copy with include patterns %q, for a BuildKit without them", cp.IncludePatterns)
							}
							if cp.AttemptUnpackDockerCompatibility != tt.archives {
								t.Errorf("copy of %s unpacks: %t, want %t", cp.Src, cp.AttemptUnpackDockerCompatibility, tt.archives)
							}
							for _, p := range copiedPaths(t, c, cp) {
								copied[p]++
							}
						}
					}
				}
				if op.GetMerge() != nil {
					merges++
				}
			}
			if fileOps != tt.wantLayers+tt.restamped {
				t.Errorf("%d file ops, want %d", fileOps, tt.wantLayers+tt.restamped)
			}
			if (merges == 1) != tt.wantMerge || merges > 1 {
				t.Errorf("%d merge ops, want merge=%t", merges, tt.wantMerge)
			}
			for _, p := range c.Paths {
				if copied[p] != 1 {
					t.Errorf("%s copied %d times, want 1", p, copied[p])
				}
			}
			if len(copied) != len(c.Paths) {
				t.Errorf("copied %d paths, want %d", len(copied), len(c.Paths))
			}
		})
	}
}

package nixllb

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/moby/buildkit/client/llb"
)

// DefaultMaxLayers is the default layer budget for the closure: room under
// overlayfs' 127-layer limit for the image's own files and images built on top.
const DefaultMaxLayers = 100

// CopyOpts tunes how the closure becomes layers.
type CopyOpts struct {
	// MaxLayers is the most layers the closure takes; 0 is DefaultMaxLayers.
	MaxLayers int
	// Caps are the daemon's: without MergeOp the layers are stacked.
	Caps Caps
	// Archives says the source holds the archives of the closure's
	// Layers (see Stage.Closure), not the paths themselves: the nix stage
	// grouped the closure, and MaxLayers is not used.
	Archives bool
}

// StoreTime is the mtime of everything under /nix, as nix itself sets it:
// of the closure's layers, and of the archives they unpack (storetar).
var StoreTime = time.Unix(1, 0).UTC()

// CopyClosure puts exactly the closure's store paths from src at their
// paths on scratch, as layers (see LayerGroups), and describes each layer,
// in order, for the image's history. Owners, modes and times are fixed, so
// a store path gives the same layer in every image and build.
func CopyClosure(src llb.State, c *Closure, opt CopyOpts) (llb.State, []string) {
	var groups [][]string
	if opt.Archives {
		for _, l := range c.Layers {
			groups = append(groups, l.Paths)
		}
	} else {
		groups = LayerGroups(c, opt.MaxLayers)
	}
	layers := make([]llb.State, 0, len(groups))
	summary := fmt.Sprintf("[closure] %d paths, %s", len(c.Paths), humanSize(c.Size()))
	for i, g := range groups {
		var action *llb.FileAction
		info := func() *llb.CopyInfo {
			return &llb.CopyInfo{
				CreateDestPath: true,
				CreatedTime:    &StoreTime,
				ChownOpt:       &llb.ChownOpt{User: &llb.UserOpt{UID: 0}, Group: &llb.UserOpt{UID: 0}},
			}
		}
		if opt.Archives {
			// The layer's archive, unpacked at /: BuildKit keys the copy
			// on the checksum of one file (see storetar).
			in := info()
			in.AttemptUnpack = true
			action = action.Copy(src, "/"+c.Layers[i].Archive, "/", in)
		} else if len(g) > 1 && !opt.Caps.NoCopyPatterns {
			// One copy of the store's entries the group names, rather than
			// a copy a path: BuildKit checksums each copy's source for the
			// cache key whenever the nix stage ran again (a package more),
			// and a source a path made that cost grow with the square of
			// the closure's paths (seen: 18 s for 2,000 tiny paths).
			in := info()
			in.CopyDirContentsOnly = true
			in.IncludePatterns = make([]string, len(g))
			for i, p := range g {
				in.IncludePatterns[i] = literalPattern(p[len(StoreDir)+1:])
			}
			action = action.Copy(src, StoreDir+"/", StoreDir+"/", in)
		} else {
			for _, p := range g {
				action = action.Copy(src, p, p, info())
			}
		}
		name := "[closure] " + StorePathName(g[0])
		if len(groups) == 1 {
			name = summary
		} else if len(g) > 1 {
			name = fmt.Sprintf("[closure] %s and %d more", StorePathName(g[0]), len(g)-1)
		}
		layer := llb.Scratch().File(action, llb.WithCustomName(name))
		// Copies a path each into one layer leave /nix/store with the time
		// the second one added to it: restamped, as on a BuildKit that
		// stamps no parents, the layer is the one include patterns make.
		// An archive's nix/ and nix/store/ have the store's time, and
		// unpacking gives it to them after their contents.
		if !opt.Archives && (opt.Caps.RestampCopies || len(g) > 1 && opt.Caps.NoCopyPatterns) {
			// A copy of the whole tree makes /nix and /nix/store itself,
			// and stamps them after what they hold.
			layer = llb.Scratch().File(llb.Copy(layer, "/", "/", &llb.CopyInfo{CopyDirContentsOnly: true, CreatedTime: &StoreTime}),
				llb.WithCustomName(name+" (restamped)"))
		}
		layers = append(layers, layer)
	}
	return Combine(layers, opt.Caps, summary), layerHistory(groups)
}

// literalPattern is a pattern of BuildKit's include patterns that matches
// name alone: store path names may hold "?", which a pattern takes for any
// character ("*", "[" and backslashes cannot be in them, but are escaped too).
func literalPattern(name string) string {
	var b strings.Builder
	for _, r := range name {
		if strings.ContainsRune(`?*[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// LayerGroups splits the closure into at most max groups, each a layer, so
// that the same store path makes the same layer in every image, and a
// change to the closure changes few layers.
//
// When the closure fits, every store path is a layer of its own. When it
// does not, the budget is split in two fixed halves: buckets, and layers of
// their own for paths of at least soloMin (1 MiB), the largest first. Every
// other path goes into a bucket chosen by its store hash and its size class
// (under 64 KiB, under 1 MiB, or larger), so adding or removing a path
// changes its own layer or bucket and nothing else, with one exception:
// when more paths are that large than there are layers for them, one path
// of at least 1 MiB moves between a layer of its own and a bucket of such
// paths (the largest it displaces, or the one its removal lets in). Both
// the threshold and the number of buckets are fixed, not drawn from the
// rest of the closure: a new path never pushes a smaller one out of a layer
// of its own unless both are big, and then the bucket that changes holds
// only big paths, any of which the new one could have joined as well. A
// small package added to a closure of big ones lands among small paths
// only: the layer that changes stays small. Sizes that nix does not report
// count as 0. (Crossing the budget, from max paths to max+1, regroups all.)
//
// Groups are ordered most popular first (the paths the most other paths of
// the closure depend on, as in nixpkgs' dockerTools): base libraries at the
// bottom, so images that share them share a prefix of layers. Buckets come
// after the paths with layers of their own, in a fixed order.
func LayerGroups(c *Closure, max int) [][]string {
	groups, _ := layerGroups(c, max)
	return groups
}

// soloMin is the size from which a path gets a layer of its own over the
// budget: the lower bound of the largest size class. A path below it costs
// less to upload again in a bucket than a layer costs in the budget.
const soloMin = 1 << 20

// layerGroups is LayerGroups, and how many of its groups are paths with a
// layer of their own over the budget (the first ones; 0 when under it).
// Paths are sorted with their sort keys at hand, not looked up in maps for
// every comparison: a big closure's no-change rebuild pays this each time.
func layerGroups(c *Closure, max int) ([][]string, int) {
	if max <= 0 {
		max = DefaultMaxLayers
	}
	count := popularityCounts(c)
	keys := make([]pathKey, len(c.Paths))
	for i, p := range c.Paths {
		keys[i] = pathKey{path: p, size: c.Info[p].NarSize, pop: count[i]}
	}
	if len(keys) <= max {
		slices.SortFunc(keys, byPopularity)
		groups := make([][]string, len(keys))
		for i, k := range keys {
			groups[i] = []string{k.path}
		}
		return groups, 0
	}
	buckets := max / 2
	if buckets == 0 {
		slices.SortFunc(keys, byPopularity)
		return [][]string{pathsOf(keys)}, 0
	}
	// The largest first; ties by popularity, then path: a total order, so
	// the same closure in any order gives the same groups.
	slices.SortFunc(keys, func(a, b pathKey) int {
		if a.size != b.size {
			return cmp.Compare(b.size, a.size)
		}
		return byPopularity(a, b)
	})
	solo := 0
	for solo < max-buckets && keys[solo].size >= soloMin {
		solo++
	}
	own := keys[:solo]
	slices.SortFunc(own, byPopularity)
	groups := make([][]string, 0, max)
	for _, k := range own {
		groups = append(groups, []string{k.path})
	}
	shared := make([][]pathKey, buckets)
	for _, k := range keys[solo:] {
		b := bucketOf(k.path, k.size, buckets)
		shared[b] = append(shared[b], k)
	}
	for _, g := range shared {
		if len(g) > 0 {
			slices.SortFunc(g, byPopularity)
			groups = append(groups, pathsOf(g))
		}
	}
	return groups, solo
}

// pathKey is a path with what it is sorted by.
type pathKey struct {
	path string
	size int64
	pop  int
}

// byPopularity orders the most popular first, then by path.
func byPopularity(a, b pathKey) int {
	if a.pop != b.pop {
		return cmp.Compare(b.pop, a.pop)
	}
	return strings.Compare(a.path, b.path)
}

func pathsOf(keys []pathKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.path
	}
	return out
}

// sizeClasses bound the size classes of bucketed paths: a path goes to the
// buckets of the first class it is under.
var sizeClasses = []int64{64 << 10, soloMin}

// bucketOf is the bucket of a path that has no layer of its own: its size
// class picks a range of the buckets (all of them when there are fewer
// buckets than classes), its store hash one bucket of that range. It
// depends on nothing else, so it never changes for a path.
func bucketOf(p string, size int64, buckets int) int {
	h := fnv.New64a()
	h.Write([]byte(strings.TrimPrefix(p, StoreDir+"/")[:min(len(p)-len(StoreDir)-1, 32)]))
	classes := len(sizeClasses) + 1
	if buckets < classes {
		return int(h.Sum64() % uint64(buckets))
	}
	class := len(sizeClasses)
	for i, limit := range sizeClasses {
		if size < limit {
			class = i
			break
		}
	}
	// Class k owns buckets [k*buckets/classes, (k+1)*buckets/classes).
	lo, hi := class*buckets/classes, (class+1)*buckets/classes
	return lo + int(h.Sum64()%uint64(hi-lo))
}

// popularity counts, for each path, the closure paths that depend on it,
// directly or not. It works on strongly connected components (nix closures
// have none but self references, but a cycle must not loop) in the order
// Tarjan's algorithm finds them, each reachable component before the ones
// that reach it, with the paths a component reaches as a bitset: linear in
// the references, times the closure's size over 64.
func popularity(c *Closure) map[string]int {
	pop := map[string]int{}
	for i, n := range popularityCounts(c) {
		if n > 0 {
			pop[c.Paths[i]] = n
		}
	}
	return pop
}

// popularityCounts is popularity by index in c.Paths.
func popularityCounts(c *Closure) []int {
	n := len(c.Paths)
	index := make(map[string]int, n)
	for i, p := range c.Paths {
		index[p] = i
	}
	refs := make([][]int, n)
	for i, p := range c.Paths {
		for _, r := range c.Info[p].References {
			if j, ok := index[r]; ok && j != i {
				refs[i] = append(refs[i], j)
			}
		}
	}
	sccs := stronglyConnected(refs)
	comp := make([]int, n)
	for k, members := range sccs {
		for _, v := range members {
			comp[v] = k
		}
	}
	words := (n + 63) / 64
	reach := make([][]uint64, len(sccs)) // paths a component's paths reach, outside it
	// The counts are summed a word at a time, in bit slices: counter
	// bit p of path i*64+b is bit b of planes[i*depth+p]. Walking each
	// set bit instead costs the square of a deep closure's paths.
	depth := bits.Len(uint(n)) + 1
	planes := make([]uint64, words*depth)
	count := make([]int, n)
	var outs []int
	for k, members := range sccs {
		// The components this one refers to, those that reach the most
		// first (a component comes after every one it reaches): one
		// already reached adds nothing, as what reaches it reaches all it
		// does. That skips most references of a dense closure.
		outs = outs[:0]
		for _, v := range members {
			for _, w := range refs[v] {
				if kw := comp[w]; kw != k {
					outs = append(outs, kw)
				}
			}
		}
		slices.Sort(outs)
		r := make([]uint64, words)
		for j := len(outs) - 1; j >= 0; j-- {
			kw := outs[j]
			if m := sccs[kw][0]; r[m/64]&(1<<(m%64)) != 0 {
				continue
			}
			for i, x := range reach[kw] {
				r[i] |= x
			}
			for _, m := range sccs[kw] {
				r[m/64] |= 1 << (m % 64)
			}
		}
		reach[k] = r
		for range members { // each member reaches r
			for i, x := range r {
				plane := planes[i*depth : (i+1)*depth]
				for p := 0; x != 0; p++ {
					plane[p], x = plane[p]^x, plane[p]&x
				}
			}
		}
		for _, v := range members {
			count[v] += len(members) - 1 // the others of a cycle
		}
	}
	for v := range count {
		plane := planes[v/64*depth : (v/64+1)*depth]
		for p, x := range plane {
			count[v] += int(x>>(v%64)&1) << p
		}
	}
	return count
}

// stronglyConnected is Tarjan's algorithm: the components of the graph,
// each after every component it reaches.
func stronglyConnected(refs [][]int) [][]int {
	n := len(refs)
	var (
		index   = make([]int, n)
		low     = make([]int, n)
		onStack = make([]bool, n)
		stack   []int
		next    = 1
		out     [][]int
	)
	var visit func(v int)
	visit = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range refs[v] {
			if index[w] == 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var members []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				members = append(members, w)
				if w == v {
					break
				}
			}
			out = append(out, members)
		}
	}
	for v := range refs {
		if index[v] == 0 {
			visit(v)
		}
	}
	return out
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// layerHistory describes each group's layer: the store path, or the paths
// a shared layer holds.
func layerHistory(groups [][]string) []string {
	var out []string
	for _, g := range groups {
		if len(g) == 1 {
			out = append(out, g[0])
			continue
		}
		shown := g
		if len(shown) > 8 {
			shown = shown[:8]
		}
		d := fmt.Sprintf("%d store paths: %s", len(g), strings.Join(shown, " "))
		if len(g) > len(shown) {
			d += " ..."
		}
		out = append(out, d)
	}
	return out
}

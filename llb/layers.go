package nixllb

import (
	"fmt"
	"hash/fnv"
	"math/bits"
	"sort"
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
}

// storeTime is the mtime of everything under /nix, as nix itself sets it.
var storeTime = time.Unix(1, 0).UTC()

// CopyClosure puts exactly the closure's store paths from src at their
// paths on scratch, as layers (see LayerGroups). Owners, modes and times are
// fixed, so a store path gives the same layer in every image and build.
func CopyClosure(src llb.State, c *Closure, opt CopyOpts) llb.State {
	groups := LayerGroups(c, opt.MaxLayers)
	layers := make([]llb.State, 0, len(groups))
	summary := fmt.Sprintf("[closure] %d paths, %s", len(c.Paths), humanSize(c.Size()))
	for _, g := range groups {
		var action *llb.FileAction
		for _, p := range g {
			info := &llb.CopyInfo{
				CreateDestPath: true,
				CreatedTime:    &storeTime,
				ChownOpt:       &llb.ChownOpt{User: &llb.UserOpt{UID: 0}, Group: &llb.UserOpt{UID: 0}},
			}
			action = action.Copy(src, p, p, info)
		}
		name := "[closure] " + StorePathName(g[0])
		if len(groups) == 1 {
			name = summary
		} else if len(g) > 1 {
			name = fmt.Sprintf("[closure] %s and %d more", StorePathName(g[0]), len(g)-1)
		}
		layer := llb.Scratch().File(action, llb.WithCustomName(name))
		if opt.Caps.RestampCopies {
			// A copy of the whole tree makes /nix and /nix/store itself,
			// and stamps them after what they hold.
			layer = llb.Scratch().File(llb.Copy(layer, "/", "/", &llb.CopyInfo{CopyDirContentsOnly: true, CreatedTime: &storeTime}),
				llb.WithCustomName(name+" (restamped)"))
		}
		layers = append(layers, layer)
	}
	return Combine(layers, opt.Caps, summary)
}

// LayerGroups splits the closure into at most max groups, each a layer, so
// that the same store path makes the same layer in every image, and a
// change to the closure changes few layers.
//
// When the closure fits, every store path is a layer of its own. When it
// does not, the budget is split: half the layers are buckets, the other half
// go to the largest paths, a layer each. Every other path goes into a bucket
// chosen by its store hash and its size class (under 64 KiB, under 1 MiB,
// or larger), so adding or removing a path changes its own bucket and at
// most one more: the largest path it displaces from (or lets into) a layer
// of its own. A small package added to a closure of big ones lands among
// small paths only: the layer that changes stays small. Sizes that nix does
// not report count as 0.
//
// Groups are ordered most popular first (the paths the most other paths of
// the closure depend on, as in nixpkgs' dockerTools): base libraries at the
// bottom, so images that share them share a prefix of layers. Buckets come
// after the paths with layers of their own, in a fixed order.
func LayerGroups(c *Closure, max int) [][]string {
	if max <= 0 {
		max = DefaultMaxLayers
	}
	pop := popularity(c)
	// byPopularity sorts paths in place, most popular first, and returns them.
	byPopularity := func(paths []string) []string {
		sort.SliceStable(paths, func(i, j int) bool {
			if pop[paths[i]] != pop[paths[j]] {
				return pop[paths[i]] > pop[paths[j]]
			}
			return paths[i] < paths[j]
		})
		return paths
	}
	paths := append([]string(nil), c.Paths...)
	if len(paths) <= max {
		byPopularity(paths)
		groups := make([][]string, len(paths))
		for i, p := range paths {
			groups[i] = []string{p}
		}
		return groups
	}
	buckets := max / 2
	if buckets == 0 {
		return [][]string{byPopularity(paths)}
	}
	solo := max - buckets
	size := func(p string) int64 { return c.Info[p].NarSize }
	sort.SliceStable(paths, func(i, j int) bool {
		if size(paths[i]) != size(paths[j]) {
			return size(paths[i]) > size(paths[j])
		}
		if pop[paths[i]] != pop[paths[j]] {
			return pop[paths[i]] > pop[paths[j]]
		}
		return paths[i] < paths[j]
	})
	own := paths[:solo]
	byPopularity(own)
	groups := make([][]string, 0, max)
	for _, p := range own {
		groups = append(groups, []string{p})
	}
	shared := make([][]string, buckets)
	for _, p := range paths[solo:] {
		b := bucketOf(p, size(p), buckets)
		shared[b] = append(shared[b], p)
	}
	for _, g := range shared {
		if len(g) > 0 {
			groups = append(groups, byPopularity(g))
		}
	}
	return groups
}

// sizeClasses bound the size classes of bucketed paths: a path goes to the
// buckets of the first class it is under.
var sizeClasses = []int64{64 << 10, 1 << 20}

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
	count := make([]int, n)
	for k, members := range sccs {
		r := make([]uint64, words)
		for _, v := range members {
			for _, w := range refs[v] {
				if kw := comp[w]; kw != k {
					for i, x := range reach[kw] {
						r[i] |= x
					}
					for _, m := range sccs[kw] {
						r[m/64] |= 1 << (m % 64)
					}
				}
			}
		}
		reach[k] = r
		for i, x := range r {
			for x != 0 {
				b := bits.TrailingZeros64(x)
				count[i*64+b] += len(members)
				x &^= 1 << b
			}
		}
		for _, v := range members {
			count[v] += len(members) - 1 // the others of a cycle
		}
	}
	pop := map[string]int{}
	for i, p := range c.Paths {
		if count[i] > 0 {
			pop[p] = count[i]
		}
	}
	return pop
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

// LayerHistory describes each layer CopyClosure makes, in order, for the
// image's history: the store path, or the paths a shared layer holds.
func LayerHistory(c *Closure, max int) []string {
	var out []string
	for _, g := range LayerGroups(c, max) {
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

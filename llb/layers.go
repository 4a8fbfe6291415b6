package nixllb

import (
	"fmt"
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
			if action == nil {
				action = llb.Copy(src, p, p, info)
			} else {
				action = action.Copy(src, p, p, info)
			}
		}
		name := "[closure] " + StorePathName(g[0])
		if len(groups) == 1 {
			name = summary
		} else if len(g) > 1 {
			name = fmt.Sprintf("[closure] %s and %d more", StorePathName(g[0]), len(g)-1)
		}
		layers = append(layers, llb.Scratch().File(action, llb.WithCustomName(name)))
	}
	return Combine(layers, opt.Caps, summary)
}

// LayerGroups splits the closure into at most max groups, each a layer. When
// the closure fits, every store path is a layer of its own, so the same path
// is the same layer in every image. When it does not, the most popular paths
// (those the most other paths of the closure depend on, as in nixpkgs'
// dockerTools) keep layers of their own and the rest share the last one.
// Groups are ordered most popular first: base libraries at the bottom, so
// images that share them share a prefix of layers.
func LayerGroups(c *Closure, max int) [][]string {
	if max <= 0 {
		max = DefaultMaxLayers
	}
	pop := popularity(c)
	paths := append([]string(nil), c.Paths...)
	sort.SliceStable(paths, func(i, j int) bool {
		if pop[paths[i]] != pop[paths[j]] {
			return pop[paths[i]] > pop[paths[j]]
		}
		return paths[i] < paths[j]
	})
	var groups [][]string
	for i, p := range paths {
		if i < max-1 || len(paths) <= max {
			groups = append(groups, []string{p})
			continue
		}
		if len(groups) < max {
			groups = append(groups, nil)
		}
		groups[max-1] = append(groups[max-1], p)
	}
	return groups
}

// popularity counts, for each path, the closure paths that depend on it,
// directly or not.
func popularity(c *Closure) map[string]int {
	pop := map[string]int{}
	for _, p := range c.Paths {
		seen := map[string]bool{p: true}
		stack := []string{p}
		for len(stack) > 0 {
			cur := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, r := range c.Info[cur].References {
				if !seen[r] {
					seen[r] = true
					pop[r]++
					stack = append(stack, r)
				}
			}
		}
	}
	return pop
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

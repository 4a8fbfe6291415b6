package nixllb

import (
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
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

func TestLayerGroupsOverBudget(t *testing.T) {
	c := graph(smallClosure...)
	all := names(LayerGroups(c, 100)) // one path a group, in order
	for max := 1; max < len(c.Paths); max++ {
		t.Run(fmt.Sprint("max=", max), func(t *testing.T) {
			got := names(LayerGroups(c, max))
			if len(got) != max {
				t.Fatalf("LayerGroups(max=%d) gave %d groups: %q", max, len(got), got)
			}
			// The most popular paths keep their own layers, the rest share
			// the last one, in the same order.
			for i := 0; i < max-1; i++ {
				if !reflect.DeepEqual(got[i], all[i]) {
					t.Errorf("group %d = %q, want %q", i, got[i], all[i])
				}
			}
			var last []string
			for _, g := range all[max-1:] {
				last = append(last, g...)
			}
			if !reflect.DeepEqual(got[max-1], last) {
				t.Errorf("last group = %q, want %q", got[max-1], last)
			}
		})
	}
}

// A generated closure of many paths: each group is non-empty, every path
// is in exactly one group, the budget is kept and popular paths go first.
func TestLayerGroupsLarge(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	const n = 250
	var spec []string
	for i := 0; i < n; i++ {
		line := fmt.Sprintf("p%03d:", i)
		for j := 0; j < i; j++ {
			if rng.Intn(10) == 0 { // paths only refer to earlier ones: a DAG
				line += fmt.Sprintf(" p%03d", j)
			}
		}
		spec = append(spec, line)
	}
	c := graph(spec...)
	pop := popularity(c)
	for _, max := range []int{1, 2, 10, 99, 100, 0, 249, 250, 251, 1000} {
		t.Run(fmt.Sprint("max=", max), func(t *testing.T) {
			groups := LayerGroups(c, max)
			budget := max
			if budget <= 0 {
				budget = DefaultMaxLayers
			}
			wantGroups := min(budget, n)
			if len(groups) != wantGroups {
				t.Fatalf("got %d groups, want %d", len(groups), wantGroups)
			}
			seen := map[string]int{}
			var order []string
			for i, g := range groups {
				if len(g) == 0 {
					t.Errorf("group %d is empty", i)
				}
				if i < len(groups)-1 && len(g) != 1 {
					t.Errorf("group %d has %d paths, want 1", i, len(g))
				}
				for _, p := range g {
					seen[p]++
					order = append(order, p)
				}
			}
			for _, p := range c.Paths {
				if seen[p] != 1 {
					t.Errorf("%s is in %d groups, want 1", StorePathName(p), seen[p])
				}
			}
			if len(seen) != len(c.Paths) {
				t.Errorf("groups hold %d distinct paths, closure has %d", len(seen), len(c.Paths))
			}
			for i := 1; i < len(order); i++ {
				a, b := order[i-1], order[i]
				if pop[a] < pop[b] || pop[a] == pop[b] && a > b {
					t.Errorf("%s (%d dependents) comes before %s (%d dependents)", StorePathName(a), pop[a], StorePathName(b), pop[b])
				}
			}
		})
	}
}

func TestLayerGroupsDeterministic(t *testing.T) {
	c := graph(smallClosure...)
	want := LayerGroups(c, 3)
	orig := slices.Clone(c.Paths)
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 20; i++ {
		shuffled := &Closure{Paths: slices.Clone(orig), Info: c.Info}
		rng.Shuffle(len(shuffled.Paths), func(i, j int) {
			shuffled.Paths[i], shuffled.Paths[j] = shuffled.Paths[j], shuffled.Paths[i]
		})
		if got := LayerGroups(shuffled, 3); !reflect.DeepEqual(got, want) {
			t.Fatalf("LayerGroups of %q = %q, want %q", shuffled.Paths, names(got), names(want))
		}
	}
	if !reflect.DeepEqual(c.Paths, orig) {
		t.Errorf("LayerGroups changed the closure's Paths")
	}
}

func TestLayerGroupsWithoutInfo(t *testing.T) {
	// Older nix may report no path info: order is by path alone.
	c := &Closure{Paths: sortedCopy(sp("b"), sp("a"), sp("c"))}
	got := LayerGroups(c, 2)
	want := [][]string{{c.Paths[0]}, {c.Paths[1], c.Paths[2]}}
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

// CopyClosure makes one file op a layer, merged when there are several,
// copying each store path to itself.
func TestCopyClosure(t *testing.T) {
	c := graph(smallClosure...)
	for _, tt := range []struct {
		max        int
		wantLayers int
		wantMerge  bool
	}{
		{max: 1, wantLayers: 1, wantMerge: false},
		{max: 3, wantLayers: 3, wantMerge: true},
		{max: 0, wantLayers: len(c.Paths), wantMerge: true},
	} {
		t.Run(fmt.Sprint("max=", tt.max), func(t *testing.T) {
			st := CopyClosure(llb.Image("docker.io/nixos/nix:2.28.3"), c, CopyOpts{MaxLayers: tt.max})
			def, err := st.Marshal(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var fileOps, merges int
			copied := map[string]int{}
			for _, dt := range def.Def {
				var op pb.Op
				if err := op.UnmarshalVT(dt); err != nil {
					t.Fatal(err)
				}
				if f := op.GetFile(); f != nil {
					fileOps++
					for _, a := range f.GetActions() {
						if cp := a.GetCopy(); cp != nil {
							if cp.GetSrc() != cp.GetDest() {
								t.Errorf("copy %s to %s, want the same path", cp.GetSrc(), cp.GetDest())
							}
							copied[cp.GetSrc()]++
						}
					}
				}
				if op.GetMerge() != nil {
					merges++
				}
			}
			if fileOps != tt.wantLayers {
				t.Errorf("%d file ops, want %d", fileOps, tt.wantLayers)
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

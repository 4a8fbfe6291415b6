package main

import (
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// The helpers behind the tables; the benchmark itself asserts nothing.

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{5}, 5},
		{[]time.Duration{9, 1, 5}, 5},
		{[]time.Duration{4, 1, 3, 2}, 2}, // (2+3)/2, rounded down
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func desc(s string, size int64) ocispecs.Descriptor {
	return ocispecs.Descriptor{Digest: digest.FromString(s), Size: size}
}

func TestAddedBytes(t *testing.T) {
	first := imageInfo{layers: []ocispecs.Descriptor{desc("a", 100), desc("b", 200)}}
	second := imageInfo{
		manifest: desc("m", 7), config: desc("c", 5),
		layers: []ocispecs.Descriptor{desc("a", 100), desc("b", 200), desc("x", 30), desc("x", 30)},
	}
	n, bytes := addedBytes(first, second)
	if n != 1 || bytes != 30+5+7 {
		t.Errorf("addedBytes = %d layers, %d bytes; want 1 layer, 42 bytes", n, bytes)
	}
}

func TestNixfile(t *testing.T) {
	got := build{side: ours, packages: []string{"hello", "tools.greet"}, nixFiles: []string{"slow.nix"}}.nixfile()
	want := "PACKAGES hello tools.greet\nBUILD slow.nix\nROOTFS none\n"
	if !strings.HasSuffix(got, want) {
		t.Errorf("nixfile:\n%s\nwant it to end in:\n%s", got, want)
	}
	if got := (build{packages: []string{"hello"}, rootfsDefaults: true}).nixfile(); strings.Contains(got, "ROOTFS") {
		t.Errorf("with the defaults, want no ROOTFS line:\n%s", got)
	}
}

func TestRatio(t *testing.T) {
	for _, tc := range []struct {
		o, b float64
		want string
	}{{1, 2, "0.50"}, {3, 1, "3.00"}, {1, 0, "n/a"}, {2.4, 1044, "0.0023"}, {0, 5, "0.00"}} {
		if got := ratio(tc.o, tc.b); got != tc.want {
			t.Errorf("ratio(%v, %v) = %q, want %q", tc.o, tc.b, got, tc.want)
		}
	}
}

func TestReportNoopRow(t *testing.T) {
	w := workload{name: "W", packages: []string{"hello"}}
	s := func(d ...time.Duration) []time.Duration { return d }
	res := results{work: map[string]map[side]*sideResult{"W": {
		ours:     {noChange: s(300 * time.Millisecond), gatewayNoChange: s(200 * time.Millisecond)},
		baseline: {noChange: s(100*time.Millisecond, 50*time.Millisecond, 100*time.Millisecond), gatewayNoChange: s(250 * time.Millisecond)},
	}}}
	out := report(config{workloads: []workload{w}}, nil, res, time.Second)
	noChange := "| rebuild, no change (median of 1) | 0.30 s | 0.10 s | 3.00 |\n"
	noop := "| rebuild, no change: a gateway frontend that does nothing (the floor of any `# syntax=` frontend; median of 1) | 0.20 s | 0.10 s | 2.00 |\n"
	dockerfile := "| rebuild, no change: ours against the baseline's Dockerfile through BuildKit's own Dockerfile frontend as a `# syntax=` image (median of 1) | 0.30 s | 0.25 s | 1.20 |\n"
	over := "| rebuild, no change, over the no-op frontend (goal for ours: at most 0.10 s; baseline column: BuildKit's Dockerfile frontend as a `# syntax=` image) | 0.10 s | 0.05 s |  |\n"
	if !strings.Contains(out, noChange+noop+dockerfile+over) {
		t.Errorf("want the no-op frontend's row right after the no-change one, then BuildKit's Dockerfile frontend's and the difference:\n%s", out)
	}
}

func TestConcurrentTable(t *testing.T) {
	s := func(d ...time.Duration) []time.Duration { return d }
	res := map[side]concurrentResult{
		ours:     {1: s(10*time.Second, 12*time.Second, 11*time.Second), 4: s(15 * time.Second)},
		baseline: {1: s(10 * time.Second), 4: s(20 * time.Second)},
	}
	out := report(config{concurrent: []int{1, 4}, concurrentSlow: 10 * time.Second}, nil, results{concurrent: res}, time.Second)
	want := "| 1 at once: wall time (median of 3) | 11.00 s | 10.00 s | 1.10 |\n" +
		"| 4 at once: wall time (median of 1) | 15.00 s | 20.00 s | 0.75 |\n" +
		"| 4 at once: wall time / one build's (taking turns: 4) | 1.36 | 2.00 |  |\n"
	if !strings.Contains(out, want) {
		t.Errorf("want the concurrent builds' rows:\n%s\nin:\n%s", want, out)
	}
}

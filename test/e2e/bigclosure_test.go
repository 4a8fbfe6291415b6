package e2e

import (
	"fmt"
	"testing"

	"github.com/nixfile/nixfile/internal/testbed"
)

// bigClosure is a BUILD file of a package whose closure is n paths of 1 MiB
// of random data: over any small layer budget. /usr/bin/head is the bed's
// nix image's (Debian).
const bigClosure = `let
  blob = i: derivation {
    name = "blob-${toString i}";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "/usr/bin/head -c 1048576 /dev/urandom >$out" ];
  };
  range = n: if n == 0 then [ ] else range (n - 1) ++ [ n ];
in
derivation {
  name = "bigapp";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  blobs = map blob (range 120);
  args = [ "-c" "echo $blobs >$out" ];
}
`

// Over the layer budget, a small package added to a closure of big paths
// changes only layers of small paths: a registry that holds the first image
// gets a few KiB for the second, not a big shared layer again.
func TestBigClosurePlusOneSmallPackage(t *testing.T) {
	bed := testbed.Require(t)
	const budget = 30
	first, err := build(t, bed, writeContext(t, map[string]string{
		"Nixfile": "ROOTFS none\nLAYERS 30\nBUILD big.nix\n", "big.nix": bigClosure,
	}), buildOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(first.storeEntries()); n != 121 {
		t.Fatalf("the first image has %d store paths, want 121", n)
	}
	// A package of a few bytes, with no dependency: what is new is only it.
	small := `derivation { name = "small"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo small >$out" ]; }`
	second, err := build(t, bed, writeContext(t, map[string]string{
		"Nixfile": "ROOTFS none\nLAYERS 30\nBUILD big.nix\nBUILD small.nix\n", "big.nix": bigClosure, "small.nix": small,
	}), buildOpts{})
	if err != nil {
		t.Fatal(err)
	}
	for name, img := range map[string]*image{"first": first, "second": second} {
		if n := len(diffIDs(t, img)); n > budget {
			t.Errorf("the %s image has %d layers, over the budget of %d", name, n, budget)
		}
	}
	added := addedLayerBytes(t, first, second)
	if added == 0 || added > 64<<10 {
		t.Errorf("the second image adds %d bytes of layers to the first's, want some and at most 64 KiB", added)
	}
	t.Logf("the second image adds %d bytes of layers", added)
}

// addedLayerBytes is what second adds to a registry that holds first: the
// compressed size of its layer blobs that first does not have.
func addedLayerBytes(t *testing.T, first, second *image) int64 {
	t.Helper()
	have := map[string]bool{}
	layers, err := first.img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		have[d.String()] = true
	}
	layers, err = second.img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var added int64
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if !have[d.String()] {
			have[d.String()] = true // a blob is uploaded once
			size, err := l.Size()
			if err != nil {
				t.Fatal(err)
			}
			added += size
		}
	}
	return added
}

// manyBlobs is a BUILD file of a package whose closure is n paths of 1 MiB
// of random data (the outputs of one derivation, so that nix builds them
// at once) and the package, which refers to them all.
func manyBlobs(n int) string {
	return fmt.Sprintf(`let
  blobs = derivation {
    name = "blob";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    outputs = builtins.genList (i: "b${toString i}") %d;
    args = [ "-c" "for o in $outputs; do eval p=\\$$o; /usr/bin/head -c 1048576 /dev/urandom >$p; done" ];
  };
in
derivation {
  name = "bigapp";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  refs = map (o: blobs.${o}) blobs.outputs;
  args = [ "-c" "echo $refs >$out" ];
}
`, n)
}

// The case at the default budget of 100 layers, scaled down for
// CI: 150 paths of 1 MiB, more than the budget's layers of their own, then
// the same plus one small package. The second image adds at most 2 MiB of
// layer blobs to a registry that holds the first: not a shared layer of
// big paths again.
func TestBigClosureDefaultBudget(t *testing.T) {
	bed := testbed.Require(t)
	const n = 150
	first, err := build(t, bed, writeContext(t, map[string]string{
		"Nixfile": "ROOTFS none\nBUILD big.nix\n", "big.nix": manyBlobs(n),
	}), buildOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(first.storeEntries()); got != n+1 {
		t.Fatalf("the first image has %d store paths, want %d", got, n+1)
	}
	small := `derivation { name = "small"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo small >$out" ]; }`
	second, err := build(t, bed, writeContext(t, map[string]string{
		"Nixfile": "ROOTFS none\nBUILD big.nix\nBUILD small.nix\n", "big.nix": manyBlobs(n), "small.nix": small,
	}), buildOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(second.storeEntries()); got != n+2 {
		t.Fatalf("the second image has %d store paths, want %d", got, n+2)
	}
	for name, img := range map[string]*image{"first": first, "second": second} {
		if got := len(diffIDs(t, img)); got > 100 {
			t.Errorf("the %s image has %d layers, over the default budget of 100", name, got)
		}
	}
	added := addedLayerBytes(t, first, second)
	if added == 0 || added > 2<<20 {
		t.Errorf("the second image adds %d bytes of layers to the first's, want some and at most 2 MiB", added)
	}
	t.Logf("the second image adds %d bytes of layers", added)
}

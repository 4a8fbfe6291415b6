package e2e

import (
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
	have := map[string]bool{}
	layers, err := first.img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, _ := l.Digest()
		have[d.String()] = true
	}
	layers, err = second.img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var added int64
	for _, l := range layers {
		d, _ := l.Digest()
		if !have[d.String()] {
			size, _ := l.Size()
			added += size
		}
	}
	if added == 0 || added > 64<<10 {
		t.Errorf("the second image adds %d bytes of layers to the first's, want some and at most 64 KiB", added)
	}
	t.Logf("the second image adds %d bytes of layers", added)
}

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nixfile/nixfile/internal/testbed"
)

// --network applies to the nix step as to a Dockerfile's RUN: with none, a
// derivation built there sees no network interface but loopback.
func TestNetworkModeReachesTheNixStep(t *testing.T) {
	bed := testbed.Require(t)
	// A fresh derivation each run: the store cache must not answer with an
	// output built under another mode.
	nonce := fmt.Sprint(time.Now().UnixNano())
	netcheck := `derivation {
  name = "netcheck";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  nonce = "` + nonce + `";
  args = [ "-c" "for i in /sys/class/net/*; do echo \"\${i##*/}\"; done >$out" ];
}
`
	interfaces := func(t *testing.T, attrs map[string]string) []string {
		t.Helper()
		dir := writeContext(t, map[string]string{"Nixfile": "ROOTFS none\nBUILD netcheck.nix\n", "netcheck.nix": netcheck})
		img, err := build(t, bed, dir, buildOpts{attrs: attrs})
		if err != nil {
			t.Fatal(err)
		}
		for p, f := range img.files {
			if strings.HasSuffix(p, "-netcheck") {
				return strings.Fields(string(f.data))
			}
		}
		t.Fatalf("no netcheck output in the image: %v", img.storeEntries())
		return nil
	}
	// Without a network nix cannot reach its substituters either: as a
	// user would, the build turns them off.
	none := map[string]string{"force-network-mode": "none", "build-arg:NIX_CONFIG": "substituters ="}
	if got := interfaces(t, none); strings.Join(got, " ") != "lo" {
		t.Errorf("with --network none the nix step sees interfaces %q, want lo alone", got)
	}
	// The bed's daemon runs steps on the host's network by default: more
	// than loopback, so the check above could fail.
	netcheck = strings.Replace(netcheck, nonce, nonce+"-default", 1)
	if got := interfaces(t, nil); len(got) < 2 {
		t.Errorf("with the default network the nix step sees interfaces %q, want more than lo", got)
	}
}

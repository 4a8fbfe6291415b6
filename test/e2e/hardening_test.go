package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nixfile/nixfile/internal/testbed"
)

// A nix build past NIXFILE_NIX_TIMEOUT is stopped, with an error at its
// line: a hung build does not hold the shared store for ever.
func TestNixBuildTimeLimit(t *testing.T) {
	bed := testbed.Require(t)
	slow := fmt.Sprintf(`derivation {
  name = "slow";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  nonce = "%d";
  args = [ "-c" "/usr/bin/sleep 120; echo done >$out" ];
}
`, time.Now().UnixNano())
	dir := writeContext(t, map[string]string{"Nixfile": "ROOTFS none\nPACKAGES hello\nBUILD slow.nix\n", "slow.nix": slow})
	start := time.Now()
	_, err := build(t, bed, dir, buildOpts{attrs: map[string]string{"build-arg:NIXFILE_NIX_TIMEOUT": "3"}})
	if err == nil {
		t.Fatal("the build succeeded")
	}
	if d := time.Since(start); d > 90*time.Second {
		t.Errorf("the build took %v: the time limit did not stop it", d)
	}
	if msg := err.Error(); !strings.Contains(msg, "ran past its time limit of 3 s") || !strings.Contains(msg, "NIXFILE_NIX_TIMEOUT") {
		t.Errorf("the error does not say the time limit stopped the build:\n%s", msg)
	}
	if lines := errorLines(err); len(lines) == 0 {
		t.Errorf("the error names no Nixfile line:\n%v", err)
	}
	if _, err := build(t, bed, dir, buildOpts{attrs: map[string]string{"build-arg:NIXFILE_NIX_TIMEOUT": "soon"}}); err == nil || !strings.Contains(err.Error(), "NIXFILE_NIX_TIMEOUT") {
		t.Errorf("a bad NIXFILE_NIX_TIMEOUT gives %v, want an error naming it", err)
	}
}

// A build that rewrites a store path in the shared store cache does not
// poison a later build of another Nixfile: the closure is checked against
// the hashes nix recorded before it leaves the nix stage.
func TestAlteredStoreIsRefused(t *testing.T) {
	bed := testbed.Require(t)
	nonce := fmt.Sprint(time.Now().UnixNano())
	victim := `derivation {
  name = "victim-` + nonce + `";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "echo genuine >$out" ];
}
`
	attack := `let victim = import ./victim.nix; in derivation {
  name = "attack-` + nonce + `";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "/bin/chmod u+w ${victim} && echo POISONED >${victim} && echo done >$out" ];
}
`
	files := map[string]string{"victim.nix": victim, "attack.nix": attack}
	with := func(nixfile string) map[string]string {
		m := map[string]string{"Nixfile": nixfile}
		for k, v := range files {
			m[k] = v
		}
		return m
	}
	if _, err := build(t, bed, writeContext(t, with("ROOTFS none\nBUILD attack.nix\n")), buildOpts{}); err != nil {
		t.Fatalf("the attacking build: %v", err)
	}
	_, err := build(t, bed, writeContext(t, with("ROOTFS none\nBUILD victim.nix\n")), buildOpts{})
	if err == nil {
		t.Fatal("the victim's build succeeded on an altered store")
	}
	if msg := err.Error(); !strings.Contains(msg, "the store cache was altered") || !strings.Contains(msg, "victim-"+nonce) {
		t.Errorf("the error does not name the altered path and say what happened:\n%s", msg)
	}
	// A store of its own is not the altered one: the true content.
	img, err := build(t, bed, writeContext(t, with("ROOTFS none\nBUILD victim.nix\n")),
		buildOpts{attrs: map[string]string{"build-arg:NIXFILE_STORE": "private-" + nonce}})
	if err != nil {
		t.Fatalf("the victim's build on a store of its own: %v", err)
	}
	found := false
	for p, f := range img.files {
		if strings.HasSuffix(p, "-victim-"+nonce) {
			found = true
			if string(f.data) != "genuine\n" {
				t.Errorf("/%s holds %q on a store of its own, want genuine", p, f.data)
			}
		}
	}
	if !found {
		t.Errorf("no victim path in the image: %v", img.storeEntries())
	}
}

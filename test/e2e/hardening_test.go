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

// storeAttack is a Nixfile context whose attack.nix builds a derivation
// that rewrites the output of victim.nix (its input) in the store; a
// Nixfile of BUILD victim.nix then uses that output.
func storeAttack(t *testing.T) (nonce string, with func(nixfile string) string) {
	nonce = fmt.Sprint(time.Now().UnixNano())
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
	return nonce, func(nixfile string) string {
		return writeContext(t, map[string]string{"Nixfile": nixfile, "victim.nix": victim, "attack.nix": attack})
	}
}

// checkVictim asserts that an image holds the victim's true content.
func checkVictim(t *testing.T, img *image, nonce string) {
	t.Helper()
	found := false
	for p, f := range img.files {
		if strings.HasSuffix(p, "-victim-"+nonce) {
			found = true
			if string(f.data) != "genuine\n" {
				t.Errorf("/%s holds %q, want genuine", p, f.data)
			}
		}
	}
	if !found {
		t.Errorf("no victim path in the image: %v", img.storeEntries())
	}
}

// The official nix image builds as its nixbld users (so does the bed's
// default image): a builder cannot write a store path, so a Nixfile cannot
// alter the shared store cache for the next one.
func TestBuildUsersCannotWriteTheStore(t *testing.T) {
	bed := testbed.Require(t)
	nonce, with := storeAttack(t)
	_, err := build(t, bed, with("ROOTFS none\nBUILD attack.nix\n"), buildOpts{})
	if err == nil {
		t.Fatal("a builder rewrote a store path: the nix image does not build as its build users")
	}
	if msg := err.Error(); !strings.Contains(msg, "Operation not permitted") || !strings.Contains(msg, "attack-"+nonce) {
		t.Errorf("the attack failed, but not on the store's permissions:\n%s", msg)
	}
	img, err := build(t, bed, with("ROOTFS none\nBUILD victim.nix\n"), buildOpts{})
	if err != nil {
		t.Fatalf("the victim's build after the attack: %v", err)
	}
	checkVictim(t, img, nonce)
	// So the closure is not hashed again on its way out.
	if !strings.Contains(img.log, "nix builds as its build users") || strings.Contains(img.log, "checking the closure against") {
		t.Errorf("the build log does not say the closure goes unchecked, builders being unable to write the store:\n%s", tail(img.log, 20))
	}
}

// In a nix image without build users nix builds as root, and a builder can
// rewrite a store path in the shared store cache. That does not poison a
// later build of another Nixfile: the closure is checked against the
// hashes nix recorded before it leaves the nix stage. The bed's nix 2.8
// image is such an image.
func TestAlteredStoreIsRefused(t *testing.T) {
	bed := testbed.Require(t)
	asRoot := map[string]string{"build-arg:NIX_IMAGE": bed.RequireNix28(t)}
	nonce, with := storeAttack(t)
	if _, err := build(t, bed, with("ROOTFS none\nBUILD attack.nix\n"), buildOpts{attrs: asRoot}); err != nil {
		t.Fatalf("the attacking build: %v", err)
	}
	_, err := build(t, bed, with("ROOTFS none\nBUILD victim.nix\n"), buildOpts{attrs: asRoot})
	if err == nil {
		t.Fatal("the victim's build succeeded on an altered store")
	}
	if msg := err.Error(); !strings.Contains(msg, "the store cache was altered") || !strings.Contains(msg, "victim-"+nonce) {
		t.Errorf("the error does not name the altered path and say what happened:\n%s", msg)
	}
	if msg := err.Error(); !strings.Contains(msg, "nix's builders can write the store: checking the closure") {
		t.Errorf("the error does not say why the closure was checked:\n%s", msg)
	}
	// A store of its own is not the altered one: the true content.
	asRoot["build-arg:NIXFILE_STORE"] = "private-" + nonce
	img, err := build(t, bed, with("ROOTFS none\nBUILD victim.nix\n"), buildOpts{attrs: asRoot})
	if err != nil {
		t.Fatalf("the victim's build on a store of its own: %v", err)
	}
	checkVictim(t, img, nonce)
}

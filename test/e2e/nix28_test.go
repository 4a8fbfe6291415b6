package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/internal/testbed"
)

// The second supported nix, 2.8 (Debian bookworm's, an empty /nix), through
// the NIX_IMAGE build arg: a build that runs, an error at its line, the
// store cache, and substitution from the bed's cache.
func TestNix28Smoke(t *testing.T) {
	bed := testbed.Require(t)
	nix28 := bed.RequireNix28(t)
	attrs := map[string]string{"build-arg:NIX_IMAGE": nix28}

	t.Run("build and run", func(t *testing.T) {
		img, err := build(t, bed, writeContext(t, map[string]string{
			"Nixfile": "PACKAGES greeter\nUSER app\nENTRYPOINT [\"greeter\"]\n",
		}), buildOpts{attrs: attrs, run: [][]string{nil}})
		if err != nil {
			t.Fatal(err)
		}
		if o := img.outputs[0]; o.stdout != "greeter says: Hello, world!\n" {
			t.Errorf("the image printed %q (%v)", o.stdout, o.err)
		}
		if got := len(img.storeEntries()); got != 3 {
			t.Errorf("the closure has %d paths, want greeter, hello, busybox: %v", got, img.storeEntries())
		}
		if img.config.Config.User != "app" {
			t.Errorf("User = %q", img.config.Config.User)
		}
	})
	t.Run("an error at its line", func(t *testing.T) {
		_, err := build(t, bed, writeContext(t, map[string]string{
			"Nixfile": "PACKAGES hello\nPACKAGES helo\n",
		}), buildOpts{attrs: attrs})
		if err == nil {
			t.Fatal("the build succeeded")
		}
		if line := errorLine(err); line != 2 || !strings.Contains(err.Error(), "attribute 'helo' not found") {
			t.Errorf("line %d: %v", line, err)
		}
	})
	t.Run("the store cache", func(t *testing.T) {
		n := nonce(t)
		slow := fmt.Sprintf("{ mkSlow }: mkSlow %q\n", n)
		first, err := build(t, bed, writeContext(t, map[string]string{"Nixfile": "BUILD slow.nix\n", "slow.nix": slow}), buildOpts{attrs: attrs})
		if err != nil {
			t.Fatal(err)
		}
		second, err := build(t, bed, writeContext(t, map[string]string{"Nixfile": "BUILD slow.nix\nPACKAGES hello\n", "slow.nix": slow}), buildOpts{attrs: attrs})
		if err != nil {
			t.Fatal(err)
		}
		if a, b := first.marker(t, n), second.marker(t, n); a != b {
			t.Errorf("slow-%s was built again: marker %q, then %q", n, a, b)
		}
	})
}

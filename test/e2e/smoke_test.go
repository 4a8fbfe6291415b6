package e2e

import (
	"strings"
	"testing"

	"github.com/nixfile/nixfile/internal/testbed"
)

// The bed works: nix runs in the nix test image through LLB, and builds a
// package of the test set whose closure nix reports.
func TestSmokeNixInBuildKit(t *testing.T) {
	bed := testbed.Require(t)
	t.Run("nix-store version", func(t *testing.T) {
		out := runNix(t, bed, "nix-store --version >/out/version", "version")
		if !strings.HasPrefix(out, "nix-store (Nix) 2.") {
			t.Fatalf("nix-store --version printed %q", out)
		}
	})
	t.Run("closure of a package with a dependency", func(t *testing.T) {
		closure := nixClosure(t, bed, "hello")
		if len(closure) != 2 {
			t.Fatalf("want hello and busybox in the closure, got %v", closure)
		}
		names := []string{closure[0][44:], closure[1][44:]}
		joined := strings.Join(names, " ")
		if !strings.Contains(joined, "hello") || !strings.Contains(joined, "busybox-1.35.0") {
			t.Fatalf("closure %v lacks hello or busybox", closure)
		}
	})
}

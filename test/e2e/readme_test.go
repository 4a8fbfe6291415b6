package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/internal/testbed"
)

// The README's first command builds examples/hello with docker build on
// the bed's Docker Engine and docker runs it: it keeps doing what the
// README says.
func TestReadmeExampleCommand(t *testing.T) {
	testbed.RequireDocker(t)
	root := testbed.RepoRoot()
	r := runCLI(t, root, filepath.Join(root, "hack", "example"), "hello")
	if !strings.HasSuffix(r.stdout, "Hello, world!\n") {
		t.Errorf("hack/example hello printed %q, want it to end with Hello, world!", tail(r.stdout, 5))
	}
}

package e2e

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/internal/testbed"
)

// writebackLog is the line the frontend writes to the daemon's log when it
// starts its writeback container (builder.writebackLog).
const writebackLog = "nixfile: the nix image is being unpacked: flushing the daemon's filesystem meanwhile"

// A cold build through the frontend's image, whose nix image the daemon
// has to pull, flushes the daemon's filesystem while that image unpacks
// (a container of the frontend's own image, named in the daemon's log),
// and builds the image it would anyway; a rebuild, the nix image on the
// daemon, starts no such container.
func TestWritebackWhileTheNixImageUnpacks(t *testing.T) {
	bed := testbed.Require(t)
	buildctl := bedTool(t, "buildctl")
	d := bed.OwnDaemon(t)
	dir := writeContext(t, map[string]string{"Nixfile": "PACKAGES hello\nENTRYPOINT [\"hello\"]\n"})
	closure := nixClosure(t, bed, "hello")
	for i, want := range []int{1, 1} {
		dest := filepath.Join(t.TempDir(), "out.tar")
		runCLI(t, dir, buildctl, "--addr", d.Addr, "build", "--frontend", "gateway.v0", "--opt", "source="+bed.FrontendImage,
			"--local", "context="+dir, "--local", "dockerfile="+dir, "--output", "type=oci,dest="+dest)
		img := readOCI(t, dest)
		if got := img.storeEntries(); !reflect.DeepEqual(got, closure) {
			t.Errorf("build %d: store %v, want the closure %v", i+1, got, closure)
		}
		if got := strings.Count(d.Log(), writebackLog); got != want {
			t.Errorf("after build %d the daemon's log has %d writeback containers, want %d:\n%s", i+1, got, want, tail(d.Log(), 30))
		}
	}
}

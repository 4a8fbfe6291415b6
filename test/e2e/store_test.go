package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nixfile/nixfile/internal/testbed"
)

func nonce(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// marker is the built-by marker of the slow package in an image.
func (i *image) marker(t *testing.T, n string) string {
	t.Helper()
	for name, f := range i.files {
		if strings.HasSuffix(name, "-slow-"+n+"/built-by") {
			return string(f.data)
		}
	}
	t.Fatalf("no slow-%s in the image", n)
	return ""
}

// The nix store persists across builds: adding a package builds only what
// is missing, not what an earlier build built.
func TestStoreCacheBuildsOnlyWhatIsMissing(t *testing.T) {
	bed := testbed.Require(t)
	n := nonce(t)
	slow := fmt.Sprintf("{ mkSlow }: mkSlow %q\n", n)

	first, err := build(t, bed, writeContext(t, map[string]string{
		"Nixfile": "BUILD slow.nix\n", "slow.nix": slow,
	}), buildOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first.log, "-slow-"+n+".drv") {
		t.Fatalf("the first build did not build slow-%s:\n%s", n, first.log)
	}
	second, err := build(t, bed, writeContext(t, map[string]string{
		"Nixfile": "BUILD slow.nix\nPACKAGES hello\n", "slow.nix": slow,
	}), buildOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := first.marker(t, n), second.marker(t, n); a != b {
		t.Errorf("slow-%s was built again: marker %q, then %q", n, a, b)
	}
	if strings.Contains(second.log, "building '/nix/store/") && strings.Contains(second.log, "-slow-"+n+".drv'") {
		t.Errorf("the second build log shows slow-%s built again:\n%s", n, second.log)
	}
	if !strings.Contains(second.log, "[nix] build") && len(second.storeEntries()) < 3 {
		t.Errorf("the second image lacks hello: %v", second.storeEntries())
	}
}

// A rebuild with no change is a pure cache hit: no nix step runs.
func TestNoChangeRebuildRunsNoNix(t *testing.T) {
	bed := testbed.Require(t)
	dir := writeContext(t, map[string]string{"Nixfile": "PACKAGES hello greeter\nENTRYPOINT [\"greeter\"]\n"})
	if _, err := build(t, bed, dir, buildOpts{}); err != nil {
		t.Fatal(err)
	}
	again, err := build(t, bed, dir, buildOpts{})
	if err != nil {
		t.Fatal(err)
	}
	again.requireNixCached(t)
}

// requireNixCached checks that BuildKit took every nix step from its cache:
// no nix process ran.
func (i *image) requireNixCached(t *testing.T) {
	t.Helper()
	steps := 0
	for name, cached := range i.cached {
		if strings.HasPrefix(name, "[nix]") {
			steps++
			if !cached {
				t.Errorf("step %q ran", name)
			}
		}
	}
	if steps == 0 {
		t.Errorf("no [nix] step seen among %v", i.cached)
	}
}

// Builds started at once on one daemon, sharing the store cache, all
// succeed with correct images; on a fresh daemon, so that they also race to
// create the store (once seen: "SQLite database ... is busy").
func TestConcurrentBuilds(t *testing.T) {
	bed := testbed.Require(t)
	addr := bed.FreshDaemon(t)
	n := nonce(t)
	cases := []struct {
		nixfile string
		stdout  string
	}{
		{"PACKAGES hello\nENTRYPOINT [\"hello\"]\n", "Hello, world!\n"},
		{"PACKAGES hello\nENTRYPOINT [\"hello\"]\n", "Hello, world!\n"},
		{"PACKAGES greeter\nENTRYPOINT [\"greeter\"]\n", "greeter says: Hello, world!\n"},
		{"BUILD slow.nix\nPACKAGES tools.greet\nENTRYPOINT [\"greet\", \"x\"]\n", "greet: x\n"},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(cases))
	imgs := make([]*image, len(cases))
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := writeContext(t, map[string]string{"Nixfile": c.nixfile, "slow.nix": fmt.Sprintf("{ mkSlow }: mkSlow %q\n", n)})
			imgs[i], errs[i] = build(t, bed, dir, buildOpts{addr: addr, run: [][]string{nil}})
		}()
	}
	wg.Wait()
	for i, c := range cases {
		if errs[i] != nil {
			t.Errorf("build %d failed: %v", i, errs[i])
			continue
		}
		if o := imgs[i].outputs[0]; o.err != nil || o.stdout != c.stdout {
			t.Errorf("build %d printed %q (%v), want %q", i, o.stdout, o.err, c.stdout)
		}
	}
}

// --no-cache runs the nix steps again, and BuildKit empties the store cache
// they mount, as it does a Dockerfile's cache mounts: nix fetches the
// closure again (the docs say so).
func TestNoCacheRunsNixAgain(t *testing.T) {
	bed := testbed.Require(t)
	dir := writeContext(t, map[string]string{"Nixfile": "PACKAGES hello\nENTRYPOINT [\"hello\"]\n"})
	if _, err := build(t, bed, dir, buildOpts{}); err != nil {
		t.Fatal(err)
	}
	again, err := build(t, bed, dir, buildOpts{attrs: map[string]string{"no-cache": ""}, run: [][]string{nil}})
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for name, cached := range again.cached {
		if strings.HasPrefix(name, "[nix]") && !cached {
			ran++
		}
	}
	if ran == 0 {
		t.Errorf("no nix step ran again with --no-cache: %v", again.cached)
	}
	if !strings.Contains(again.log, "will be fetched") {
		t.Errorf("nix fetched nothing with --no-cache: the store cache was kept, and the docs say it is emptied:\n%s", tail(again.log, 20))
	}
	if o := again.outputs[0]; o.stdout != "Hello, world!\n" {
		t.Errorf("the image printed %q (%v)", o.stdout, o.err)
	}
}

// A store of its own (NIXFILE_STORE) is filled by the build's own nix step:
// BuildKit keys a step by what it runs, not by its cache mounts' ids, so a
// nix step that did not name its store would come from the shared store's
// cache and leave the build's own store empty.
func TestStoreOfItsOwnRunsItsNixStep(t *testing.T) {
	bed := testbed.Require(t)
	dir := writeContext(t, map[string]string{"Nixfile": "PACKAGES hello\nROOTFS none\n"})
	shared, err := build(t, bed, dir, buildOpts{})
	if err != nil {
		t.Fatal(err)
	}
	own, err := build(t, bed, dir, buildOpts{attrs: map[string]string{"build-arg:NIXFILE_STORE": "own-" + nonce(t)}})
	if err != nil {
		t.Fatal(err)
	}
	const step = "[nix] build hello"
	if cached, ok := own.cached[step]; !ok || cached {
		t.Errorf("on a store of its own, step %q: ran %t, present %t; want it run (steps: %v)", step, !cached, ok, keys(own.cached))
	}
	if !strings.Contains(own.log, "-hello' from") {
		t.Errorf("the nix step on a new store fetched nothing:\n%s", own.log)
	}
	if own.digest != shared.digest {
		t.Errorf("image %s on a store of its own, %s on the shared one", own.digest, shared.digest)
	}
}

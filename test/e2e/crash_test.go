package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixfile/nixfile/internal/testbed"
)

// bulkFiles is how many 64 KiB files of random bytes bulkNix's package
// holds: enough that copying the closure out of the nix stage takes a while.
const bulkFiles = 2000

// bulkNix is a BUILD file: bulk-NONCE, bulkFiles files of random bytes and
// bin/bulk, which prints "bulk NONCE"; done is written last.
func bulkNix(nonce string) string {
	return busyboxPackage("bulk-"+nonce, fmt.Sprintf(`    mkdir -p $out/bin $out/data
    i=0
    while [ $i -lt %[2]d ]; do head -c 65536 /dev/urandom >$out/data/f$i; i=$((i+1)); done
    printf '#!%%s/bin/sh\necho bulk %[1]s\n' ${busybox} >$out/bin/bulk
    chmod 0555 $out/bin/bulk
    echo done >$out/done
`, nonce, bulkFiles))
}

// stallingNix is a BUILD file: stalling-NONCE writes bin/stalling (which
// prints "stalling NONCE") at once, then sleeps, then writes done: killed
// while it sleeps, it leaves a half-made output in the store.
func stallingNix(nonce string) string {
	return busyboxPackage("stalling-"+nonce, fmt.Sprintf(`    mkdir -p $out/bin
    printf '#!%%s/bin/sh\necho stalling %[1]s\n' ${busybox} >$out/bin/stalling
    chmod 0555 $out/bin/stalling
    sleep 20
    echo done >$out/done
`, nonce))
}

// waitForFiles polls the daemon's snapshots until one of them has a
// directory matching glob (relative to a snapshot's root) that holds at
// least min files, and returns how many it held then. With closureOnly it
// looks only at snapshots without nix/var: not the store cache's.
func waitForFiles(t *testing.T, d *testbed.Daemon, glob string, min int, closureOnly bool, failed <-chan error) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-failed:
			t.Fatalf("the build ended before the daemon was killed: %v", err)
		default:
		}
		roots, _ := filepath.Glob(filepath.Join(d.Root, "*", "snapshots", "snapshots", "*", "fs"))
		for _, root := range roots {
			if _, err := os.Stat(filepath.Join(root, "nix", "var")); closureOnly && err == nil {
				continue
			}
			dirs, _ := filepath.Glob(filepath.Join(root, glob))
			for _, dir := range dirs {
				if entries, err := os.ReadDir(dir); err == nil && len(entries) >= min {
					return len(entries)
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %s in the daemon's snapshots after 5 minutes:\n%s", glob, tail(d.Log(), 20))
	return 0
}

// A buildkitd killed with SIGKILL during a nix step, and again while the
// closure is copied out of the nix stage, starts again on its state, and
// a rebuild gives the exact closure: nix's database and the store cache
// recover, the half-made output is built again, not shipped. On a daemon
// of the test's own: the bed's is shared with tests running in parallel.
func TestKilledDaemonRecovers(t *testing.T) {
	bed := testbed.Require(t)
	d := bed.OwnDaemon(t)

	// Starts the build, waits for the moment, kills the daemon; the build
	// fails; the daemon starts again.
	killDuring := func(t *testing.T, dir, glob string, min int, closureOnly bool) int {
		failed := make(chan error, 1)
		go func() {
			_, err := build(t, bed, dir, buildOpts{addr: d.Addr})
			failed <- err
		}()
		n := waitForFiles(t, d, glob, min, closureOnly, failed)
		d.Kill(t)
		if err := <-failed; err == nil {
			t.Fatal("the build succeeded though its daemon was killed")
		}
		d.Start(t)
		return n
	}

	t.Run("during a nix step", func(t *testing.T) {
		n := nonce(t)
		dir := writeContext(t, map[string]string{
			"Nixfile":      "BUILD stalling.nix\nPACKAGES greeter\nENTRYPOINT [\"stalling\"]\n",
			"stalling.nix": stallingNix(n),
		})
		killDuring(t, dir, "nix/store/*-stalling-"+n+"/bin", 1, false)
		img, err := build(t, bed, dir, buildOpts{addr: d.Addr, run: [][]string{nil, {"greeter"}}})
		if err != nil {
			t.Fatalf("the rebuild after the restart failed: %v\n%s", err, tail(d.Log(), 20))
		}
		// Whether the killed build's nix died with the daemon (runc gets
		// SIGKILL when buildkitd dies; BuildKit says the container "can
		// still leak") decides whether nix builds the half-made output
		// again or finds it finished: either way the image must be whole.
		t.Logf("the rebuild built stalling-%s again: %t", n, strings.Contains(img.log, "-stalling-"+n+".drv'"))
		if o := img.outputs[0]; o.stdout != "stalling "+n+"\n" {
			t.Errorf("the image printed %q (%v)", o.stdout, o.err)
		}
		if o := img.outputs[1]; o.stdout != "greeter says: Hello, world!\n" {
			t.Errorf("greeter printed %q (%v)", o.stdout, o.err)
		}
		requireStoreNames(t, img, "stalling-"+n, "greeter", "hello", "busybox")
		requireFile(t, img, "stalling-"+n+"/done", "done\n")
	})

	t.Run("during the copy of the closure", func(t *testing.T) {
		n := nonce(t)
		dir := writeContext(t, map[string]string{
			"Nixfile":  "BUILD bulk.nix\nENTRYPOINT [\"bulk\"]\n",
			"bulk.nix": bulkNix(n),
		})
		// The closure mount has no nix/var: only the store cache has.
		copied := killDuring(t, dir, "nix/store/*-bulk-"+n+"/data", 100, true)
		t.Logf("killed with %d of %d files copied out", copied, bulkFiles)
		img, err := build(t, bed, dir, buildOpts{addr: d.Addr, run: [][]string{nil}})
		if err != nil {
			t.Fatalf("the rebuild after the restart failed: %v\n%s", err, tail(d.Log(), 20))
		}
		if o := img.outputs[0]; o.stdout != "bulk "+n+"\n" {
			t.Errorf("the image printed %q (%v)", o.stdout, o.err)
		}
		requireStoreNames(t, img, "bulk-"+n, "busybox")
		requireFile(t, img, "bulk-"+n+"/done", "done\n")
		files := 0
		for name, f := range img.files {
			if strings.Contains(name, "-bulk-"+n+"/data/f") {
				files++
				if len(f.data) != 65536 {
					t.Errorf("%s has %d bytes, want 65536", name, len(f.data))
				}
			}
		}
		if files != bulkFiles {
			t.Errorf("the image has %d of bulk's %d files", files, bulkFiles)
		}
	})
}

// requireStoreNames checks that the image's store paths are exactly those
// whose names (after the hash) start with the given ones, one each.
func requireStoreNames(t *testing.T, img *image, names ...string) {
	t.Helper()
	entries := img.storeEntries()
	if len(entries) != len(names) {
		t.Errorf("the closure is %v, want one each of %v", entries, names)
		return
	}
	for _, want := range names {
		found := 0
		for _, e := range entries {
			if _, name, _ := strings.Cut(e, "-"); strings.HasPrefix(name, want) {
				found++
			}
		}
		if found != 1 {
			t.Errorf("the closure %v has %d paths named %s*, want one", entries, found, want)
		}
	}
}

// requireFile checks a file of a store path, found by name after the hash.
func requireFile(t *testing.T, img *image, pathInStore, want string) {
	t.Helper()
	for name, f := range img.files {
		if strings.HasPrefix(name, "nix/store/") && strings.HasSuffix(name, "-"+pathInStore) {
			if string(f.data) != want {
				t.Errorf("%s is %q, want %q", name, f.data, want)
			}
			return
		}
	}
	t.Errorf("no %s in the image", pathInStore)
}

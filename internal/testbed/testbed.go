// Package testbed gives tests the real BuildKit that hack/testbed starts.
//
// Tests that need the daemon call Require. Without the bed they skip with a
// message saying how to start it, except under CI=true, where a missing bed
// fails the test: CI never skips the full tier silently.
package testbed

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
)

// Bed is the test bed as `hack/testbed env` describes it.
type Bed struct {
	// BuildkitHost is the daemon's address (BUILDKIT_HOST).
	BuildkitHost string
	// FrontendImage is the frontend image built from this tree.
	FrontendImage string
	// NixImage is the nix test image in the local registry.
	NixImage string
	// Registry is the local registry's host:port.
	Registry string
	// TestPkgs is the directory of the test package set.
	TestPkgs string
	// BuildkitdConfig is the bed daemon's config, for tests that start a
	// daemon of their own on a fresh state.
	BuildkitdConfig string
	// NixImageNix28 is the second supported nix image: nix 2.8, empty /nix.
	NixImageNix28 string
	// NixImageSeed is a store path the default nix image's /nix holds.
	NixImageSeed string
	// World is the bed's HTTP server of binary caches and tarballs.
	World World
}

// World is what the bed serves on loopback (hack/httpcache): binary caches
// of the test package set, that set as tarballs, and the request log.
type World struct {
	// BinaryCache is signed with the bed's key, which its nix images trust
	// and list as their substituter.
	BinaryCache string
	// PrivateCache is the same behind basic auth; Netrc is a netrc file
	// with its account.
	PrivateCache, Netrc string
	// UntrustedCache is signed with a key no nix image trusts.
	UntrustedCache string
	// PkgsTarball and FlakeTarball are hack/testpkgs as a tarball;
	// PkgsTarballSHA256 is its unpacked hash, for fetchTarball.
	PkgsTarball, PkgsTarballSHA256, FlakeTarball string
	// Log is the request log: "METHOD PATH STATUS BYTES" lines.
	Log string
}

const startHint = `start the test bed: hack/testbed up && eval "$(hack/testbed env)"`

// Require returns the bed, or skips (fails under CI=true) when it is not up.
// Under -short it always skips: the short tier needs nothing but Go.
func Require(t testing.TB) *Bed {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the BuildKit test bed; not run with -short")
	}
	b := &Bed{
		BuildkitHost:  os.Getenv("BUILDKIT_HOST"),
		FrontendImage: os.Getenv("NIXFILE_FRONTEND_IMAGE"),
		NixImage:      os.Getenv("NIXFILE_NIX_IMAGE"),
		Registry:      os.Getenv("NIXFILE_REGISTRY"),
		TestPkgs:      os.Getenv("NIXFILE_TESTPKGS"),

		BuildkitdConfig: os.Getenv("NIXFILE_BUILDKITD_CONFIG"),
		NixImageNix28:   os.Getenv("NIXFILE_NIX_IMAGE_NIX28"),
		NixImageSeed:    os.Getenv("NIXFILE_NIX_IMAGE_SEED"),
		World: World{
			BinaryCache:       os.Getenv("NIXFILE_BINARY_CACHE"),
			PrivateCache:      os.Getenv("NIXFILE_PRIVATE_CACHE"),
			Netrc:             os.Getenv("NIXFILE_CACHE_NETRC"),
			UntrustedCache:    os.Getenv("NIXFILE_UNTRUSTED_CACHE"),
			PkgsTarball:       os.Getenv("NIXFILE_PKGS_TARBALL"),
			PkgsTarballSHA256: os.Getenv("NIXFILE_PKGS_TARBALL_SHA256"),
			FlakeTarball:      os.Getenv("NIXFILE_FLAKE_TARBALL"),
			Log:               os.Getenv("NIXFILE_HTTP_LOG"),
		},
	}
	missing := b.BuildkitHost == "" || b.FrontendImage == "" || b.NixImage == "" || b.TestPkgs == ""
	if !missing {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := client.New(ctx, b.BuildkitHost)
		if err == nil {
			_, err = c.ListWorkers(ctx)
			c.Close()
		}
		if err != nil {
			fail(t, "the test bed's buildkitd at %s does not answer (%v); %s", b.BuildkitHost, err, startHint)
		}
		return b
	}
	fail(t, "the BuildKit test bed is not in the environment; %s", startHint)
	return nil
}

// RequireWorld returns the bed's HTTP world, failing (skipping outside CI)
// when the environment lacks it: a bed from before it, or a partial env.
func (b *Bed) RequireWorld(t testing.TB) World {
	t.Helper()
	w := b.World
	if w.BinaryCache == "" || w.PrivateCache == "" || w.Netrc == "" || w.UntrustedCache == "" ||
		w.PkgsTarball == "" || w.PkgsTarballSHA256 == "" || w.FlakeTarball == "" || w.Log == "" {
		fail(t, "the bed's binary cache server is not in the environment; %s", startHint)
	}
	return w
}

// RequireNix28 returns the nix 2.8 image, failing (skipping outside CI)
// when the environment lacks it.
func (b *Bed) RequireNix28(t testing.TB) string {
	t.Helper()
	if b.NixImageNix28 == "" {
		fail(t, "NIXFILE_NIX_IMAGE_NIX28 is not set; %s", startHint)
	}
	return b.NixImageNix28
}

// RequireSeed returns the store path the default nix image's /nix holds,
// failing (skipping outside CI) when the environment lacks it.
func (b *Bed) RequireSeed(t testing.TB) string {
	t.Helper()
	if b.NixImageSeed == "" {
		fail(t, "NIXFILE_NIX_IMAGE_SEED is not set; %s", startHint)
	}
	return b.NixImageSeed
}

func fail(t testing.TB, format string, a ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, a...)
	}
	t.Skipf(format, a...)
}

// Client connects to the bed's daemon; it is closed when the test ends.
func (b *Bed) Client(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(context.Background(), b.BuildkitHost)
	if err != nil {
		t.Fatalf("connecting to buildkitd: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// FreshDaemon starts a buildkitd of its own on an empty state, with the
// bed's config (registry mirror included); it stops when the test ends.
// It returns the daemon's address.
func (b *Bed) FreshDaemon(t testing.TB) string {
	t.Helper()
	return b.OwnDaemon(t).Addr
}

// Daemon is a buildkitd a test starts, kills and starts again on its own
// state (--root), never the bed's shared one.
type Daemon struct {
	// Addr is its address, the same across restarts.
	Addr string
	// Root is its --root.
	Root string

	config, dir string
	cmd         *exec.Cmd
	logf        *os.File
}

// OwnDaemon starts a buildkitd of the test's own on an empty state, with
// the bed's binaries and config; it is stopped, its mounts undone and its
// state removed when the test ends.
func (b *Bed) OwnDaemon(t testing.TB) *Daemon {
	t.Helper()
	if b.BuildkitdConfig == "" {
		fail(t, "NIXFILE_BUILDKITD_CONFIG is not set; %s", startHint)
	}
	dir, err := os.MkdirTemp("", "nixfile-bk-")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{Addr: "unix://" + filepath.Join(dir, "buildkitd.sock"), Root: filepath.Join(dir, "root"), config: b.BuildkitdConfig, dir: dir}
	t.Cleanup(func() {
		if d.cmd != nil {
			_ = d.cmd.Process.Signal(syscall.SIGTERM)
			_, _ = d.cmd.Process.Wait()
			d.logf.Close()
		}
		unmountUnder(dir)
		_ = exec.Command("rm", "-rf", dir).Run()
	})
	d.Start(t)
	return d
}

// Start starts the daemon (again, after Kill) on its state, and waits
// until it answers.
func (d *Daemon) Start(t testing.TB) {
	t.Helper()
	cmd := exec.Command("buildkitd", "--config", d.config, "--root", d.Root,
		"--addr", d.Addr, "--oci-worker=true", "--containerd-worker=false")
	logf, err := os.OpenFile(filepath.Join(d.dir, "buildkitd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting a buildkitd: %v", err)
	}
	d.cmd, d.logf = cmd, logf
	for i := 0; i < 100; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := client.New(ctx, d.Addr)
		if err == nil {
			_, err = c.ListWorkers(ctx)
			c.Close()
		}
		cancel()
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the buildkitd did not start:\n%s", d.Log())
}

// Kill kills the daemon with SIGKILL, as a crash or the OOM killer would,
// and waits for it to be gone.
func (d *Daemon) Kill(t testing.TB) {
	t.Helper()
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatalf("killing buildkitd: %v", err)
	}
	_, _ = d.cmd.Process.Wait()
	d.logf.Close()
	d.cmd = nil
}

// Log is what the daemon printed, across restarts.
func (d *Daemon) Log() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "buildkitd.log"))
	return string(b)
}

// unmountUnder undoes the mounts a killed daemon left of its state under
// dir: those under dir, and those elsewhere (BuildKit's temporary mounts
// in the system's temporary directory) of a directory under dir or an
// overlay of its layers. Deepest first, so that dir can be removed.
func unmountUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - TYPE SOURCE SUPEROPTIONS
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if strings.HasPrefix(f[4], dir+"/") || strings.HasPrefix(f[3], dir+"/") || strings.Contains(line, "="+dir+"/") || strings.Contains(line, ":"+dir+"/") {
			points = append(points, f[4])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		if syscall.Unmount(points[i], syscall.MNT_DETACH) == nil && !strings.HasPrefix(points[i], dir+"/") {
			_ = os.Remove(points[i]) // BuildKit's empty temporary directory
		}
	}
}

// DockerEngine is one of the bed's Docker Engines (dockerd 26.1 from Debian
// trixie), reached with `docker` and DOCKER_HOST set to Host.
type DockerEngine struct {
	// Store is its image store: "classic" (overlay2) or "containerd"
	// (the containerd-snapshotter feature, the default of new installs).
	Store string
	// Host is its DOCKER_HOST.
	Host string
}

// RequireDocker returns the bed's Docker Engines, one per image store, or
// skips (fails under CI=true) when they are not up.
func RequireDocker(t testing.TB) (*Bed, []DockerEngine) {
	t.Helper()
	bed := Require(t)
	engines := []DockerEngine{
		{Store: "classic", Host: os.Getenv("NIXFILE_DOCKER_HOST_CLASSIC")},
		{Store: "containerd", Host: os.Getenv("NIXFILE_DOCKER_HOST_CONTAINERD")},
	}
	for _, e := range engines {
		if e.Host == "" {
			fail(t, "the test bed's Docker Engine (%s image store) is not in the environment; %s", e.Store, startHint)
			return nil, nil
		}
		if err := ping(e.Host); err != nil {
			fail(t, "the test bed's Docker Engine (%s image store) at %s does not answer (%v); %s", e.Store, e.Host, err, startHint)
			return nil, nil
		}
	}
	return bed, engines
}

// ping asks a Docker Engine's API whether it is up, as `docker` would.
func ping(host string) error {
	sock, ok := strings.CutPrefix(host, "unix://")
	if !ok {
		return fmt.Errorf("DOCKER_HOST %q is not a unix socket", host)
	}
	hc := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
		},
	}
	resp, err := hc.Get("http://docker/_ping")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/_ping: %s", resp.Status)
	}
	return nil
}

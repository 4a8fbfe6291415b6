package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/nixfile/nixfile/internal/testbed"
	"golang.org/x/crypto/ssh/agent"
)

// A secret reaches the nix stage, and never any layer or the build cache.
func TestSecretsReachNixButNoLayer(t *testing.T) {
	bed := testbed.Require(t)
	value := "machine cache.example.invalid login nixfile password s3cr3t-" + nonce(t)
	token := "github.com=ghp_" + nonce(t)
	addr := bed.FreshDaemon(t)
	dir := writeContext(t, map[string]string{
		"Nixfile": "BUILD seen.nix\nPACKAGES busybox\n",
		// Evaluation sees whether the secrets are there, and says so in a
		// package name; their contents go nowhere.
		"seen.nix": `{ busybox, system }:
let
  seen = f: if builtins.pathExists f then "yes" else "no";
  name = "secrets-netrc-${seen /run/secrets/netrc}-tokens-${seen /run/secrets/nix-access-tokens}";
in derivation { inherit name system; builder = "${busybox}/bin/sh"; args = [ "-c" "echo > $out" ]; }
`,
	})
	img, err := build(t, bed, dir, buildOpts{addr: addr, secrets: map[string][]byte{
		"netrc": []byte(value), "nix-access-tokens": []byte(token),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !anyHasSuffix(img.storeEntries(), "-secrets-netrc-yes-tokens-yes") {
		t.Errorf("the nix stage did not see the secrets: %v", img.storeEntries())
	}
	for name, f := range img.files {
		if bytes.Contains(f.data, []byte(value)) || bytes.Contains(f.data, []byte(token)) {
			t.Errorf("the image's /%s holds a secret", name)
		}
	}
	// The fresh daemon's whole state: content store, snapshots, cache db.
	root := filepath.Join(strings.TrimSuffix(strings.TrimPrefix(addr, "unix://"), "/buildkitd.sock"), "root")
	for _, secret := range []string{value, token} {
		out, err := exec.Command("grep", "-rlF", "--", secret, root).CombinedOutput()
		if err == nil {
			t.Errorf("the build cache holds a secret in:\n%s", out)
		} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("grep the build cache: %v: %s", err, out)
		}
	}
	// Without the secrets the same Nixfile builds, and nix sees none. (The
	// file changes: secrets are not part of BuildKit's cache keys, so the
	// same step would come from the cache, as for a Dockerfile RUN.)
	dir = writeContext(t, map[string]string{
		"Nixfile":  "BUILD seen.nix\nPACKAGES busybox\n",
		"seen.nix": "# without secrets\n" + mustRead(t, filepath.Join(dir, "seen.nix")),
	})
	img, err = build(t, bed, dir, buildOpts{addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	if !anyHasSuffix(img.storeEntries(), "-secrets-netrc-no-tokens-no") {
		t.Errorf("the nix stage saw secrets that were not given: %v", img.storeEntries())
	}
}

// The client's SSH agent (--ssh default) reaches nix as SSH_AUTH_SOCK, a
// socket, for fetches over ssh (git+ssh flake inputs), and the
// ssh_known_hosts secret is ssh's known hosts file there; without them,
// nix sees neither. (The bed's nix image has no git or ssh to fetch with.)
func TestSSHAgentReachesNix(t *testing.T) {
	bed := testbed.Require(t)
	seen := `{ busybox, system }:
let
  sock = builtins.getEnv "SSH_AUTH_SOCK";
  agent = if sock != "" && builtins.pathExists sock && builtins.readFileType sock == "unknown" then "yes" else "no";
  hosts = if builtins.getEnv "GIT_SSH_COMMAND" == "ssh -o UserKnownHostsFile=/run/secrets/ssh_known_hosts" then "yes" else "no";
  name = "ssh-agent-${agent}-hosts-${hosts}";
in derivation { inherit name system; builder = "${busybox}/bin/sh"; args = [ "-c" "echo > $out" ]; }
`
	// A context of its own for each build: the agent is not part of the
	// step's cache key.
	newContext := func() string {
		return writeContext(t, map[string]string{"Nixfile": "BUILD seen.nix\nPACKAGES busybox\n", "seen.nix": "# " + nonce(t) + "\n" + seen})
	}
	img, err := build(t, bed, newContext(), buildOpts{sshAgent: serveSSHAgent(t), secrets: map[string][]byte{
		"ssh_known_hosts": []byte("git.example.invalid ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !anyHasSuffix(img.storeEntries(), "-ssh-agent-yes-hosts-yes") {
		t.Errorf("nix did not see the agent and the known hosts: %v", img.storeEntries())
	}
	if img, err = build(t, bed, newContext(), buildOpts{}); err != nil {
		t.Fatal(err)
	}
	if !anyHasSuffix(img.storeEntries(), "-ssh-agent-no-hosts-no") {
		t.Errorf("nix saw an agent or known hosts that were not given: %v", img.storeEntries())
	}
}

// serveSSHAgent serves an SSH agent holding one new key on a unix socket,
// until the test ends, and returns the socket's path.
func serveSSHAgent(t *testing.T) string {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: key, Comment: "nixfile e2e"}); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "agent") // short: a socket's path has a limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				agent.ServeAgent(keyring, c) //nolint:errcheck // ends with the connection
			}()
		}
	}()
	return sock
}

// CI on fresh runners: a build that exports its cache, then the same build
// on a fresh daemon importing it, runs no nix step and gives the same image.
func TestCacheExportImportAcrossDaemons(t *testing.T) {
	bed := testbed.Require(t)
	dir := writeContext(t, map[string]string{"Nixfile": "PACKAGES greeter tools.greet\nUSER app\nENTRYPOINT [\"greeter\"]\n"})
	cacheDir := t.TempDir()
	first, err := build(t, bed, dir, buildOpts{
		addr:    bed.FreshDaemon(t),
		cacheTo: []client.CacheOptionsEntry{{Type: "local", Attrs: map[string]string{"dest": cacheDir, "mode": "max"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(cacheDir); len(entries) == 0 {
		t.Fatal("nothing exported to the cache")
	}
	second, err := build(t, bed, dir, buildOpts{
		addr:      bed.FreshDaemon(t),
		cacheFrom: []client.CacheOptionsEntry{{Type: "local", Attrs: map[string]string{"src": cacheDir}}},
		run:       [][]string{nil},
	})
	if err != nil {
		t.Fatal(err)
	}
	second.requireNixCached(t)
	if first.digest != second.digest {
		t.Errorf("the image differs: %s, then %s", first.digest, second.digest)
		m1, _ := first.img.RawManifest()
		m2, _ := second.img.RawManifest()
		c1, _ := first.img.RawConfigFile()
		c2, _ := second.img.RawConfigFile()
		t.Logf("manifests:\n%s\n%s\nconfigs:\n%s\n%s", m1, m2, c1, c2)
	}
	if o := second.outputs[0]; o.stdout != "greeter says: Hello, world!\n" {
		t.Errorf("the image printed %q (%v)", o.stdout, o.err)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The nix image comes from a named context when the build has one, as
// --build-context nixos/nix=docker-image://... gives; the NIX_IMAGE build
// arg names another image.
func TestNixImageFromNamedContextOrBuildArg(t *testing.T) {
	bed := testbed.Require(t)
	dir := writeContext(t, map[string]string{"Nixfile": "PACKAGES hello\nENTRYPOINT [\"hello\"]\n"})
	tests := []struct {
		name  string
		attrs map[string]string
		want  string // a step name the build must show
	}{
		{
			name: "named context",
			attrs: map[string]string{
				// This tag exists nowhere: only the named context can serve it.
				"build-arg:NIX_IMAGE": "docker.io/nixos/nix:no-such-tag",
				"context:nixos/nix":   "docker-image://" + bed.NixImage,
			},
			want: "[context nixos/nix",
		},
		{
			name:  "build arg",
			attrs: map[string]string{"build-arg:NIX_IMAGE": bed.NixImage},
			want:  "load metadata for " + bed.NixImage,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := build(t, bed, dir, buildOpts{attrs: tc.attrs, run: [][]string{nil}})
			if err != nil {
				t.Fatal(err)
			}
			if o := img.outputs[0]; o.stdout != "Hello, world!\n" {
				t.Errorf("the image printed %q (%v)", o.stdout, o.err)
			}
			found := false
			for name := range img.cached {
				found = found || strings.Contains(name, tc.want)
			}
			if !found {
				t.Errorf("no step %q among %v", tc.want, img.cached)
			}
		})
	}
	t.Run("an unknown image fails naming it", func(t *testing.T) {
		_, err := build(t, bed, dir, buildOpts{attrs: map[string]string{"build-arg:NIX_IMAGE": "docker.io/nixos/nix:no-such-tag"}})
		if err == nil || !strings.Contains(err.Error(), "nixos/nix:no-such-tag") {
			t.Errorf("want an error naming the image, got %v", err)
		}
	})
}

// A normal build shows the checks' warnings with their lines, as a
// Dockerfile build does.
func TestBuildShowsCheckWarnings(t *testing.T) {
	bed := testbed.Require(t)
	img, err := build(t, bed, writeContext(t, map[string]string{"Nixfile": "PACKAGES hello\nCMD hello && echo done\n"}), buildOpts{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"RunsAsRoot", "ShellFormNeedsShell: ", "(line 2)"}
	all := strings.Join(img.warnings, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("the warnings lack %q:\n%s", w, all)
		}
	}
	// RunsAsRoot is about a missing line: it names none.
	if strings.Contains(all, "(line 0)") {
		t.Errorf("a warning names line 0:\n%s", all)
	}
}

// A "# check=" directive configures the checks as a Dockerfile's does:
// error=true fails the build on a warning, naming the rules; skip= leaves
// rules out; BUILDKIT_DOCKERFILE_CHECK, when given, replaces the directive;
// a directive that says nothing valid fails at its line.
func TestCheckDirective(t *testing.T) {
	bed := testbed.Require(t)
	const warns = "PACKAGES hello\nCMD hello && echo done\n" // UnpinnedPackageSet, RunsAsRoot, ShellFormNeedsShell
	tests := []struct {
		name, nixfile string
		attrs         map[string]string
		wantErr       []string // nil: the build succeeds
	}{
		{name: "error=true fails on a warning", nixfile: "# check=error=true\n" + warns,
			wantErr: []string{"lint violation found for rules: ", "RunsAsRoot", "ShellFormNeedsShell", "UnpinnedPackageSet"}},
		{name: "the rules that warn skipped", nixfile: "# check=skip=UnpinnedPackageSet,RunsAsRoot,ShellFormNeedsShell;error=true\n" + warns},
		{name: "the build arg replaces the directive", nixfile: "# check=error=true\n" + warns,
			attrs: map[string]string{"build-arg:BUILDKIT_DOCKERFILE_CHECK": "skip=RunsAsRoot"}},
		{name: "error=true from the build arg", nixfile: warns,
			attrs:   map[string]string{"build-arg:BUILDKIT_DOCKERFILE_CHECK": "skip=RunsAsRoot,UnpinnedPackageSet;error=true"},
			wantErr: []string{"lint violation found for rules: ShellFormNeedsShell"}},
		{name: "not a check directive", nixfile: "# check=nonsense\nPACKAGES hello\n", wantErr: []string{"line 1: the check directive: "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(t, bed, writeContext(t, map[string]string{"Nixfile": tc.nixfile}), buildOpts{attrs: tc.attrs})
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("the build failed: %v", err)
			case tc.wantErr != nil && err == nil:
				t.Fatalf("the build succeeded, want an error with %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error lacks %q: %v", w, err)
				}
			}
		})
	}
}

// --target default builds the image; a target the Nixfile does not have
// fails the build, as a Dockerfile's does for a stage it lacks.
func TestTarget(t *testing.T) {
	bed := testbed.Require(t)
	dir := writeContext(t, map[string]string{"Nixfile": "PACKAGES hello\n"})
	if _, err := build(t, bed, dir, buildOpts{attrs: map[string]string{"target": "default"}}); err != nil {
		t.Fatalf("--target default: %v", err)
	}
	_, err := build(t, bed, dir, buildOpts{attrs: map[string]string{"target": "dev"}})
	if err == nil || !strings.Contains(err.Error(), `target "dev" could not be found: a Nixfile has one target, "default"`) {
		t.Errorf("--target dev: %v, want an error naming the target", err)
	}
}

// --label (what docker build --label and CI metadata actions send) puts
// labels on the image, over a LABEL of the same key, as for a Dockerfile.
func TestLabelsFromTheBuild(t *testing.T) {
	bed := testbed.Require(t)
	img, err := build(t, bed, writeContext(t, map[string]string{"Nixfile": "PACKAGES hello\nLABEL version=1.0 kept=yes\n"}),
		buildOpts{attrs: map[string]string{"label:version": "2.0", "label:org.opencontainers.image.revision": "abc123"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"version": "2.0", "kept": "yes", "org.opencontainers.image.revision": "abc123"}
	if got := img.config.Config.Labels; !reflect.DeepEqual(got, want) {
		t.Errorf("the image's labels are %v, want %v", got, want)
	}
}

// linux/amd64 builds; a platform the frontend does not build for fails
// with an error naming the nix system it maps to.
func TestPlatforms(t *testing.T) {
	bed := testbed.Require(t)
	dir := writeContext(t, map[string]string{"Nixfile": "PACKAGES hello\n"})
	img, err := build(t, bed, dir, buildOpts{attrs: map[string]string{"platform": "linux/amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	if img.config.Architecture != "amd64" || img.config.OS != "linux" {
		t.Errorf("platform %s/%s, want linux/amd64", img.config.OS, img.config.Architecture)
	}
	_, err = build(t, bed, dir, buildOpts{attrs: map[string]string{"platform": "linux/riscv64"}})
	if err == nil || !strings.Contains(err.Error(), "linux/riscv64 (nix system riscv64-linux) is not supported") {
		t.Errorf("want an error naming riscv64-linux, got %v", err)
	}
}

// A client that sends no build context (buildctl without --local context)
// builds a Nixfile that reads none, with no step failing on the way (the
// frontend loads the context only when the Nixfile reads it); one that
// reads it fails, naming the context.
func TestBuildWithoutAContext(t *testing.T) {
	bed := testbed.Require(t)
	img, err := build(t, bed, writeContext(t, map[string]string{
		"Nixfile": "PACKAGES hello\nENTRYPOINT [\"hello\"]\n",
	}), buildOpts{noContext: true, run: [][]string{nil}})
	if err != nil {
		t.Fatal(err)
	}
	if o := img.outputs[0]; o.stdout != "Hello, world!\n" {
		t.Errorf("the image printed %q (%v)", o.stdout, o.err)
	}
	if len(img.failedSteps) > 0 {
		t.Errorf("steps failed in a build that needs no context: %q", img.failedSteps)
	}

	_, err = build(t, bed, writeContext(t, map[string]string{
		"Nixfile": "BUILD app.nix\n",
		"app.nix": "(import <nixpkgs> { }).hello\n",
	}), buildOpts{noContext: true})
	if err == nil || !strings.Contains(err.Error(), "line 1: loading the build context, which this line reads: the client sent none") || !strings.Contains(err.Error(), `dir "context"`) {
		t.Errorf("a Nixfile that reads the context built without one: %v, want line 1 blamed and the context named", err)
	} else if src := errdefs.Sources(err); len(src) == 0 || src[0].Ranges[0].Start.Line != 1 {
		t.Errorf("the error shows no Nixfile line: %v", src)
	}
}

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
	"github.com/nixfile/nixfile/internal/testbed"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Multi-platform images without emulating nix: nix runs on the build
// platform (the bed's daemon is amd64 and has no emulator), evaluates the
// package set for each target's system, and substitutes the foreign
// system's outputs from a binary cache (the bed's holds aarch64-linux
// outputs of the test package set).

var arm64 = ocispecs.Platform{OS: "linux", Architecture: "arm64"}

// daemonRuns reports whether a daemon's worker lists p (BuildKit lists the
// platforms its emulators give, too).
func daemonRuns(t *testing.T, bed *testbed.Bed, p ocispecs.Platform) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, err := bed.Client(t).ListWorkers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := platforms.OnlyStrict(p)
	for _, w := range ws {
		for _, wp := range w.Platforms {
			if m.Match(wp) {
				return true
			}
		}
	}
	return false
}

// nixRunsRe finds the lines the nix steps print about where nix runs.
var nixRunsRe = regexp.MustCompile(`nixfile: nix runs on (\S+), builds for (\S+)`)

// storeHashes are the hash parts of store paths.
func storeHashes(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, strings.SplitN(strings.TrimPrefix(p, "/nix/store/"), "-", 2)[0])
	}
	return out
}

// --platform linux/amd64,linux/arm64 gives an index of both images; each
// holds exactly the closure nix gives for its system, its config names its
// platform, and the automatic args are the target's (BUILD* the build
// platform's). The arm64 closure came from the binary cache (the server
// saw each of its narinfos and NARs) and no nix step ran as arm64 or built
// anything. The same build on a fresh daemon gives the same index digest.
func TestTwoPlatformsSubstituteTheForeignSystem(t *testing.T) {
	bed := testbed.Require(t)
	w := bed.RequireWorld(t)
	if daemonRuns(t, bed, arm64) {
		t.Logf("the daemon reports linux/arm64 (an emulator is registered); nix must still run as amd64")
	}
	l := newHTTPLog(t, w)
	ctxFiles := map[string]string{"Nixfile": "NIXCONFIG substituters = " + l.url(w.BinaryCache) + "\n" +
		"ARG TARGETARCH\nARG TARGETPLATFORM\nARG NIX_SYSTEM\nARG BUILDPLATFORM\nARG NIX_BUILD_SYSTEM\n" +
		"PACKAGES greeter tools.greet\n" +
		"LABEL arch=$TARGETARCH platform=$TARGETPLATFORM system=$NIX_SYSTEM build=$BUILDPLATFORM build-system=$NIX_BUILD_SYSTEM\n" +
		"ENTRYPOINT [\"greeter\"]\n"}
	attrs := map[string]string{
		"platform": "linux/amd64,linux/arm64",
		// A store of its own, empty: whatever the bed built before, the
		// arm64 paths come from the cache now.
		"build-arg:NIXFILE_STORE": "platforms-" + nonce(t),
	}
	idx, err := build(t, bed, writeContext(t, ctxFiles), buildOpts{attrs: attrs})
	if err != nil {
		t.Fatal(err)
	}
	reqs := l.since(t)
	if len(idx.platforms) != 2 || idx.platforms["linux/amd64"] == nil || idx.platforms["linux/arm64"] == nil {
		t.Fatalf("the index has %v, want linux/amd64 and linux/arm64", keys(idx.platforms))
	}
	for p, system := range map[string]string{"linux/amd64": "x86_64-linux", "linux/arm64": "aarch64-linux"} {
		img := idx.platforms[p]
		if got := img.config.OS + "/" + img.config.Architecture; got != p {
			t.Errorf("the %s image's config names %s", p, got)
		}
		want := map[string]string{"arch": strings.TrimPrefix(p, "linux/"), "platform": p, "system": system,
			"build": "linux/amd64", "build-system": "x86_64-linux"}
		for k, v := range want {
			if got := img.config.Config.Labels[k]; got != v {
				t.Errorf("%s: label %s=%q, want %q", p, k, got, v)
			}
		}
		// The oracle: nix-build of <nixpkgs> with --argstr system, in the
		// nix image, by another route than the frontend's.
		if got, want := img.storeEntries(), nixClosureFor(t, bed, system, "greeter", "tools.greet"); !slices.Equal(got, want) {
			t.Errorf("%s: the image's store paths are\n%v\nnix's closure for %s is\n%v", p, got, system, want)
		}
	}
	amdHashes, armHashes := storeHashes(idx.platforms["linux/amd64"].storeEntries()), storeHashes(idx.platforms["linux/arm64"].storeEntries())
	for _, h := range armHashes {
		if slices.Contains(amdHashes, h) {
			t.Errorf("the arm64 image has the amd64 store path %s: the systems mixed", h)
		}
	}

	// From the cache: each arm64 path's narinfo and NAR were fetched.
	for _, h := range armHashes {
		var narinfo bool
		for _, r := range reqs {
			if r.path == "/cache/"+h+".narinfo" && r.status == 200 {
				narinfo = true
			}
		}
		if !narinfo {
			t.Errorf("nix did not fetch the narinfo of the arm64 path %s from the cache; %s", h, summary(reqs))
		}
	}
	nars := 0
	for _, r := range reqs {
		if strings.HasPrefix(r.path, "/cache/nar/") && r.status == 200 {
			nars++
		}
	}
	if nars < len(armHashes) {
		t.Errorf("%d NARs fetched, want at least the %d of the arm64 closure; %s", nars, len(armHashes), summary(reqs))
	}
	// No emulation: every nix step ran as x86_64, one for each system,
	// and nix built nothing of the arm64 closure.
	runs := nixRunsRe.FindAllStringSubmatch(idx.log, -1)
	var targets []string
	for _, m := range runs {
		if m[1] != "x86_64" {
			t.Errorf("a nix step ran on %s: %s", m[1], m[0])
		}
		targets = append(targets, m[2])
	}
	if !slices.Contains(targets, "aarch64-linux") {
		t.Errorf("no nix step built for aarch64-linux on x86_64: %v", runs)
	}
	if regexp.MustCompile(`(?m)building '/nix/store/[^']*\.drv'`).MatchString(idx.log) {
		t.Errorf("nix built a derivation; everything is in the cache:\n%s", tail(idx.log, 40))
	}
	for name := range idx.cached {
		if strings.Contains(name, "(emulated)") {
			t.Errorf("a step ran under emulation: %s", name)
		}
	}

	// Reproducible: a fresh daemon gives the same index, and so does that
	// daemon once pruned of everything (its store cache included).
	addr := bed.FreshDaemon(t)
	fresh, err := build(t, bed, writeContext(t, ctxFiles), buildOpts{attrs: attrs, addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.digest != idx.digest {
		t.Errorf("the index is %s on the bed's daemon, %s on a fresh one", idx.digest, fresh.digest)
	}
	prune(t, addr)
	pruned, err := build(t, bed, writeContext(t, ctxFiles), buildOpts{attrs: attrs, addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	if pruned.digest != idx.digest {
		t.Errorf("the index is %s on the bed's daemon, %s after a prune", idx.digest, pruned.digest)
	}
	const armStep = "[nix] build greeter tools.greet for aarch64-linux (nix: x86_64-linux)"
	if cached, ok := pruned.cached[armStep]; !ok {
		t.Errorf("no step %q after the prune: %v", armStep, keys(pruned.cached))
	} else if cached {
		t.Errorf("after the prune, the arm64 nix step came from BuildKit's cache")
	}

	// --platform linux/arm64 alone: the same arm64 image, on its own.
	one, err := build(t, bed, writeContext(t, ctxFiles), buildOpts{attrs: map[string]string{"platform": "linux/arm64"}})
	if err != nil {
		t.Fatal(err)
	}
	if one.platforms != nil || one.config.Architecture != "arm64" {
		t.Fatalf("--platform linux/arm64 gave %v / %s, want one arm64 image", keys(one.platforms), one.config.Architecture)
	}
	if one.digest != idx.platforms["linux/arm64"].digest {
		t.Errorf("--platform linux/arm64 gives image %s, the two-platform build's arm64 image is %s", one.digest, idx.platforms["linux/arm64"].digest)
	}
	if m := nixRunsRe.FindStringSubmatch(one.log); m != nil && m[1] != "x86_64" {
		t.Errorf("the arm64 build's nix ran on %s", m[1])
	}
}

// A package of the foreign system that no cache has, on a daemon that
// cannot run that system: the build fails at the line that asks for it,
// naming its derivation and the ways to get it; a line whose packages the
// cache has is not blamed. The same Nixfile builds for amd64.
func TestForeignPackageMissingFromTheCache(t *testing.T) {
	bed := testbed.Require(t)
	w := bed.RequireWorld(t)
	if daemonRuns(t, bed, arm64) {
		t.Skip("the daemon reports linux/arm64 (an emulator is registered): the frontend builds the package under emulation instead; see TestForeignPackageBuiltUnderEmulation")
	}
	n := nonce(t)
	dir := writeContext(t, map[string]string{
		"Nixfile":  "NIXCONFIG substituters = " + w.BinaryCache + "\nPACKAGES hello\nBUILD slow.nix\n",
		"slow.nix": fmt.Sprintf("{ mkSlow }: mkSlow %q\n", n),
	})
	_, err := build(t, bed, dir, buildOpts{attrs: map[string]string{"platform": "linux/arm64"}})
	if err == nil {
		t.Fatal("the arm64 build of a package no cache has succeeded on a daemon without emulation")
	}
	msg := err.Error()
	t.Logf("the error:\n%s", msg)
	if lines := errorLines(err); !slices.Equal(lines, []int{3}) {
		t.Errorf("the error is at lines %v, want [3] (BUILD slow.nix): %v", lines, err)
	}
	drvRe := regexp.MustCompile(`/nix/store/[0-9a-z]{32}-slow-` + n + `\.drv`)
	for _, want := range []string{"nix cannot build", "aarch64-linux", "binary cache", "binfmt", "remote builder"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q:\n%s", want, msg)
		}
	}
	if !drvRe.MatchString(msg) {
		t.Errorf("the error does not name the derivation slow-%s.drv:\n%s", n, msg)
	}
	if strings.Contains(msg, "-hello.drv") {
		t.Errorf("the error names hello, which the cache has:\n%s", msg)
	}
	if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine") {
		t.Errorf("the error has a stack trace:\n%s", msg)
	}

	img, err := build(t, bed, dir, buildOpts{attrs: map[string]string{"platform": "linux/amd64"}})
	if err != nil {
		t.Fatalf("the amd64 build of the same Nixfile: %v", err)
	}
	if !anyHasSuffix(img.storeEntries(), "-slow-"+n) {
		t.Errorf("the amd64 image lacks slow-%s: %v", n, img.storeEntries())
	}
}

// On a daemon that can run linux/arm64 (an emulator registered), a package
// of that system no cache has is built there: the nix stage runs again on
// the nix image for linux/arm64, under emulation. This bed registers no
// emulator (binfmt_misc is the kernel's, shared by every process on it), so
// here the test skips.
func TestForeignPackageBuiltUnderEmulation(t *testing.T) {
	bed := testbed.Require(t)
	w := bed.RequireWorld(t)
	if !daemonRuns(t, bed, arm64) {
		t.Skip("the daemon does not report linux/arm64 (no binfmt_misc emulator registered on this machine): the emulated build is untested here")
	}
	n := nonce(t)
	dir := writeContext(t, map[string]string{
		"Nixfile":  "NIXCONFIG substituters = " + w.BinaryCache + "\nPACKAGES hello\nBUILD slow.nix\n",
		"slow.nix": fmt.Sprintf("{ mkSlow }: mkSlow %q\n", n),
	})
	img, err := build(t, bed, dir, buildOpts{attrs: map[string]string{"platform": "linux/arm64"}})
	if err != nil {
		if strings.Contains(err.Error(), "no match for platform") {
			t.Skipf("the nix image has no linux/arm64 image: %v", err)
		}
		t.Fatal(err)
	}
	if img.config.Architecture != "arm64" || !anyHasSuffix(img.storeEntries(), "-slow-"+n) {
		t.Errorf("the image is %s with %v, want arm64 with slow-%s", img.config.Architecture, img.storeEntries(), n)
	}
	var emulated bool
	for name := range img.cached {
		emulated = emulated || strings.Contains(name, "for aarch64-linux (emulated)")
	}
	if !emulated {
		t.Errorf("no nix step ran under emulation")
	}
}

// prune removes everything a daemon keeps, cache mounts included.
func prune(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := client.New(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Prune(ctx, nil, client.PruneAll); err != nil {
		t.Fatalf("pruning %s: %v", addr, err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Every kind of package set is evaluated for the target's system when nix
// runs as another: a NIX_PATH set, a tarball, a flake's packages.<system>,
// a context directory, a BUILD file given pkgs, and one that imports
// <nixpkgs> itself (builtins.currentSystem: nix's eval-system). Each arm64
// image holds the aarch64-linux hello, as nix gives it.
func TestForeignSystemForEveryPackageSet(t *testing.T) {
	bed := testbed.Require(t)
	w := bed.RequireWorld(t)
	var want string
	for _, p := range nixClosureFor(t, bed, "aarch64-linux", "hello") {
		if strings.HasSuffix(p, "-hello") {
			want = p
		}
	}
	if want == "" {
		t.Fatal("nix's aarch64-linux closure of hello has no hello")
	}
	cfg := "NIXCONFIG substituters = " + w.BinaryCache + "\n"
	for _, tt := range []struct {
		name  string
		files map[string]string
		pkgs  bool
	}{
		{name: "NIX_PATH", files: map[string]string{"Nixfile": cfg + "PACKAGES hello\n"}},
		{name: "tarball", files: map[string]string{"Nixfile": cfg + "NIXPKGS " + w.PkgsTarball + "\nPACKAGES hello\n"}},
		{name: "flake", files: map[string]string{"Nixfile": cfg + "FLAKE " + w.FlakeTarball + "#hello\n"}},
		{name: "context dir", files: map[string]string{"Nixfile": cfg + "NIXPKGS ./pkgs\nPACKAGES hello\n"}, pkgs: true},
		{name: "BUILD with pkgs", files: map[string]string{"Nixfile": cfg + "BUILD app.nix\n", "app.nix": "{ pkgs }: pkgs.hello\n"}},
		{name: "BUILD importing <nixpkgs>", files: map[string]string{"Nixfile": cfg + "BUILD app.nix\n", "app.nix": "(import <nixpkgs> { }).hello\n"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeContext(t, tt.files)
			if tt.pkgs {
				withTestPkgs(t, bed, dir, "pkgs")
			}
			img, err := build(t, bed, dir, buildOpts{attrs: map[string]string{"platform": "linux/arm64"}})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(img.storeEntries(), want) {
				t.Errorf("the arm64 image has %v, want the aarch64-linux %s", img.storeEntries(), want)
			}
			if img.config.Architecture != "arm64" {
				t.Errorf("the image's config names %s", img.config.Architecture)
			}
		})
	}
}

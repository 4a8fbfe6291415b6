package e2e

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/internal/testbed"
)

// The Nix world users live in, on loopback: nix substitutes from a binary
// cache, fetches package sets and flakes by URL, and fetches nothing twice.
// Each test names a token of its own in the URLs it gives nix
// (http://HOST/s/TOKEN/...), so that it reads its own requests out of the
// server's log, whatever else the bed serves meanwhile.

// request is one line of the server's log.
type request struct {
	method, path string
	status       int
	bytes        int64
}

// httpLog reads the requests of one token from the bed's server log.
type httpLog struct {
	file  string
	token string
	from  int64
}

func newHTTPLog(t *testing.T, w testbed.World) *httpLog {
	l := &httpLog{file: w.Log, token: nonce(t)}
	l.mark(t)
	return l
}

// url puts the log's token into a URL of the bed's server.
func (l *httpLog) url(u string) string {
	i := strings.Index(u[len("http://"):], "/") + len("http://")
	return u[:i] + "/s/" + l.token + u[i:]
}

// mark starts a new build: since returns what came after.
func (l *httpLog) mark(t *testing.T) {
	fi, err := os.Stat(l.file)
	if err != nil {
		t.Fatalf("the server's request log: %v", err)
	}
	l.from = fi.Size()
}

// since is the token's requests since the last mark, their paths without
// the token.
func (l *httpLog) since(t *testing.T) []request {
	t.Helper()
	f, err := os.Open(l.file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(l.from, 0); err != nil {
		t.Fatal(err)
	}
	prefix := "/s/" + l.token + "/"
	var out []request
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 4 || !strings.HasPrefix(fs[1], prefix) {
			continue
		}
		status, _ := strconv.Atoi(fs[2])
		n, _ := strconv.ParseInt(fs[3], 10, 64)
		out = append(out, request{method: fs[0], path: "/" + strings.TrimPrefix(fs[1], prefix), status: status, bytes: n})
	}
	l.mark(t)
	return out
}

func summary(rs []request) string {
	var b strings.Builder
	var total int64
	for _, r := range rs {
		fmt.Fprintf(&b, "  %s %s %d %d\n", r.method, r.path, r.status, r.bytes)
		total += r.bytes
	}
	return fmt.Sprintf("%d requests, %d bytes:\n%s", len(rs), total, b.String())
}

// storeHash is the hash part of a store path of the image whose name ends
// in -name.
func (i *image) storeHash(t *testing.T, name string) string {
	t.Helper()
	for _, p := range i.storeEntries() {
		if strings.HasSuffix(p, "-"+name) {
			return strings.SplitN(strings.TrimPrefix(p, "/nix/store/"), "-", 2)[0]
		}
	}
	t.Fatalf("no %s in the image: %v", name, i.storeEntries())
	return ""
}

var builtRe = regexp.MustCompile(`building '/nix/store/[^']*-(hello|busybox-1\.35\.0|greeter|prebuilt-1\.0)\.drv'`)

// A cold build substitutes every path the cache has; adding a package
// fetches only its paths; a build with no change makes no request at all.
func TestBinaryCacheSubstitutesAndFetchesNothingTwice(t *testing.T) {
	bed := testbed.Require(t)
	w := bed.RequireWorld(t)
	addr := bed.FreshDaemon(t)
	l := newHTTPLog(t, w)
	nixfile := func(pkgs string) map[string]string {
		return map[string]string{"Nixfile": "NIXCONFIG substituters = " + l.url(w.BinaryCache) + "\nPACKAGES " + pkgs + "\nENTRYPOINT [\"hello\"]\n"}
	}

	cold, err := build(t, bed, writeContext(t, nixfile("hello")), buildOpts{addr: addr, run: [][]string{nil}})
	if err != nil {
		t.Fatal(err)
	}
	reqs := l.since(t)
	t.Logf("cold: %s", summary(reqs))
	if m := builtRe.FindString(cold.log); m != "" {
		t.Errorf("the cold build built what the cache has: %s", m)
	}
	if o := cold.outputs[0]; o.stdout != "Hello, world!\n" {
		t.Errorf("the image printed %q (%v)", o.stdout, o.err)
	}
	want := map[string]bool{
		"/cache/" + cold.storeHash(t, "hello") + ".narinfo":          true,
		"/cache/" + cold.storeHash(t, "busybox-1.35.0") + ".narinfo": true,
	}
	nars := 0
	for _, r := range reqs {
		if r.status != 200 {
			t.Errorf("%s %s: %d", r.method, r.path, r.status)
		}
		delete(want, r.path)
		if strings.HasPrefix(r.path, "/cache/nar/") {
			nars++
		}
	}
	if len(want) > 0 || nars != 2 {
		t.Errorf("the cold build did not fetch hello and busybox (%d NARs; missing %v):\n%s", nars, want, summary(reqs))
	}

	plus, err := build(t, bed, writeContext(t, nixfile("hello greeter")), buildOpts{addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	reqs = l.since(t)
	t.Logf("+1 package: %s", summary(reqs))
	greeter := "/cache/" + plus.storeHash(t, "greeter") + ".narinfo"
	if len(reqs) != 2 || reqs[0].path != greeter || !strings.HasPrefix(reqs[1].path, "/cache/nar/") {
		t.Errorf("adding greeter fetched other than its narinfo and NAR:\n%s", summary(reqs))
	}
	if m := builtRe.FindString(plus.log); m != "" {
		t.Errorf("the +1 build built what the cache has: %s", m)
	}

	if _, err := build(t, bed, writeContext(t, nixfile("hello greeter")), buildOpts{addr: addr}); err != nil {
		t.Fatal(err)
	}
	if reqs = l.since(t); len(reqs) != 0 {
		t.Errorf("a build with no change made requests:\n%s", summary(reqs))
	}
}

// A package set by tarball URL is downloaded once across rebuilds, with or
// without its sha256, each from a cold store; a flake by tarball URL builds.
func TestTarballsFetchedOnce(t *testing.T) {
	bed := testbed.Require(t)
	w := bed.RequireWorld(t)
	l := newHTTPLog(t, w)
	tarball := l.url(w.PkgsTarball)
	for _, tc := range []struct {
		name, nixpkgs string
	}{
		{name: "without sha256", nixpkgs: tarball},
		// Another URL, so that nix's cache of the first is no help.
		{name: "with sha256", nixpkgs: tarball + "?v=pinned sha256:" + w.PkgsTarballSHA256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, addr := tc.nixpkgs, bed.FreshDaemon(t)
			var all []request
			for i, pkgs := range []string{"hello", "hello greeter", "hello greeter tools.greet"} {
				img, err := build(t, bed, writeContext(t, map[string]string{
					"Nixfile": "NIXPKGS " + src + "\nPACKAGES " + pkgs + "\nENTRYPOINT [\"hello\"]\n",
				}), buildOpts{addr: addr, run: [][]string{nil}})
				if err != nil {
					t.Fatal(err)
				}
				if o := img.outputs[0]; o.stdout != "Hello, world!\n" {
					t.Errorf("build %d: the image printed %q (%v)", i, o.stdout, o.err)
				}
				reqs := l.since(t)
				t.Logf("build %d (%s): %s", i, pkgs, summary(reqs))
				all = append(all, reqs...)
			}
			fetched := 0
			for _, r := range all {
				if strings.HasPrefix(r.path, "/pkgs.tar.gz") && r.status == 200 {
					fetched++
				}
			}
			if fetched != 1 {
				t.Errorf("the tarball was downloaded %d times in three builds, want once:\n%s", fetched, summary(all))
			}
		})
	}
	// Once nix's tarball-ttl is over, nix asks again with the ETag it has,
	// and the server's 304 costs no download.
	t.Run("revalidated, not downloaded again", func(t *testing.T) {
		addr := bed.FreshDaemon(t)
		var all []request
		for i, pkgs := range []string{"hello", "hello greeter", "hello greeter tools.greet"} {
			if _, err := build(t, bed, writeContext(t, map[string]string{
				"Nixfile": "NIXCONFIG tarball-ttl = 0\nNIXPKGS " + tarball + "?v=ttl\nPACKAGES " + pkgs + "\n",
			}), buildOpts{addr: addr}); err != nil {
				t.Fatal(err)
			}
			reqs := l.since(t)
			t.Logf("build %d (%s): %s", i, pkgs, summary(reqs))
			all = append(all, reqs...)
		}
		var statuses []int
		for _, r := range all {
			if strings.HasPrefix(r.path, "/pkgs.tar.gz") {
				statuses = append(statuses, r.status)
			}
		}
		if fmt.Sprint(statuses) != "[200 304 304]" {
			t.Errorf("the tarball's requests answered %v, want [200 304 304]:\n%s", statuses, summary(all))
		}
	})
	t.Run("flake by tarball URL", func(t *testing.T) {
		img, err := build(t, bed, writeContext(t, map[string]string{
			"Nixfile": "FLAKE " + l.url(w.FlakeTarball) + "#greeter\nENTRYPOINT [\"greeter\"]\n",
		}), buildOpts{run: [][]string{nil}})
		if err != nil {
			t.Fatal(err)
		}
		if o := img.outputs[0]; o.stdout != "greeter says: Hello, world!\n" {
			t.Errorf("the image printed %q (%v)", o.stdout, o.err)
		}
		if reqs := l.since(t); len(reqs) == 0 || reqs[0].path != "/flake.tar.gz" {
			t.Errorf("the flake was not fetched from its URL:\n%s", summary(reqs))
		}
	})
}

// A private cache: without the netrc secret nix cannot reach it, and the
// build of a package only the cache has fails at its line with nix's
// message; with it, nix substitutes. The secret is in no layer and no cache.
func TestPrivateCacheWithNetrcSecret(t *testing.T) {
	bed := testbed.Require(t)
	w := bed.RequireWorld(t)
	addr := bed.FreshDaemon(t)
	l := newHTTPLog(t, w)
	netrc := []byte(mustRead(t, w.Netrc))
	dir := writeContext(t, map[string]string{
		"Nixfile": "NIXCONFIG substituters = " + l.url(w.PrivateCache) + "\nPACKAGES prebuilt\nENTRYPOINT [\"prebuilt\"]\n",
	})

	_, err := build(t, bed, dir, buildOpts{addr: addr})
	if err == nil {
		t.Fatal("the build without the netrc secret succeeded")
	}
	if line := errorLine(err); line != 2 {
		t.Errorf("the error is at line %d, want 2: %v", line, err)
	}
	for _, want := range []string{"401", "prebuilt-1.0 comes only from the binary cache"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q: %v", want, err)
		}
	}
	if reqs := l.since(t); len(reqs) == 0 || reqs[0].status != 401 {
		t.Errorf("want the cache to refuse nix without the secret:\n%s", summary(reqs))
	}

	img, err := build(t, bed, dir, buildOpts{addr: addr, secrets: map[string][]byte{"netrc": netrc}, run: [][]string{nil}})
	if err != nil {
		t.Fatal(err)
	}
	if o := img.outputs[0]; o.stdout != "prebuilt, substituted\n" {
		t.Errorf("the image printed %q (%v)", o.stdout, o.err)
	}
	nars := 0
	for _, r := range l.since(t) {
		if r.status == 200 && strings.HasPrefix(r.path, "/private/nar/") {
			nars++
		}
	}
	if nars == 0 {
		t.Errorf("nothing was substituted from the private cache")
	}
	password := strings.Fields(string(netrc))[len(strings.Fields(string(netrc)))-1]
	for name, f := range img.files {
		if strings.Contains(string(f.data), password) {
			t.Errorf("the image's /%s holds the secret", name)
		}
	}
	root := filepath.Join(strings.TrimSuffix(strings.TrimPrefix(addr, "unix://"), "/buildkitd.sock"), "root")
	out, err := exec.Command("grep", "-rlF", "--", password, root).CombinedOutput()
	if err == nil {
		t.Errorf("the build cache holds the secret in:\n%s", out)
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("grep the build cache: %v: %s", err, out)
	}
}

// A narinfo signed with a key nix does not trust is refused, with nix's
// message, and its NAR is never downloaded.
func TestUntrustedCacheRefused(t *testing.T) {
	bed := testbed.Require(t)
	w := bed.RequireWorld(t)
	addr := bed.FreshDaemon(t)
	l := newHTTPLog(t, w)
	_, err := build(t, bed, writeContext(t, map[string]string{
		"Nixfile": "NIXCONFIG substituters = " + l.url(w.UntrustedCache) + "\nPACKAGES prebuilt\n",
	}), buildOpts{addr: addr})
	if err == nil {
		t.Fatal("the build from an untrusted cache succeeded")
	}
	if line := errorLine(err); line != 2 {
		t.Errorf("the error is at line %d, want 2: %v", line, err)
	}
	if !strings.Contains(err.Error(), "not signed by any of the keys in 'trusted-public-keys'") {
		t.Errorf("the error lacks nix's message about the signature: %v", err)
	}
	reqs := l.since(t)
	narinfo := false
	for _, r := range reqs {
		if strings.HasPrefix(r.path, "/untrusted/nar/") {
			t.Errorf("a NAR of the untrusted cache was downloaded: %s", r.path)
		}
		narinfo = narinfo || strings.HasSuffix(r.path, ".narinfo")
	}
	if !narinfo {
		t.Errorf("nix did not ask the untrusted cache:\n%s", summary(reqs))
	}
}

// Each of the bed's nix images lists the bed's cache as its substituter and
// trusts its key, as the official image does cache.nixos.org: prebuilt,
// which only the cache has, builds with no setting of the user's.
func TestNixImagesSubstituteFromTheirCache(t *testing.T) {
	bed := testbed.Require(t)
	bed.RequireWorld(t)
	for _, tc := range []struct{ name, image string }{
		{name: "default nix", image: ""},
		{name: "nix 2.8", image: bed.RequireNix28(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attrs := map[string]string{}
			if tc.image != "" {
				attrs["build-arg:NIX_IMAGE"] = tc.image
			}
			img, err := build(t, bed, writeContext(t, map[string]string{
				"Nixfile": "PACKAGES prebuilt\nENTRYPOINT [\"prebuilt\"]\n",
			}), buildOpts{addr: bed.FreshDaemon(t), attrs: attrs, run: [][]string{nil}})
			if err != nil {
				t.Fatal(err)
			}
			if o := img.outputs[0]; o.stdout != "prebuilt, substituted\n" {
				t.Errorf("the image printed %q (%v)", o.stdout, o.err)
			}
		})
	}
}

// The default nix image's /nix holds a valid store path, as the official
// image's does: the store cache, seeded from it, has it valid, so a build
// can name it (builtins.storePath fails on a path the store lacks) and the
// image gets it.
func TestStoreSeededFromAPopulatedNix(t *testing.T) {
	bed := testbed.Require(t)
	seed := bed.RequireSeed(t)
	img, err := build(t, bed, writeContext(t, map[string]string{
		"Nixfile": "BUILD seed.nix\nPACKAGES hello\n",
		// A package whose output refers to the seed: the seed is in its closure.
		"seed.nix": fmt.Sprintf(`{ busybox, system }: derivation {
  name = "uses-seed"; inherit system;
  builder = "${busybox}/bin/sh";
  args = [ "-c" "echo ${builtins.storePath %q} > $out" ];
}
`, seed),
	}), buildOpts{addr: bed.FreshDaemon(t)})
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := img.files[strings.TrimPrefix(seed, "/")]; !ok || !strings.Contains(string(f.data), "came with the nix image") {
		t.Errorf("the image lacks the nix image's store path %s: %v", seed, img.storeEntries())
	}
}

// --add-host reaches the nix step, as it reaches a Dockerfile's RUN: a
// binary cache named by a host name that only --add-host resolves is the
// one the build substitutes from.
func TestAddHostReachesTheNixStep(t *testing.T) {
	bed := testbed.Require(t)
	w := bed.RequireWorld(t)
	addr := bed.FreshDaemon(t)
	l := newHTTPLog(t, w)
	cache := l.url(w.BinaryCache)
	u, err := url.Parse(cache)
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("the bed's binary cache is at %s, want an address of 127.0.0.1", cache)
	}
	u.Host = "nixcache.test:" + u.Port()
	img, err := build(t, bed, writeContext(t, map[string]string{
		"Nixfile": "NIXCONFIG substituters = " + u.String() + "\nPACKAGES hello\n",
	}), buildOpts{addr: addr, attrs: map[string]string{"add-hosts": "nixcache.test=127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if m := builtRe.FindString(img.log); m != "" {
		t.Errorf("the build built what the cache has: %s", m)
	}
	narinfo := "/cache/" + img.storeHash(t, "hello") + ".narinfo"
	reqs := l.since(t)
	if !slices.ContainsFunc(reqs, func(r request) bool { return r.path == narinfo && r.status == 200 }) {
		t.Errorf("the build did not fetch %s from nixcache.test:\n%s", narinfo, summary(reqs))
	}
}

package nixllb

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// officialTools are the commands the nix stage's scripts may run besides
// nix and the shell's builtins: the official nixos/nix image has nix, bash,
// coreutils, gnutar, gzip, gnugrep, which, curl, less, wget, man, cacert
// and findutils, and nothing else (no sed, no awk). The Debian test image
// has more, so only the tests that run the scripts with these alone on
// PATH catch a slip.
var officialTools = []string{
	"cat", "cp", "cut", "date", "dirname", "head", "id", "ln", "ls", "mkdir", "mkfifo", "mktemp", "mv", "rm", "sleep", "sort", "tail",
	"tee", "timeout", "tr", "uname", "uniq", "wc", "grep", "find",
}

// scriptEnv is a directory where the nix stage's scripts run with fake nix
// tools and only officialTools on PATH: the step's mounts are directories
// of the test, and store paths are under store.
type scriptEnv struct {
	dir, store, out, closure, secrets, expr string
	// env is added to the scripts' environment.
	env []string
}

// newScriptEnv makes the directories, the scripts beside build.nix, and
// fake nix tools: nix-build prints the roots (twice: the script keeps each
// once), nix-store the closure, nix an empty path-info. tools replace or
// add fakes, by name, as shell script bodies.
func newScriptEnv(t *testing.T, roots, closure []string, tools map[string]string) *scriptEnv {
	t.Helper()
	dir := t.TempDir()
	e := &scriptEnv{dir: dir, store: filepath.Join(dir, "store"), out: filepath.Join(dir, "out"),
		closure: filepath.Join(dir, "closure"), secrets: filepath.Join(dir, "secrets"), expr: filepath.Join(dir, "expr")}
	for _, d := range []string{e.store, e.out, e.secrets, e.expr, filepath.Join(dir, "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	abs := func(names []string) string {
		var b strings.Builder
		for _, n := range names {
			b.WriteString(filepath.Join(e.store, n) + "\n")
		}
		return b.String()
	}
	e.write(t, "roots", abs(roots))
	e.write(t, "closure-list", abs(closure))
	fakes := map[string]string{
		"nix-build": "cat " + filepath.Join(dir, "roots") + " " + filepath.Join(dir, "roots"),
		"nix-store": `if [ "$1" = --query ]; then cat ` + filepath.Join(dir, "closure-list") + `; fi`,
		"nix":       "echo '[]'",
	}
	for name, body := range tools {
		fakes[name] = body
	}
	for name, body := range fakes {
		if err := os.WriteFile(filepath.Join(dir, "bin", name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range officialTools {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("this machine has no %s to run the scripts with: %v", name, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string][]byte{"lib.sh": libScript, "build.sh": buildScript, "meta.sh": metaScript} {
		if err := os.WriteFile(filepath.Join(e.expr, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *scriptEnv) write(t *testing.T, rel, text string) {
	t.Helper()
	p := filepath.Join(e.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
}

// mkfile makes a file under the store.
func (e *scriptEnv) mkfile(t *testing.T, rel string) {
	t.Helper()
	e.write(t, filepath.Join("store", rel), rel)
}

// run runs a script of the stage with args as the step does, and returns
// its output and error. A command that is not on the official image fails
// the test, whatever the script made of its failure.
func (e *scriptEnv) run(t *testing.T, shell, script string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(shell, append([]string{filepath.Join(e.expr, script)}, args...)...)
	cmd.Env = append([]string{"PATH=" + filepath.Join(e.dir, "bin"), "HOME=" + e.dir,
		"NIXFILE_OUT=" + e.out, "NIXFILE_CLOSURE=" + e.closure, "NIXFILE_SECRETS=" + e.secrets,
		"NIX_SSL_CERT_FILE=/nonexistent", "SSL_CERT_FILE=/nonexistent"}, e.env...)
	out, err := cmd.CombinedOutput()
	if strings.Contains(string(out), "not found") {
		t.Errorf("%s %s runs a command the official nix image does not have:\n%s", filepath.Base(shell), script, out)
	}
	return string(out), err
}

// mustRun is run that fails the test when the script fails.
func (e *scriptEnv) mustRun(t *testing.T, shell, script string, args ...string) {
	t.Helper()
	if out, err := e.run(t, shell, script, args...); err != nil {
		t.Fatalf("%s %s: %v\n%s", shell, script, err, out)
	}
}

func (e *scriptEnv) read(t *testing.T, name string) string {
	t.Helper()
	dt, err := os.ReadFile(filepath.Join(e.out, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(dt)
}

func shells(t *testing.T) []string {
	var out []string
	for _, s := range []string{"sh", "bash"} {
		if p, err := exec.LookPath(s); err == nil {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Skip("no sh or bash")
	}
	return out
}

// The build script reads its lists of store paths with globbing off: a
// name with "?" (a legal store name character) copies that path, not the
// paths its pattern would match; bin names that would break a list are
// left out; the lists hold each path once.
func TestBuildScriptStorePathNames(t *testing.T) {
	const (
		tool  = "0aaa-tool?x"   // also a pattern that matches decoy
		decoy = "0aaa-toolXx"   // in the store, not in the closure
		lib   = "1bbb-lib=1+2"  // no bin
		dep   = "2ccc-dep.-_+=" // a dependency
	)
	for _, shell := range shells(t) {
		t.Run(filepath.Base(shell), func(t *testing.T) {
			e := newScriptEnv(t, []string{tool, lib}, []string{tool, lib, dep}, nil)
			for _, f := range []string{tool + "/bin/tool", tool + "/bin/.hidden", tool + "/bin/*", tool + "/bin/new\nline",
				tool + "/bin/tab\tbed", decoy + "/bin/decoy", lib + "/lib/x", dep + "/etc/services"} {
				e.mkfile(t, f)
			}
			e.mustRun(t, shell, "build.sh", "0")
			p := func(n string) string { return filepath.Join(e.store, n) }
			if got, want := e.read(t, MetaRoots), p(tool)+"\n"+p(lib)+"\n"; got != want {
				t.Errorf("roots:\n%q\nwant\n%q", got, want)
			}
			if got, want := e.read(t, MetaClosure), p(tool)+"\n"+p(lib)+"\n"+p(dep)+"\n"; got != want {
				t.Errorf("closure:\n%q\nwant\n%q", got, want)
			}
			if got, want := e.read(t, MetaBins), p(tool)+"\n"; got != want {
				t.Errorf("bins:\n%q\nwant\n%q", got, want)
			}
			gotEntries := strings.Split(strings.TrimSuffix(e.read(t, MetaBinEntries), "\n"), "\n")
			slices.Sort(gotEntries)
			wantEntries := []string{p(tool) + "\t*", p(tool) + "\t.hidden", p(tool) + "\ttool"}
			if !slices.Equal(gotEntries, wantEntries) {
				t.Errorf("bin entries:\n%q\nwant\n%q", gotEntries, wantEntries)
			}
			// The fake nix image's own CA bundle is this machine's, if any.
			features := strings.SplitAfter(e.read(t, MetaFeatures), "\n")
			features = slices.DeleteFunc(features, func(l string) bool { return strings.HasPrefix(l, FeatureImageCACert+"\t") })
			if got, want := strings.Join(features, ""), "services\t"+p(dep)+"/etc/services\n"; got != want {
				t.Errorf("features:\n%q\nwant\n%q", got, want)
			}
			if got := e.read(t, MetaPathInfo); got != "[]\n" {
				t.Errorf("path-info = %q, want nix's", got)
			}
			copied, err := os.ReadDir(filepath.Join(e.closure, "nix", "store"))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, c := range copied {
				names = append(names, c.Name())
			}
			if want := []string{tool, lib, dep}; !slices.Equal(names, want) {
				t.Errorf("copied %q, want exactly the closure %q", names, want)
			}
			// What the frontend reads is all there, and nothing half-made.
			for _, name := range MetaFiles {
				if _, err := os.Stat(filepath.Join(e.out, name)); err != nil {
					t.Errorf("the step wrote no %s: %v", name, err)
				}
			}
			left, _ := filepath.Glob(filepath.Join(e.out, ".*"))
			if len(left) != 0 {
				t.Errorf("the step left %q in its output", left)
			}
		})
	}
}

// With an archiver, the build script hands it the directories to write the
// archives and read the closure in, and the layer budget, once it has
// listed the closure, and copies nothing itself. Without one, the layer
// list is empty.
func TestBuildScriptArchives(t *testing.T) {
	const tool, dep = "0aaa-tool?x", "2ccc-dep.-_+="
	for _, shell := range shells(t) {
		t.Run(filepath.Base(shell), func(t *testing.T) {
			e := newScriptEnv(t, []string{tool}, []string{tool, dep}, nil)
			e.mkfile(t, tool+"/bin/tool")
			e.mkfile(t, dep+"/lib/x")
			got := filepath.Join(e.dir, "archiver-called")
			flushed := filepath.Join(e.dir, "flushed")
			e.write(t, "bin/archiver", "#!/bin/sh\n"+
				"if [ \"$1\" = "+WritebackCommand+" ]; then trap 'echo stopped >>"+flushed+"; exit 0' TERM; echo started >"+flushed+"; while :; do sleep 0.02; done; fi\n"+
				"{ echo \"$*\"; cat \"$3/closure\"; } >"+got+"\necho listed >\"$3/layers\"\n")
			e.env = append(e.env, "NIXFILE_ARCHIVER="+filepath.Join(e.dir, "bin/archiver"), "NIXFILE_MAX_LAYERS=7")
			e.mustRun(t, shell, "build.sh", "0")
			// The writeback ran while the script did, and was stopped at its end.
			for i := 0; i < 100 && readString(flushed) != "started\nstopped\n"; i++ {
				time.Sleep(20 * time.Millisecond)
			}
			if got := readString(flushed); got != "started\nstopped\n" {
				t.Errorf("the writeback: %q, want it started and stopped", got)
			}
			called, err := os.ReadFile(got)
			if err != nil {
				t.Fatalf("the archiver did not run: %v", err)
			}
			want := ArchiveCommand + " " + e.closure + " " + e.out + " 7\n" + filepath.Join(e.store, tool) + "\n" + filepath.Join(e.store, dep) + "\n"
			if string(called) != want {
				t.Errorf("the archiver got\n%q\nwant\n%q", called, want)
			}
			if got := e.read(t, MetaLayers); got != "listed\n" {
				t.Errorf("layers = %q, want the archiver's", got)
			}
			if _, err := os.Stat(filepath.Join(e.closure, "nix")); err == nil {
				t.Error("the script copied the store paths as well")
			}

			e = newScriptEnv(t, []string{tool}, []string{tool, dep}, nil)
			e.mkfile(t, tool+"/bin/tool")
			e.mkfile(t, dep+"/lib/x")
			e.mustRun(t, shell, "build.sh", "0")
			if got := e.read(t, MetaLayers); got != "" {
				t.Errorf("without an archiver, layers = %q, want it empty", got)
			}

			// An archiver that fails fails the step, and its message is in
			// nix.log, which the frontend's error quotes.
			e = newScriptEnv(t, []string{tool}, []string{tool, dep}, nil)
			e.mkfile(t, tool+"/bin/tool")
			e.write(t, "bin/archiver", "#!/bin/sh\necho 'nixfile: write layer-x.tar: no space left on device' >&2\nexit 1\n")
			e.env = append(e.env, "NIXFILE_ARCHIVER="+filepath.Join(e.dir, "bin/archiver"))
			if out, err := e.run(t, shell, "build.sh", "0"); err == nil {
				t.Errorf("the step succeeded with a failing archiver:\n%s", out)
			}
			if log := e.read(t, MetaLog); !strings.Contains(log, "no space left on device") {
				t.Errorf("nix.log = %q, want the archiver's error", log)
			}
		})
	}
}

// On a store cache (NIXFILE_STORE_ID), nix is asked about build users once:
// the answer is the image's, and the store keeps it for the next builds,
// which verify (or not) as the first did.
func TestBuildScriptRemembersBuildUsers(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the script asks nix for build users only as root")
	}
	for _, users := range []string{"nixbld", ""} {
		t.Run("build-users-group="+users, func(t *testing.T) {
			e := newScriptEnv(t, []string{"0aaa-tool"}, []string{"0aaa-tool"}, nil)
			e.mkfile(t, "0aaa-tool/bin/tool")
			asked, verified := filepath.Join(e.dir, "asked"), filepath.Join(e.dir, "verified")
			e.write(t, "bin/nix", "#!/bin/sh\nif [ \"$1 $2\" = \"config show\" ]; then echo x >>"+asked+"; echo '"+users+"'; exit; fi\necho '[]'\n")
			e.write(t, "bin/nix-store", "#!/bin/sh\ncase \"$1\" in --query) cat "+filepath.Join(e.dir, "closure-list")+" ;; --verify-path) echo x >>"+verified+" ;; esac\n")
			e.env = append(e.env, "NIXFILE_STORE_ID=store", "NIXFILE_STORE_STATE="+filepath.Join(e.dir, "nix-var-nixfile"))
			for range 2 {
				e.mustRun(t, shells(t)[0], "build.sh", "0")
			}
			if n := lineCount(t, asked); n != 1 {
				t.Errorf("nix was asked about build users %d times in two builds, want once", n)
			}
			want := 0
			if users == "" {
				want = 2
			}
			if n := lineCount(t, verified); n != want {
				t.Errorf("the closure was verified in %d of two builds, want %d", n, want)
			}
		})
	}
}

// lineCount counts the lines of a file; a missing one has none.
func lineCount(t *testing.T, name string) int {
	t.Helper()
	dt, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(dt), "\n")
}

// The closure is checked against the hashes nix recorded where builders can
// write the store: as root, only without build users (asked of nix as
// `nix config show`, or `nix show-config` before nix 2.20).
func TestBuildScriptVerifiesWhereBuildersCanWrite(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the script asks nix for build users only as root")
	}
	for _, tt := range []struct {
		name, nix  string
		wantVerify bool
	}{
		{name: "build users", nix: `if [ "$1 $2" = "config show" ]; then echo nixbld; exit; fi`},
		{name: "none", nix: `if [ "$1 $2" = "config show" ]; then echo; exit; fi`, wantVerify: true},
		{name: "build users, nix 2.8", nix: `case "$1" in config) exit 1 ;; show-config) printf 'a = 1\nbuild-users-group = nixbld\n'; exit ;; esac`},
		{name: "none, nix 2.8", nix: `case "$1" in config) exit 1 ;; show-config) printf 'build-users-group = \nb = 2\n'; exit ;; esac`, wantVerify: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newScriptEnv(t, []string{"0aaa-tool"}, []string{"0aaa-tool"}, nil)
			e.mkfile(t, "0aaa-tool/bin/tool")
			verified := filepath.Join(e.dir, "verified")
			e.write(t, "bin/nix", "#!/bin/sh\n"+tt.nix+"\necho '[]'\n")
			e.write(t, "bin/nix-store", "#!/bin/sh\ncase \"$1\" in --query) cat "+filepath.Join(e.dir, "closure-list")+" ;; --verify-path) echo \"$@\" >>"+verified+" ;; esac\n")
			e.mustRun(t, shells(t)[0], "build.sh", "0")
			_, err := os.Stat(verified)
			if got := err == nil; got != tt.wantVerify {
				t.Errorf("verified: %t, want %t", got, tt.wantVerify)
			}
		})
	}
}

// A build with no outputs (a .nix file that evaluates to []) reports an
// empty closure for the frontend to blame on its lines, rather than
// failing in cp.
func TestBuildScriptNoOutputs(t *testing.T) {
	for _, shell := range shells(t) {
		t.Run(filepath.Base(shell), func(t *testing.T) {
			e := newScriptEnv(t, nil, nil, nil)
			e.mustRun(t, shell, "build.sh", "0")
			// Every file the frontend reads is there, for it to see the
			// empty closure rather than a file missing.
			files := map[string][]byte{}
			for _, name := range MetaFiles {
				files[name] = []byte(e.read(t, name))
				if got := string(files[name]); got != "" && name != MetaPathInfo {
					t.Errorf("%s = %q, want empty", name, got)
				}
			}
			if _, err := ReadClosure(files); !errors.Is(err, ErrEmptyClosure) {
				t.Errorf("ReadClosure: %v, want the empty closure", err)
			}
			if _, err := os.Stat(filepath.Join(e.closure, "nix", "store")); err != nil {
				t.Errorf("the closure mount has no nix/store: %v", err)
			}
		})
	}
}

// When the build fails, the script evaluates the package set, then each
// group, and stops at the first that fails: MetaEvaluating names it, and
// MetaGroups maps the groups before it to their derivations, as
// FailedGroups reads them. nix's message is in MetaLog.
func TestBuildScriptFailureNamesTheGroup(t *testing.T) {
	const drv = "/nix/store/00000000000000000000000000000000-hello.drv"
	for _, shell := range shells(t) {
		t.Run(filepath.Base(shell), func(t *testing.T) {
			e := newScriptEnv(t, nil, nil, map[string]string{
				"nix-build": `echo "error: builder for '` + drv + `' failed" >&2; exit 1`,
				// The set evaluates; group 0 is hello, group 1 fails.
				"nix-instantiate": `case "$*" in *groups.g0*) echo ` + drv + ` ;; *groups.g1*) exit 1 ;; esac`,
			})
			if out, err := e.run(t, shell, "build.sh", EvaluatingSet, "0", "1", "2"); err == nil {
				t.Fatalf("build.sh succeeded with a failing build:\n%s", out)
			}
			if got := e.read(t, MetaEvaluating); got != "1\n" {
				t.Errorf("evaluating = %q, want group 1", got)
			}
			if got, want := e.read(t, MetaGroups), "0 "+drv+"!out\n"; got != want {
				t.Errorf("groups = %q, want %q", got, want)
			}
			if got := FailedGroups([]byte(e.read(t, MetaGroups)), e.read(t, MetaLog)); !slices.Equal(got, []int{0}) {
				t.Errorf("FailedGroups = %v, want [0]", got)
			}
		})
	}
}

// nix fails a build whose narinfo cache row a concurrent nix replaced
// ("constraint failed" in binary-cache-v6.sqlite, when builds on a new
// store register a binary cache at the same moment): the build is tried
// once more. Any other failure is not.
func TestBuildScriptRetriesTheNarinfoCacheRace(t *testing.T) {
	const race = `error: executing SQLite statement 'insert or replace into NARs(cache, hashPart) values (2, 'x')': constraint failed (in '/nixfile/cache/nix/binary-cache-v6.sqlite')`
	for _, tt := range []struct {
		name, first string
		wantOK      bool
		wantRuns    string
	}{
		{name: "the race", first: race, wantOK: true, wantRuns: "12"},
		{name: "another error", first: "error: builder for '/nix/store/x.drv' failed", wantOK: false, wantRuns: "1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newScriptEnv(t, []string{"0aaa-tool"}, []string{"0aaa-tool"}, nil)
			e.mkfile(t, "0aaa-tool/x")
			runs := filepath.Join(e.dir, "runs")
			// Fails the first time with tt.first, then prints the root.
			e.write(t, "bin/nix-build", "#!/bin/sh\nif [ -f "+runs+" ]; then echo 2 >>"+runs+"; cat "+filepath.Join(e.dir, "roots")+"; exit 0; fi\necho 1 >"+runs+"\necho \""+strings.ReplaceAll(tt.first, `"`, `\"`)+"\" >&2\nexit 1\n")
			out, err := e.run(t, shells(t)[0], "build.sh", "0")
			if (err == nil) != tt.wantOK {
				t.Fatalf("build.sh: %v, want success %t\n%s", err, tt.wantOK, out)
			}
			dt, _ := os.ReadFile(runs)
			if got := strings.ReplaceAll(string(dt), "\n", ""); got != tt.wantRuns {
				t.Errorf("nix-build ran %q, want %q", got, tt.wantRuns)
			}
		})
	}
}

// Past NIXFILE_NIX_TIMEOUT the nix build is stopped, and the log says why.
func TestBuildScriptTimeout(t *testing.T) {
	e := newScriptEnv(t, nil, nil, map[string]string{"nix-build": "sleep 30"})
	e.env = append(e.env, TimeoutArg+"=1")
	out, err := e.run(t, shells(t)[0], "build.sh", "0")
	if err == nil {
		t.Fatalf("build.sh succeeded past its time limit:\n%s", out)
	}
	if want := "ran past its time limit of 1 s (build arg " + TimeoutArg + ")"; !strings.Contains(e.read(t, MetaLog), want) {
		t.Errorf("nix.log:\n%s\nwant it to say %q", e.read(t, MetaLog), want)
	}
}

// The secrets and the user's settings reach nix through NIX_CONFIG, after
// nixfile's own, the user's last.
func TestBuildScriptNixConfig(t *testing.T) {
	e := newScriptEnv(t, nil, nil, nil)
	configFile := filepath.Join(e.dir, "nix-config")
	e.write(t, "bin/nix-build", "#!/bin/sh\nprintf '%s' \"$NIX_CONFIG\" >"+configFile+"\n")
	e.write(t, filepath.Join("secrets", SecretNetrc), "machine example.com\n")
	e.write(t, filepath.Join("secrets", SecretAccessTokens), "github.com=ghp_x")
	e.env = append(e.env, "NIX_CONFIG=image-setting = 1", "NIXFILE_NIX_CONFIG=user-setting = 2")
	e.mustRun(t, shells(t)[0], "build.sh", "0")
	got, err := os.ReadFile(configFile)
	if err != nil {
		t.Fatal(err)
	}
	want := "image-setting = 1\nextra-experimental-features = nix-command flakes\nnetrc-file = " + e.secrets + "/" + SecretNetrc +
		"\naccess-tokens = github.com=ghp_x\nuser-setting = 2"
	if string(got) != want {
		t.Errorf("NIX_CONFIG =\n%s\nwant\n%s", got, want)
	}
}

// git's ssh takes the ssh_known_hosts secret, when it is given, as its
// known hosts; without it, nothing is set.
func TestBuildScriptSSHKnownHosts(t *testing.T) {
	for _, given := range []bool{false, true} {
		t.Run(fmt.Sprintf("given=%t", given), func(t *testing.T) {
			e := newScriptEnv(t, nil, nil, nil)
			envFile := filepath.Join(e.dir, "ssh-env")
			e.write(t, "bin/nix-build", "#!/bin/sh\necho \"${GIT_SSH_COMMAND-unset}\" >"+envFile+"\n")
			want := "unset\n"
			if given {
				e.write(t, filepath.Join("secrets", SecretSSHKnownHosts), "example.com ssh-ed25519 AAAA\n")
				want = "ssh -o UserKnownHostsFile=" + e.secrets + "/" + SecretSSHKnownHosts + "\n"
			}
			e.mustRun(t, shells(t)[0], "build.sh", "0")
			got, err := os.ReadFile(envFile)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Errorf("nix-build ran with GIT_SSH_COMMAND=%s, want %s", got, want)
			}
		})
	}
}

// The metadata step writes what ReadMetadata reads and, with
// build-closure, each derivation's requisites: the derivation once, with
// the output nix may print after it taken off.
func TestMetaScript(t *testing.T) {
	const (
		a = "/nix/store/00000000000000000000000000000000-a.drv"
		b = "/nix/store/11111111111111111111111111111111-b.drv"
	)
	for _, shell := range shells(t) {
		t.Run(filepath.Base(shell), func(t *testing.T) {
			e := newScriptEnv(t, nil, nil, map[string]string{
				"nix":             "echo 'nix (Nix) 2.99.1'",
				"nix-instantiate": `case "$1" in --eval) echo '[]' ;; *) printf '%s\n' ` + a + ` ` + b + `'!dev' ` + a + `'!out' ;; esac`,
				"nix-store":       `echo "$3"; echo "$3-req"`,
			})
			e.mustRun(t, shell, "meta.sh")
			if _, err := os.Stat(filepath.Join(e.out, MetaBuildClosure)); err == nil {
				t.Errorf("meta.sh without build-closure wrote %s", MetaBuildClosure)
			}
			e.mustRun(t, shell, "meta.sh", "build-closure")
			if got := e.read(t, MetaNixVersion); got != "nix (Nix) 2.99.1\n" {
				t.Errorf("nix-version = %q", got)
			}
			if got := e.read(t, MetaPackages); got != "[]\n" {
				t.Errorf("packages.json = %q", got)
			}
			want := a + " " + a + "\n" + a + " " + a + "-req\n" + b + " " + b + "\n" + b + " " + b + "-req\n"
			if got := e.read(t, MetaBuildClosure); got != want {
				t.Errorf("build-closure =\n%s\nwant\n%s", got, want)
			}
			left, _ := filepath.Glob(filepath.Join(e.out, ".*"))
			if len(left) != 0 {
				t.Errorf("the step left %q in its output", left)
			}
		})
	}
}

// shellcheck finds nothing in the scripts (Debian's shellcheck; hack/test
// installs it).
func TestScriptsShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("shellcheck is not installed: hack/test installs it")
		}
		t.Skip("shellcheck is not installed: apt-get install shellcheck, or run hack/test")
	}
	scripts, err := filepath.Glob("*.sh")
	if err != nil || len(scripts) < 4 {
		t.Fatalf("the package has %d scripts, want lib.sh, build.sh, meta.sh and links.sh: %v", len(scripts), err)
	}
	out, err := exec.Command("shellcheck", append([]string{"--external-sources", "--shell=sh"}, scripts...)...).CombinedOutput()
	if err != nil {
		t.Errorf("shellcheck %s: %v\n%s", strings.Join(scripts, " "), err, out)
	}
}

// readString is the file's text, or "" if it cannot be read.
func readString(path string) string {
	dt, _ := os.ReadFile(path)
	return string(dt)
}

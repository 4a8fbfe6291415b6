package nixllb

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// scriptEnv is a directory where the build script runs with fake nix tools:
// its mounts are directories of the test, and store paths are under store.
type scriptEnv struct {
	dir, store, out, closure string
	script                   string
}

func newScriptEnv(t *testing.T, roots, closure []string) *scriptEnv {
	t.Helper()
	dir := t.TempDir()
	e := &scriptEnv{dir: dir, store: filepath.Join(dir, "store"), out: filepath.Join(dir, "out"), closure: filepath.Join(dir, "closure")}
	for _, d := range []string{e.store, e.out, filepath.Join(dir, "bin"), filepath.Join(dir, "expr")} {
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
	if err := os.WriteFile(filepath.Join(dir, "roots"), []byte(abs(roots)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "closure-list"), []byte(abs(closure)), 0o644); err != nil {
		t.Fatal(err)
	}
	// nix-build prints the roots (twice: the script keeps each once),
	// nix-store the closure, nix an empty path-info.
	tools := map[string]string{
		"nix-build": "cat " + filepath.Join(dir, "roots") + " " + filepath.Join(dir, "roots"),
		"nix-store": "cat " + filepath.Join(dir, "closure-list"),
		"nix":       "echo '[]'",
	}
	for name, body := range tools {
		if err := os.WriteFile(filepath.Join(dir, "bin", name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := strings.NewReplacer(exprMount, filepath.Join(dir, "expr"), metaMount, e.out,
		closureMount, e.closure, secretDir, filepath.Join(dir, "secrets"))
	e.script = filepath.Join(dir, "build.sh")
	if err := os.WriteFile(e.script, []byte(r.Replace(buildScript)), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *scriptEnv) mkfile(t *testing.T, rel string) {
	t.Helper()
	p := filepath.Join(e.store, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(rel), 0o755); err != nil {
		t.Fatal(err)
	}
}

func (e *scriptEnv) run(t *testing.T, shell string) {
	t.Helper()
	cmd := exec.Command(shell, e.script, "0")
	cmd.Env = append(os.Environ(), "PATH="+filepath.Join(e.dir, "bin")+":"+os.Getenv("PATH"),
		"NIX_SSL_CERT_FILE=/nonexistent", "SSL_CERT_FILE=/nonexistent")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s build.sh: %v\n%s", shell, err, out)
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
			e := newScriptEnv(t, []string{tool, lib}, []string{tool, lib, dep})
			for _, f := range []string{tool + "/bin/tool", tool + "/bin/.hidden", tool + "/bin/*", tool + "/bin/new\nline",
				tool + "/bin/tab\tbed", decoy + "/bin/decoy", lib + "/lib/x", dep + "/etc/services"} {
				e.mkfile(t, f)
			}
			e.run(t, shell)
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
		})
	}
}

// A build with no outputs (a .nix file that evaluates to []) reports an
// empty closure for the frontend to blame on its lines, rather than
// failing in cp.
func TestBuildScriptNoOutputs(t *testing.T) {
	for _, shell := range shells(t) {
		t.Run(filepath.Base(shell), func(t *testing.T) {
			e := newScriptEnv(t, nil, nil)
			e.run(t, shell)
			for _, name := range []string{MetaRoots, MetaClosure} {
				if got := e.read(t, name); got != "" {
					t.Errorf("%s = %q, want empty", name, got)
				}
			}
			if _, err := os.Stat(filepath.Join(e.closure, "nix", "store")); err != nil {
				t.Errorf("the closure mount has no nix/store: %v", err)
			}
		})
	}
}

package e2e

// The ways a BuildKit user reaches the frontend, driven as that user would:
// `docker buildx build` (the examples, --call outline and targets) and
// `buildctl build` (every exporter), against the bed's builder and
// registry, with the frontend image that `hack/testbed up` built from this
// tree and published as nixfile/nixfile.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/moby/buildkit/frontend/subrequests/outline"
	"github.com/moby/buildkit/frontend/subrequests/targets"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/nixfile/nixfile/internal/testbed"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// cliTimeout bounds each command a test runs.
const cliTimeout = 10 * time.Minute

// bedTool is the path of a command of the test bed: on PATH (as
// `hack/testbed env` sets it), else in NIXFILE_TESTBED_BIN.
func bedTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range filepath.SplitList(os.Getenv("NIXFILE_TESTBED_BIN")) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	t.Fatalf("%s is not on PATH: run eval \"$(hack/testbed env)\"", name)
	return ""
}

// buildxCommand is how a user runs buildx, chosen as hack/example does:
// `docker buildx` when docker is on PATH, else the standalone buildx.
func buildxCommand(t *testing.T) []string {
	t.Helper()
	if p, err := exec.LookPath("docker"); err == nil {
		return []string{p, "buildx"}
	}
	return []string{bedTool(t, "buildx")}
}

// cliResult is what a command printed.
type cliResult struct {
	stdout, stderr string
}

// runCLI runs a command in dir and fails the test, with its output, when it
// does not succeed.
func runCLI(t *testing.T, dir string, argv ...string) cliResult {
	t.Helper()
	r, err := tryCLI(dir, argv...)
	if err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr (last lines):\n%s", strings.Join(argv, " "), err, r.stdout, tail(r.stderr, 40))
	}
	return r
}

func tryCLI(dir string, argv ...string) (cliResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return cliResult{stdout: stdout.String(), stderr: stderr.String()}, err
}

// buildxBuild runs `buildx build` on the bed's builder with the Nixfile of
// dir as the user would type it, plus args (--output, --call, ...).
func buildxBuild(t *testing.T, dir string, args ...string) cliResult {
	t.Helper()
	argv := append(buildxCommand(t), "build",
		"--builder", os.Getenv("BUILDX_BUILDER"),
		"--progress", "plain",
		"--provenance=false",
		"-f", filepath.Join(dir, "Nixfile"))
	argv = append(argv, args...)
	argv = append(argv, dir)
	return runCLI(t, dir, argv...)
}

// imageConfigFromRegistry reads an image's config from the bed's registry
// with crane, checking that it is the config the manifest names.
func imageConfigFromRegistry(t *testing.T, ref string) *dockerspec.DockerOCIImage {
	t.Helper()
	crane := bedTool(t, "crane")
	rawManifest := runCLI(t, "", crane, "manifest", "--insecure", ref).stdout
	var m ocispec.Manifest
	if err := json.Unmarshal([]byte(rawManifest), &m); err != nil {
		t.Fatalf("crane manifest %s: %v\n%s", ref, err, rawManifest)
	}
	if m.MediaType != ocispec.MediaTypeImageManifest && m.MediaType != "application/vnd.docker.distribution.manifest.v2+json" {
		t.Fatalf("crane manifest %s: media type %q, want an image manifest (was an index pushed?)", ref, m.MediaType)
	}
	if len(m.Layers) == 0 {
		t.Fatalf("crane manifest %s: no layers", ref)
	}
	rawConfig := runCLI(t, "", crane, "config", "--insecure", ref).stdout
	if got := digestOf(rawConfig); got != m.Config.Digest.String() {
		t.Fatalf("crane config %s has digest %s, the manifest names %s", ref, got, m.Config.Digest)
	}
	var img dockerspec.DockerOCIImage
	if err := json.Unmarshal([]byte(rawConfig), &img); err != nil {
		t.Fatalf("crane config %s: %v\n%s", ref, err, rawConfig)
	}
	return &img
}

func digestOf(s string) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(s)))
}

// page is a URL path of a running server and the body it must answer with.
type page struct {
	path string
	body string
}

// exampleCase is an example and what its image must be and do.
type exampleCase struct {
	name string // the directory under examples/
	// The image config the Nixfile sets.
	entrypoint []string
	cmd        []string
	user       string
	workdir    string
	exposed    []string
	env        []string // entries of Env, besides PATH
	// What the image prints to stdout when run with no arguments.
	stdout string
	// For a server: pages fetched from 127.0.0.1 while it runs for
	// serveFor, after which runimage stops it.
	pages    []page
	serveFor time.Duration
}

// checkConfig checks the image config that the example's Nixfile sets.
func (tc exampleCase) checkConfig(t *testing.T, cfg ocispec.ImageConfig) {
	t.Helper()
	if !reflect.DeepEqual(cfg.Entrypoint, tc.entrypoint) {
		t.Errorf("Entrypoint %q, want %q", cfg.Entrypoint, tc.entrypoint)
	}
	if !reflect.DeepEqual(cfg.Cmd, tc.cmd) {
		t.Errorf("Cmd %q, want %q", cfg.Cmd, tc.cmd)
	}
	if cfg.User != tc.user || cfg.WorkingDir != tc.workdir {
		t.Errorf("User %q WorkingDir %q, want %q %q", cfg.User, cfg.WorkingDir, tc.user, tc.workdir)
	}
	var exposed []string
	for p := range cfg.ExposedPorts {
		exposed = append(exposed, p)
	}
	if !reflect.DeepEqual(sorted(exposed), sorted(tc.exposed)) {
		t.Errorf("ExposedPorts %v, want %v", exposed, tc.exposed)
	}
	for _, e := range tc.env {
		if !slices.Contains(cfg.Env, e) {
			t.Errorf("Env %q lacks %s", cfg.Env, e)
		}
	}
}

// exampleCases are the examples and what each one's README promises.
func exampleCases() []exampleCase {
	return []exampleCase{
		{
			name:       "hello",
			entrypoint: []string{"hello"},
			user:       "app",
			stdout:     "Hello, world!\n",
		},
		{
			name: "shell",
			cmd: []string{"sh", "-c", `echo "shell: $0, user: $(id -un)"; id; echo one two three | wc -w; ` +
				`echo written > /tmp/probe && cat /tmp/probe; echo "$(ls /bin | wc -l) commands in /bin"`},
			stdout: "shell: sh, user: root\n" +
				"uid=0(root) gid=0(root) groups=0(root)\n" +
				"3\n" +
				"written\n" +
				"269 commands in /bin\n",
		},
		{
			name:       "webserver",
			entrypoint: []string{"httpd", "-f", "-p", "8080", "-h", "/srv/www"},
			user:       "www",
			exposed:    []string{"8080/tcp"},
			stdout:     "",
			pages: []page{
				{path: "/", body: "<!doctype html>\n<title>nixfile</title>\n<h1>Served by busybox httpd from a Nixfile image</h1>\n"},
				{path: "/hello.txt", body: "hello from /srv/www/hello.txt\n"},
				{path: "/cgi-bin/whoami", body: "served by www (uid 1000)\n"},
			},
			serveFor: 20 * time.Second,
		},
		{
			name:       "flake-app",
			entrypoint: []string{"flake-app"},
			stdout:     "flake-app: hello from a flake in the build context\n",
		},
		{
			name:       "service",
			entrypoint: []string{"service"},
			user:       "app",
			workdir:    "/srv/service",
			env:        []string{"SERVICE_NAME=demo", "SERVICE_MODE=oneshot"},
			stdout: "service demo: starting\n" +
				"user: app uid=1000 gid=1000\n" +
				"workdir: /srv/service\n" +
				"SERVICE_MODE=oneshot\n" +
				"SERVICE_NAME=demo\n" +
				"greeting: hello from the build context\n" +
				"service demo: done\n",
		},
	}
}

// Every example builds with `docker buildx build` and its image does what
// its README says. The examples are what users copy first: each one is
// built and run here, and its README must show the exact output.
func TestExamples(t *testing.T) {
	bed := testbed.Require(t)
	examples := filepath.Join(testbed.RepoRoot(), "examples")

	runimage := filepath.Join(t.TempDir(), "runimage")
	runCLI(t, testbed.RepoRoot(), "go", "build", "-o", runimage, "./hack/runimage")

	tests := exampleCases()

	t.Run("every example is tested", func(t *testing.T) {
		entries, err := os.ReadDir(examples)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() && !slices.ContainsFunc(tests, func(tc exampleCase) bool { return tc.name == e.Name() }) {
				t.Errorf("examples/%s has no case in TestExamples", e.Name())
			}
		}
	})

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(examples, tc.name)
			readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
			if err != nil {
				t.Fatalf("every example has a README: %v", err)
			}
			if !bytes.Contains(readme, []byte("hack/example "+tc.name)) {
				t.Errorf("README.md does not say how to run it: hack/example %s", tc.name)
			}
			for _, want := range append([]string{tc.stdout}, pageBodies(tc.pages)...) {
				if want != "" && !bytes.Contains(readme, []byte(want)) {
					t.Errorf("README.md does not show the exact output:\n%s", want)
				}
			}
			nixfile, err := os.ReadFile(filepath.Join(dir, "Nixfile"))
			if err != nil {
				t.Fatal(err)
			}
			if first, _, _ := strings.Cut(string(nixfile), "\n"); first != "# syntax=nixfile/nixfile" {
				t.Errorf("the Nixfile's first line is %q, want # syntax=nixfile/nixfile", first)
			}

			ref := bed.Registry + "/examples/" + tc.name + ":test"
			buildxBuild(t, dir, "--output", "type=image,name="+ref+",push=true,registry.insecure=true")

			img := imageConfigFromRegistry(t, ref)
			tc.checkConfig(t, img.Config.ImageConfig)

			if len(tc.pages) == 0 {
				r := runCLI(t, testbed.RepoRoot(), runimage, "-timeout", "2m", ref)
				if r.stdout != tc.stdout {
					t.Errorf("the image printed\n%s\nwant\n%s\n(stderr: %s)", r.stdout, tc.stdout, r.stderr)
				}
				return
			}
			stdout := serveAndFetch(t, runimage, ref, tc.serveFor, tc.pages)
			if stdout != tc.stdout {
				t.Errorf("the server printed %q, want %q", stdout, tc.stdout)
			}
		})
	}
}

func pageBodies(pages []page) []string {
	var out []string
	for _, p := range pages {
		out = append(out, p.body)
	}
	return out
}

// serverAddr is where the webserver example listens: BuildKit's containers
// share the host's network on the bed (buildkitd runs without CNI).
const serverAddr = "127.0.0.1:8080"

// serveAndFetch runs a server image with runimage for d in the background,
// fetches pages from it while it runs, then lets runimage stop it, and
// returns what the server printed.
func serveAndFetch(t *testing.T, runimage, ref string, d time.Duration, pages []page) string {
	t.Helper()
	lockServerAddr(t)
	if c, err := net.DialTimeout("tcp", serverAddr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s is already taken by another process: the server under test could not listen there", serverAddr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, runimage, "-timeout", d.String(), ref)
	cmd.Dir = testbed.RepoRoot()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waited := false
	defer func() {
		// Should the test fail before the server stops, do not leave
		// runimage behind.
		if !waited {
			cmd.Process.Kill()
			<-exited
		}
	}()

	get := func(path string) (string, error) { return httpGet(serverAddr, path) }

	// Poll until the server answers: runimage resolves the image and starts
	// the container first. Bounded: 120 tries, 500ms apart.
	var lastErr error
	up := false
	for i := 0; i < 120 && !up; i++ {
		select {
		case err := <-exited:
			waited = true
			t.Fatalf("runimage exited (%v) before the server answered\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
		case <-time.After(500 * time.Millisecond):
		}
		_, lastErr = get(pages[0].path)
		up = lastErr == nil
	}
	if !up {
		t.Fatalf("the server at %s did not answer: %v\nrunimage stderr: %s", serverAddr, lastErr, stderr.String())
	}
	for _, p := range pages {
		body, err := get(p.path)
		if err != nil {
			t.Errorf("GET %s: %v (body %q)", p.path, err, body)
			continue
		}
		if body != p.body {
			t.Errorf("GET %s answered\n%s\nwant\n%s", p.path, body, p.body)
		}
	}

	// Let it stop: runimage ends the process after d and exits 0.
	select {
	case err := <-exited:
		waited = true
		if err != nil {
			t.Errorf("runimage: %v\nstderr: %s", err, stderr.String())
		}
	case <-time.After(d + 2*time.Minute):
		t.Fatalf("runimage did not stop the server after %s", d)
	}
	if want := "runimage: stopped after " + d.String(); !strings.Contains(stderr.String(), want) {
		t.Errorf("runimage's stderr %q lacks %q", stderr.String(), want)
	}
	if c, err := net.DialTimeout("tcp", serverAddr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still answers after runimage stopped the server", serverAddr)
	}
	return stdout.String()
}

// lockServerAddr keeps serverAddr to this test until it ends: another `go
// test` process of this suite on the machine (a second engineer's run)
// waits for it instead of finding the port taken, or fetching pages from
// the wrong server. The lock is an flock, so it goes with its process.
func lockServerAddr(t *testing.T) {
	t.Helper()
	path := filepath.Join(os.TempDir(), "nixfile-e2e-"+strings.ReplaceAll(serverAddr, ":", "-")+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("locking %s: %v", serverAddr, err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			t.Fatalf("locking %s (%s): %v", serverAddr, path, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
}

// --call outline and --call targets, as docker buildx prints them: the
// frontend answers BuildKit's subrequests with the Nixfile's ARGs, at their
// lines, and its single target.
func TestSubrequests(t *testing.T) {
	testbed.Require(t)
	dir := writeContext(t, map[string]string{"Nixfile": `# syntax=nixfile/nixfile
# Two build arguments.

ARG GREETING=hello
PACKAGES busybox
ARG WHO
CMD ["sh", "-c", "echo $GREETING $WHO"]
`})
	nixImage := os.Getenv("NIXFILE_NIX_IMAGE_DEFAULT") // the frontend's default, as the bed read it
	if nixImage == "" {
		t.Fatal(`NIXFILE_NIX_IMAGE_DEFAULT is not set: run eval "$(hack/testbed env)"`)
	}

	type arg struct {
		name, value string
		line        int // 0: no location (not a Nixfile line)
	}
	tests := []struct {
		name string
		call string   // the --call value
		args []string // more buildx arguments
		// For format=json: the outline's args, in order, or the targets.
		wantArgs []arg
		// For an outline as JSON: its secrets and SSH agents, by name.
		wantSecrets, wantSSH []string
		wantTargets          []targets.Target
		// For the text form: lines the table must have.
		wantText []*regexp.Regexp
	}{
		{
			name: "outline as JSON",
			call: "outline,format=json",
			wantArgs: []arg{
				{name: "GREETING", value: "hello", line: 4},
				{name: "WHO", value: "", line: 6},
				{name: "NIX_IMAGE", value: nixImage},
				{name: "NIX_CONFIG", value: ""},
			},
			wantSecrets: []string{"netrc", "nix-access-tokens", "ssh_known_hosts"},
			wantSSH:     []string{"default"},
		},
		{
			name: "outline with build args",
			call: "outline,format=json",
			args: []string{"--build-arg", "GREETING=hi", "--build-arg", "WHO=you"},
			wantArgs: []arg{
				{name: "GREETING", value: "hi", line: 4},
				{name: "WHO", value: "you", line: 6},
				{name: "NIX_IMAGE", value: nixImage},
				{name: "NIX_CONFIG", value: ""},
			},
		},
		{
			name: "outline as a table",
			call: "outline",
			wantText: []*regexp.Regexp{
				regexp.MustCompile(`(?m)^BUILD ARG\s+VALUE\s+DESCRIPTION\s*$`),
				regexp.MustCompile(`(?m)^GREETING\s+hello\s*$`),
				regexp.MustCompile(`(?m)^WHO\s*$`),
				regexp.MustCompile(`(?m)^NIX_IMAGE\s+` + regexp.QuoteMeta(nixImage)),
				regexp.MustCompile(`(?m)^NIX_CONFIG\s+nix settings`),
			},
		},
		{
			name: "targets as JSON",
			call: "targets,format=json",
			wantTargets: []targets.Target{
				{Name: "default", Default: true, Description: "the image built from the Nixfile"},
			},
		},
		{
			name: "targets as a table",
			call: "targets",
			wantText: []*regexp.Regexp{
				regexp.MustCompile(`(?m)^TARGET\s+DESCRIPTION\s*$`),
				regexp.MustCompile(`(?m)^default \(default\)\s+the image built from the Nixfile\s*$`),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := buildxBuild(t, dir, append([]string{"--call", tc.call}, tc.args...)...)
			for _, re := range tc.wantText {
				if !re.MatchString(r.stdout) {
					t.Errorf("--call %s printed\n%s\nwant a line matching %s", tc.call, r.stdout, re)
				}
			}
			if tc.wantArgs != nil {
				var o outline.Outline
				if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
					t.Fatalf("--call %s: %v\n%s", tc.call, err, r.stdout)
				}
				var got []arg
				for _, a := range o.Args {
					g := arg{name: a.Name, value: a.Value}
					if a.Location != nil && len(a.Location.Ranges) > 0 {
						rg := a.Location.Ranges[0]
						g.line = int(rg.GetStart().GetLine())
						if end := int(rg.GetEnd().GetLine()); end != g.line {
							t.Errorf("ARG %s spans lines %d-%d, want one line", a.Name, g.line, end)
						}
					}
					got = append(got, g)
				}
				if !reflect.DeepEqual(got, tc.wantArgs) {
					t.Errorf("--call %s args\n got: %+v\nwant: %+v\n%s", tc.call, got, tc.wantArgs, r.stdout)
				}
				var secrets, ssh []string
				for _, s := range o.Secrets {
					secrets = append(secrets, s.Name)
				}
				for _, s := range o.SSH {
					ssh = append(ssh, s.Name)
				}
				if tc.wantSecrets != nil && (!reflect.DeepEqual(secrets, tc.wantSecrets) || !reflect.DeepEqual(ssh, tc.wantSSH)) {
					t.Errorf("--call %s secrets %v and ssh %v, want %v and %v", tc.call, secrets, ssh, tc.wantSecrets, tc.wantSSH)
				}
			}
			if tc.wantTargets != nil {
				var l targets.List
				if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
					t.Fatalf("--call %s: %v\n%s", tc.call, err, r.stdout)
				}
				if !reflect.DeepEqual(l.Targets, tc.wantTargets) {
					t.Errorf("--call %s targets\n got: %+v\nwant: %+v", tc.call, l.Targets, tc.wantTargets)
				}
			}
		})
	}
}

// --call outline answers with the values given with --build-arg even when
// the Nixfile would fail to build with them.
func TestOutlineOfANixfileThatFails(t *testing.T) {
	testbed.Require(t)
	dir := writeContext(t, map[string]string{"Nixfile": "# syntax=nixfile/nixfile\nARG A=1\nARG PORT=notaport\nPACKAGES busybox\nEXPOSE $PORT\nARG B=${A}0\n"})
	r := buildxBuild(t, dir, "--call", "outline,format=json", "--build-arg", "A=2")
	var o outline.Outline
	if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
		t.Fatalf("--call outline: %v\n%s", err, r.stdout)
	}
	got := map[string]string{}
	for _, a := range o.Args {
		got[a.Name] = a.Value
	}
	// B's default, after the line that fails, is expanded with A's value.
	if got["A"] != "2" || got["PORT"] != "notaport" || got["B"] != "20" {
		t.Errorf("--call outline --build-arg A=2 gives A=%q PORT=%q B=%q, want 2, notaport and 20\n%s", got["A"], got["PORT"], got["B"], r.stdout)
	}
}

// Every build output BuildKit offers works with the frontend, reached
// through buildctl the two ways BuildKit has: the Dockerfile frontend
// forwarding on the "# syntax=" line, and gateway.v0 naming the image.
func TestOutputs(t *testing.T) {
	bed := testbed.Require(t)
	buildctl := bedTool(t, "buildctl")
	dir := writeContext(t, map[string]string{
		"Nixfile": `# syntax=nixfile/nixfile
PACKAGES hello
USER app
COPY motd.txt /etc/motd
ENTRYPOINT ["hello"]
`,
		"motd.txt": "built by nixfile\n",
	})
	wantEntrypoint := []string{"hello"}
	closure := nixClosure(t, bed, "hello")

	frontends := []struct {
		name string
		args []string // the frontend flags of buildctl build
	}{
		{
			name: "dockerfile.v0 forwarding on the syntax line",
			args: []string{"--frontend", "dockerfile.v0", "--opt", "filename=Nixfile"},
		},
		{
			// No filename: the frontend reads Nixfile by default.
			name: "gateway.v0 with the frontend image",
			args: []string{"--frontend", "gateway.v0", "--opt", "source=" + bed.FrontendImage},
		},
	}
	outputs := []struct {
		name string
		// output is the --output value; DEST is replaced by a path.
		output string
		dest   string // "file", "dir" or "" (a registry push)
		check  func(t *testing.T, dest, ref string)
	}{
		{
			name:   "oci",
			output: "type=oci,dest=DEST",
			dest:   "file",
			check: func(t *testing.T, dest, _ string) {
				img := readOCI(t, dest) // validates the image, too
				if !reflect.DeepEqual(img.config.Config.Entrypoint, wantEntrypoint) {
					t.Errorf("Entrypoint %q, want %q", img.config.Config.Entrypoint, wantEntrypoint)
				}
				if got := img.storeEntries(); !reflect.DeepEqual(got, closure) {
					t.Errorf("store %v, want the closure %v", got, closure)
				}
				if f, ok := img.files["etc/motd"]; !ok || string(f.data) != "built by nixfile\n" {
					t.Errorf("etc/motd is %q (present: %v)", f.data, ok)
				}
			},
		},
		{
			name:   "docker",
			output: "type=docker,dest=DEST",
			dest:   "file",
			check: func(t *testing.T, dest, _ string) {
				img, cfg := readDockerArchive(t, dest)
				if !reflect.DeepEqual(cfg.Config.Entrypoint, wantEntrypoint) || cfg.Config.User != "app" {
					t.Errorf("Entrypoint %q User %q, want %q app", cfg.Config.Entrypoint, cfg.Config.User, wantEntrypoint)
				}
				layers, err := img.Layers()
				if err != nil {
					t.Fatal(err)
				}
				// One layer per store path, the rootfs defaults, the COPY.
				if want := len(closure) + 2; len(layers) != want {
					t.Errorf("%d layers, want %d", len(layers), want)
				}
			},
		},
		{
			name:   "local",
			output: "type=local,dest=DEST",
			dest:   "dir",
			check: func(t *testing.T, dest, _ string) {
				var store []string
				entries, err := os.ReadDir(filepath.Join(dest, "nix", "store"))
				if err != nil {
					t.Fatalf("no nix/store in the local export: %v", err)
				}
				for _, e := range entries {
					store = append(store, "/nix/store/"+e.Name())
				}
				if !reflect.DeepEqual(store, closure) {
					t.Errorf("nix/store has %v, want the closure %v", store, closure)
				}
				passwd, err := os.ReadFile(filepath.Join(dest, "etc", "passwd"))
				if err != nil {
					t.Fatalf("etc/passwd: %v", err)
				}
				for _, user := range []string{"root:x:0:0:", "app:x:1000:1000:"} {
					if !strings.Contains(string(passwd), user) {
						t.Errorf("etc/passwd lacks %s:\n%s", user, passwd)
					}
				}
				if motd, err := os.ReadFile(filepath.Join(dest, "etc", "motd")); err != nil || string(motd) != "built by nixfile\n" {
					t.Errorf("etc/motd: %q, %v", motd, err)
				}
				link, err := os.Readlink(filepath.Join(dest, "bin", "hello"))
				if err != nil || !strings.HasPrefix(link, "/nix/store/") || !strings.HasSuffix(link, "/bin/hello") {
					t.Errorf("bin/hello is %q (%v), want a link into the store", link, err)
				}
				if fi, err := os.Stat(filepath.Join(dest, "tmp")); err != nil || !fi.IsDir() {
					t.Errorf("no tmp directory: %v", err)
				}
			},
		},
		{
			name:   "tar",
			output: "type=tar,dest=DEST",
			dest:   "file",
			check: func(t *testing.T, dest, _ string) {
				f, err := os.Open(dest)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				files := map[string]string{}
				var store []string
				tr := tar.NewReader(f)
				for {
					h, err := tr.Next()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("reading the tar export: %v", err)
					}
					name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
					if rest, ok := strings.CutPrefix(name, "nix/store/"); ok && !strings.Contains(rest, "/") {
						store = append(store, "/"+name)
					}
					data, _ := io.ReadAll(tr)
					files[name] = string(data)
				}
				if !reflect.DeepEqual(sorted(store), closure) {
					t.Errorf("nix/store has %v, want the closure %v", sorted(store), closure)
				}
				if !strings.Contains(files["etc/passwd"], "app:x:1000:1000:") {
					t.Errorf("etc/passwd lacks app:\n%s", files["etc/passwd"])
				}
				if files["etc/motd"] != "built by nixfile\n" {
					t.Errorf("etc/motd is %q", files["etc/motd"])
				}
			},
		},
		{
			name:   "image pushed to the registry",
			output: "type=image,name=REF,push=true,registry.insecure=true",
			check: func(t *testing.T, _, ref string) {
				img := imageConfigFromRegistry(t, ref)
				if !reflect.DeepEqual(img.Config.Entrypoint, wantEntrypoint) || img.Config.User != "app" {
					t.Errorf("Entrypoint %q User %q, want %q app", img.Config.Entrypoint, img.Config.User, wantEntrypoint)
				}
				if img.OS != "linux" || img.Architecture == "" {
					t.Errorf("platform %s/%s", img.OS, img.Architecture)
				}
			},
		},
	}
	for i, fe := range frontends {
		t.Run(fe.name, func(t *testing.T) {
			for _, out := range outputs {
				t.Run(out.name, func(t *testing.T) {
					var dest string
					switch out.dest {
					case "file":
						dest = filepath.Join(t.TempDir(), "out.tar")
					case "dir":
						dest = filepath.Join(t.TempDir(), "rootfs")
					}
					ref := fmt.Sprintf("%s/outputs/hello-%d:test", bed.Registry, i)
					output := strings.NewReplacer("DEST", dest, "REF", ref).Replace(out.output)
					argv := append([]string{buildctl, "build"}, fe.args...)
					argv = append(argv, "--local", "context="+dir, "--local", "dockerfile="+dir, "--output", output)
					runCLI(t, dir, argv...)
					out.check(t, dest, ref)
				})
			}
		})
	}
}

// httpGet fetches a page from a server of a test on this machine (no proxy
// from the environment); a status other than 200 is an error.
func httpGet(addr, path string) (string, error) {
	hc := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("%s: %s", path, resp.Status)
	}
	return string(body), nil
}

// readDockerArchive reads the image of a docker archive (docker save, an
// output of type docker), validated, with its config.
func readDockerArchive(t *testing.T, path string) (v1.Image, *v1.ConfigFile) {
	t.Helper()
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatalf("reading the docker archive %s: %v", path, err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("invalid image in the docker archive %s: %v", path, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return img, cfg
}

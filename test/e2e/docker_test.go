package e2e

// Docker Engine, the way most users meet the frontend: `docker build` and
// `docker buildx build --load` on the default `docker` driver (the BuildKit
// inside dockerd), then `docker run`; on both of Docker's image stores, the
// classic one (overlay2) and the containerd image store. The engines are
// dockerd 26.1 (BuildKit v0.13), the oldest Docker Engine the frontend
// supports, started by hack/testbed.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/nixfile/nixfile/internal/testbed"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// dockerDriverLine is what buildx prints first when the build runs on the
// engine's own BuildKit: proof that the remote-driver builder of the bed
// (BUILDX_BUILDER) did not take the build.
const dockerDriverLine = `#0 building with "default" instance using docker driver`

// dockerEnv is the environment of a user whose docker talks to engine e:
// DOCKER_HOST set, and none of the bed's builder settings, which `docker
// build` would honour (BUILDX_BUILDER names the remote-driver builder).
func dockerEnv(e testbed.DockerEngine) []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "BUILDX_BUILDER", "BUILDKIT_HOST", "DOCKER_HOST", "DOCKER_CONTEXT":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "DOCKER_HOST="+e.Host)
}

// tryDocker runs `docker args...` in dir against engine e.
func tryDocker(t *testing.T, e testbed.DockerEngine, dir string, args ...string) (cliResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bedTool(t, "docker"), args...)
	cmd.Dir = dir
	cmd.Env = dockerEnv(e)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return cliResult{stdout: stdout.String(), stderr: stderr.String()}, err
}

// docker runs `docker args...` against engine e and fails the test, with
// the command's output, when it does not succeed.
func docker(t *testing.T, e testbed.DockerEngine, dir string, args ...string) cliResult {
	t.Helper()
	r, err := tryDocker(t, e, dir, args...)
	if err != nil {
		t.Fatalf("docker %s (%s image store): %v\nstdout:\n%s\nstderr (last lines):\n%s",
			strings.Join(args, " "), e.Store, err, tail(r.stdout, 20), tail(r.stderr, 60))
	}
	return r
}

// dockerRun is `docker run --name name args...`. When runc fails to start
// the container's init (seen once in this VM on either store, with no
// other change: "read init-p: connection reset by peer"), the engine, not
// the image, failed: it is tried once more, and said so in the log.
func dockerRun(t *testing.T, e testbed.DockerEngine, name string, args ...string) cliResult {
	t.Helper()
	args = append([]string{"run", "--name", name}, args...)
	r, err := tryDocker(t, e, "", args...)
	if err != nil && strings.Contains(r.stderr, "OCI runtime create failed") {
		t.Logf("docker run: the runtime failed to start the container, trying again: %s", tail(r.stderr, 3))
		_, _ = tryDocker(t, e, "", "rm", "--force", name)
		return docker(t, e, "", args...)
	}
	if err != nil {
		t.Fatalf("docker %s (%s image store): %v\nstdout:\n%s\nstderr (last lines):\n%s",
			strings.Join(args, " "), e.Store, err, tail(r.stdout, 20), tail(r.stderr, 60))
	}
	return r
}

// dockerImage is what `docker image inspect` says of an image.
type dockerImage struct {
	ID     string `json:"Id"`
	Config ocispec.ImageConfig
}

func inspectImage(t *testing.T, e testbed.DockerEngine, ref string) dockerImage {
	t.Helper()
	out := docker(t, e, "", "image", "inspect", "--format", "{{json .}}", ref).stdout
	var img dockerImage
	if err := json.Unmarshal([]byte(out), &img); err != nil {
		t.Fatalf("docker image inspect %s: %v\n%s", ref, err, out)
	}
	return img
}

// uniqueName is a name for images and containers of one test run, so that
// two runs on the same engine do not meet.
func uniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// Every example, on each image store: built with `docker build` and with
// `docker buildx build --load` on the docker driver, run with `docker run`,
// printing or serving what its README says; and the image --load put into
// Docker is the image the bed's own buildkitd exports for the same Nixfile.
func TestDockerExamples(t *testing.T) {
	_, engines := testbed.RequireDocker(t)
	examples := filepath.Join(testbed.RepoRoot(), "examples")

	// The OCI export of an example from the bed's buildkitd, to compare
	// with what an engine loads (a second export is BuildKit's cache).
	exportOf := func(t *testing.T, name string) *image {
		t.Helper()
		dest := filepath.Join(t.TempDir(), name+".oci.tar")
		buildxBuild(t, filepath.Join(examples, name), "--output", "type=oci,dest="+dest)
		return readOCI(t, dest)
	}

	for _, e := range engines {
		t.Run(e.Store, func(t *testing.T) {
			for _, tc := range exampleCases() {
				t.Run(tc.name, func(t *testing.T) {
					dir := filepath.Join(examples, tc.name)
					repo := uniqueName("nixfile-e2e/" + tc.name)
					built, loaded := repo+":build", repo+":load"
					t.Cleanup(func() { _, _ = tryDocker(t, e, "", "image", "rm", "--force", built, loaded) })

					// As the README's first section says: docker build, then docker run.
					r := docker(t, e, dir, "build", "--progress", "plain", "-f", "Nixfile", "-t", built, ".")
					if !strings.Contains(r.stderr, dockerDriverLine) {
						t.Fatalf("docker build did not run on the engine's BuildKit:\n%s", tail(r.stderr, 30))
					}
					img := inspectImage(t, e, built)
					tc.checkConfig(t, img.Config)
					runExample(t, e, tc, built)

					// docker buildx build --load on the docker driver, named
					// explicitly: the image Docker gets is the bed's export.
					r = docker(t, e, dir, "buildx", "build", "--builder", "default", "--progress", "plain",
						"--provenance=false", "--load", "-f", "Nixfile", "-t", loaded, ".")
					if !strings.Contains(r.stderr, dockerDriverLine) {
						t.Fatalf("docker buildx build --builder default did not run on the docker driver:\n%s", tail(r.stderr, 30))
					}
					if again := inspectImage(t, e, loaded); again.ID != img.ID {
						// Not the image docker build made: run it too.
						t.Logf("--load gave %s, docker build %s", again.ID, img.ID)
						tc.checkConfig(t, again.Config)
						runExample(t, e, tc, loaded)
					}
					compareWithExport(t, e, loaded, exportOf(t, tc.name))
				})
			}
		})
	}
}

// runExample runs an example's image with docker run and checks what it
// prints, or, for a server, what it serves.
func runExample(t *testing.T, e testbed.DockerEngine, tc exampleCase, ref string) {
	t.Helper()
	if len(tc.pages) == 0 {
		name := uniqueName("nixfile-e2e")
		t.Cleanup(func() { _, _ = tryDocker(t, e, "", "rm", "--force", name) })
		r := dockerRun(t, e, name, "--rm", ref)
		if r.stdout != tc.stdout {
			t.Errorf("docker run %s printed\n%s\nwant\n%s\n(stderr: %s)", ref, r.stdout, tc.stdout, r.stderr)
		}
		return
	}
	if stdout := dockerServeAndFetch(t, e, ref, tc.pages); stdout != tc.stdout {
		t.Errorf("the server printed %q, want %q", stdout, tc.stdout)
	}
}

// dockerServeAndFetch runs a server image on the host's network, listening
// on a free port of 127.0.0.1 (busybox httpd takes the last -p, so the
// port given after the image replaces the entrypoint's, as the webserver
// README says), fetches pages from it, stops it and returns its stdout.
func dockerServeAndFetch(t *testing.T, e testbed.DockerEngine, ref string, pages []page) string {
	t.Helper()
	addr := freeLoopbackAddr(t)
	name := uniqueName("nixfile-e2e-server")
	t.Cleanup(func() { _, _ = tryDocker(t, e, "", "rm", "--force", name) })
	dockerRun(t, e, name, "--detach", "--network", "host", ref, "-p", addr)

	get := func(path string) (string, error) { return httpGet(addr, path) }
	// Bounded: 120 tries, 250ms apart.
	var err error
	for i := 0; i < 120; i++ {
		if _, err = get(pages[0].path); err == nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		logs, _ := tryDocker(t, e, "", "logs", name)
		t.Fatalf("the server at %s did not answer: %v\nlogs: %s%s", addr, err, logs.stdout, logs.stderr)
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
	// httpd is pid 1 and ignores SIGTERM: a second's grace, then SIGKILL.
	docker(t, e, "", "stop", "--time", "1", name)
	logs := docker(t, e, "", "logs", name)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still answers after docker stop", addr)
	}
	return logs.stdout
}

// freeLoopbackAddr is a 127.0.0.1 port that nothing listens on now.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// compareWithExport checks that the image ref in engine e, as docker save
// gives it back, is the image the bed's buildkitd exported: the same
// config, the same layers by diff ID, the same files.
func compareWithExport(t *testing.T, e testbed.DockerEngine, ref string, want *image) {
	t.Helper()
	saved := filepath.Join(t.TempDir(), "saved.tar")
	docker(t, e, "", "save", "--output", saved, ref)
	got, gotCfg := readDockerArchive(t, saved)
	if !reflect.DeepEqual(gotCfg, want.config) {
		g, _ := json.MarshalIndent(gotCfg, "", "  ")
		w, _ := json.MarshalIndent(want.config, "", "  ")
		t.Errorf("the config in Docker differs from the OCI export's:\n--- docker (%s)\n%s\n--- export\n%s", e.Store, g, w)
	}
	if g, w := layerDiffIDs(t, got), layerDiffIDs(t, want.img); !reflect.DeepEqual(g, w) {
		t.Errorf("layers by diff ID differ:\ndocker (%s): %v\nexport: %v", e.Store, g, w)
	}
	gotFiles := filesOf(t, got)
	for name, w := range want.files {
		g, ok := gotFiles[name]
		switch {
		case !ok:
			t.Errorf("/%s is in the export, not in Docker's image", name)
		case !reflect.DeepEqual(g, w):
			t.Errorf("/%s differs: docker %s, export %s", name, describeEntry(g), describeEntry(w))
		}
	}
	for name := range gotFiles {
		if _, ok := want.files[name]; !ok {
			t.Errorf("/%s is in Docker's image, not in the export", name)
		}
	}
}

// layerDiffIDs are the diff IDs of an image's layers, computed from their
// contents (validate.Image has checked them against the config).
func layerDiffIDs(t *testing.T, img v1.Image) []string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range layers {
		d, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.String())
	}
	return out
}

func describeEntry(f fileEntry) string {
	return fmt.Sprintf("{type %c mode %o uid %d gid %d mtime %s link %q %d bytes}",
		f.typeflag, f.mode, f.uid, f.gid, f.modTime.UTC().Format(time.RFC3339), f.linkname, len(f.data))
}

// docker buildx bake examples on the docker driver: the frontend image
// built from this tree, and every example with it, loaded into the engine.
// On the classic image store only (where most existing installs are, and
// the one without MergeOp): the frontend's go build starts cold in each
// engine and takes minutes on 2 cores, and TestDockerExamples covers the
// examples on both stores.
func TestDockerBakeExamples(t *testing.T) {
	_, engines := testbed.RequireDocker(t)
	root := testbed.RepoRoot()
	for _, e := range engines {
		if e.Store != "classic" {
			continue
		}
		t.Run(e.Store, func(t *testing.T) {
			// The bake file's tags (TAG defaults to dev).
			t.Cleanup(func() {
				for _, tc := range exampleCases() {
					_, _ = tryDocker(t, e, "", "image", "rm", "--force", "nixfile-examples/"+tc.name+":dev")
				}
				_, _ = tryDocker(t, e, "", "image", "rm", "--force", "nixfile/nixfile:dev")
			})
			// The bed's bridges have no NAT (iptables is off), so the Go
			// build of the frontend reaches the Go module proxy only on the
			// host's network; a laptop's engine needs no such setting.
			r := docker(t, e, root, "buildx", "bake", "--builder", "default", "--progress", "plain",
				"--provenance=false", "--allow", "network.host",
				"-f", "docker-bake.hcl", "--set", "frontend.network=host",
				"examples")
			if !strings.Contains(r.stderr, dockerDriverLine) {
				t.Fatalf("bake did not run on the docker driver:\n%s", tail(r.stderr, 30))
			}
			for _, tc := range exampleCases() {
				ref := "nixfile-examples/" + tc.name + ":dev"
				t.Run(tc.name, func(t *testing.T) {
					tc.checkConfig(t, inspectImage(t, e, ref).Config)
				})
			}
			hello := exampleCases()[0]
			runExample(t, e, hello, "nixfile-examples/"+hello.name+":dev")
		})
	}
}

// A Nixfile error in `docker build` shows the Nixfile line that caused it
// and nix's own message, as BuildKit's Dockerfile frontend shows its lines.
func TestDockerBuildErrorShowsTheLine(t *testing.T) {
	_, engines := testbed.RequireDocker(t)
	tests := []struct {
		name    string
		nixfile string
		want    []string // all must be in docker build's output
	}{
		{
			name:    "a package that fails to build",
			nixfile: "# syntax=nixfile/nixfile\nPACKAGES hello\nPACKAGES broken\n",
			want:    []string{"Nixfile:3", ">>> PACKAGES broken", "error: broken-1.0 is meant to fail (testpkgs)"},
		},
		{
			name:    "an unknown package",
			nixfile: "# syntax=nixfile/nixfile\nPACKAGES hello\n\nPACKAGES helo\n",
			want:    []string{"Nixfile:4", ">>> PACKAGES helo", "attribute 'helo' not found in the package set", "did you mean hello"},
		},
	}
	for _, e := range engines {
		t.Run(e.Store, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					dir := writeContext(t, map[string]string{"Nixfile": tc.nixfile})
					r, err := tryDocker(t, e, dir, "build", "--progress", "plain", "-f", "Nixfile", ".")
					if err == nil {
						t.Fatalf("docker build succeeded:\n%s", tail(r.stderr, 30))
					}
					out := r.stdout + r.stderr
					if !strings.Contains(out, dockerDriverLine) {
						t.Errorf("docker build did not run on the engine's BuildKit:\n%s", tail(out, 30))
					}
					for _, w := range tc.want {
						if !strings.Contains(out, w) {
							t.Errorf("docker build's output lacks %q:\n%s", w, tail(out, 40))
						}
					}
					if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic") {
						t.Errorf("docker build's output has a Go stack trace or panic:\n%s", tail(out, 40))
					}
				})
			}
		})
	}
}

// HEALTHCHECK reaches Docker Engine as a Dockerfile's does, on each image
// store: docker inspect shows the check the Nixfile asked for, and Docker
// runs it on the flags' schedule: a passing check makes the container
// healthy within the start period (at the default 30s interval it would
// not be yet), a failing one unhealthy. The checks are true and false: on
// this bed, docker exec (which runs them) stays in the host's mount
// namespace, so a check that reads the container's files would not.
func TestDockerHealthcheck(t *testing.T) {
	_, engines := testbed.RequireDocker(t)
	dir := writeContext(t, map[string]string{"Nixfile": "# syntax=nixfile/nixfile\n" +
		"PACKAGES busybox\n" +
		"ARG CHECK=true\nARG START=60s\n" +
		"HEALTHCHECK --interval=1s --timeout=5s --start-period=$START --start-interval=1s --retries=2 CMD $CHECK\n" +
		`ENTRYPOINT ["sleep", "120"]` + "\n"})
	tests := []struct {
		check, start string
		want         dockerspec.HealthcheckConfig
		status       string
	}{
		{
			check: "true", start: "60s", status: "healthy",
			want: dockerspec.HealthcheckConfig{Test: []string{"CMD", "true"},
				Interval: time.Second, Timeout: 5 * time.Second, StartPeriod: time.Minute, StartInterval: time.Second, Retries: 2},
		},
		{
			check: "false", start: "0s", status: "unhealthy",
			want: dockerspec.HealthcheckConfig{Test: []string{"CMD", "false"},
				Interval: time.Second, Timeout: 5 * time.Second, StartInterval: time.Second, Retries: 2},
		},
	}
	for _, e := range engines {
		t.Run(e.Store, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.status, func(t *testing.T) {
					ref := uniqueName("nixfile-e2e/healthcheck") + ":build"
					name := uniqueName("nixfile-e2e-health")
					t.Cleanup(func() {
						_, _ = tryDocker(t, e, "", "rm", "--force", name)
						_, _ = tryDocker(t, e, "", "image", "rm", "--force", ref)
					})
					docker(t, e, dir, "build", "--progress", "plain", "-f", "Nixfile",
						"--build-arg", "CHECK="+tc.check, "--build-arg", "START="+tc.start, "-t", ref, ".")
					out := docker(t, e, "", "image", "inspect", "--format", "{{json .Config.Healthcheck}}", ref).stdout
					var got dockerspec.HealthcheckConfig
					if err := json.Unmarshal([]byte(out), &got); err != nil || !reflect.DeepEqual(got, tc.want) {
						t.Fatalf("docker image inspect: the health check is %s (%v), want %+v", out, err, tc.want)
					}
					dockerRun(t, e, name, "--detach", "--network", "none", ref)
					status := ""
					// Bounded: 80 tries, 250ms apart, well inside the
					// default interval (30s) the flags replace.
					for i := 0; i < 80 && status != tc.status; i++ {
						time.Sleep(250 * time.Millisecond)
						status = strings.TrimSpace(docker(t, e, "", "inspect", "--format", "{{.State.Health.Status}}", name).stdout)
					}
					if status != tc.status {
						log := docker(t, e, "", "inspect", "--format", "{{json .State.Health.Log}}", name).stdout
						t.Fatalf("the container is %q after 20 s, want %s; the checks: %s", status, tc.status, log)
					}
				})
			}
		})
	}
}

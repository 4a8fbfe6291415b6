package e2e

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/nixfile/nixfile/internal/testbed"
)

// docker buildx bake builds the frontend image from this tree (the
// Dockerfile, on the bed's golang image) and the examples with it, with no
// registry push in between.
func TestBakeBuildsTheFrontendAndExamples(t *testing.T) {
	testbed.Require(t)
	out := t.TempDir()
	argv := append(buildxCommand(t), "bake",
		"--builder", os.Getenv("BUILDX_BUILDER"),
		"--progress", "plain",
		"--provenance=false",
		"--allow=fs.write="+out,
		"-f", filepath.Join(testbed.RepoRoot(), "docker-bake.hcl"),
		"--set", "example-hello.output=type=oci,dest="+filepath.Join(out, "hello.tar"),
		"--set", "example-shell.output=type=oci,dest="+filepath.Join(out, "shell.tar"),
		// What bake would push (its compression too), to a file.
		"--set", "frontend-all.output="+asOCIExport(t, publishedOutput(t, "frontend-all"), filepath.Join(out, "frontend.tar")),
		"frontend-all", "example-hello", "example-shell")
	r := runCLI(t, testbed.RepoRoot(), argv...)
	// The examples ran the frontend target, not the image their syntax
	// line names in a registry.
	if strings.Contains(r.stderr, "docker.io/nixfile/nixfile") {
		t.Errorf("an example resolved its frontend from a registry:\n%s", tail(r.stderr, 60))
	}

	// The frontend-all target is an index of linux/amd64 and linux/arm64,
	// each with a static binary of its own architecture (Go cross-compiles
	// on the build platform: the bed's daemon has no emulator).
	index := readOCI(t, filepath.Join(out, "frontend.tar"))
	if len(index.platforms) != 2 {
		t.Fatalf("the frontend-all target gives %v, want linux/amd64 and linux/arm64", keys(index.platforms))
	}
	for p, machine := range map[string]elf.Machine{"linux/amd64": elf.EM_X86_64, "linux/arm64": elf.EM_AARCH64} {
		img := index.platforms[p]
		if img == nil {
			t.Fatalf("the frontend index has no %s image", p)
		}
		if got := img.config.OS + "/" + img.config.Architecture; got != p {
			t.Errorf("the %s image's config names %s", p, got)
		}
		f, err := elf.NewFile(bytes.NewReader(img.files["frontend"].data))
		if err != nil {
			t.Fatalf("the %s image's /frontend is not an ELF binary: %v", p, err)
		}
		if f.Machine != machine {
			t.Errorf("the %s image's /frontend is for %v, want %v", p, f.Machine, machine)
		}
		if f.Class != elf.ELFCLASS64 || f.Type != elf.ET_EXEC {
			t.Errorf("the %s image's /frontend is %v %v, want a 64-bit static executable", p, f.Class, f.Type)
		}
		// zstd: BuildKit unpacks it in a third of gzip's time, before
		// anything of a cold build starts.
		layers, err := img.img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			if mt, err := l.MediaType(); err != nil || mt != types.OCILayerZStd {
				t.Errorf("a layer of the %s image is %s (%v), want %s", p, mt, err, types.OCILayerZStd)
			}
		}
	}
	if strings.Contains(r.stderr, "[linux/arm64 build") {
		t.Errorf("a step of the Go build ran on linux/arm64 (emulated), not cross-compiled:\n%s", tail(r.stderr, 40))
	}
	fe := index.platforms["linux/amd64"]
	if ep := fe.config.Config.Entrypoint; len(ep) != 1 || ep[0] != "/frontend" {
		t.Errorf("the frontend image's entrypoint is %v", ep)
	}
	if fe.config.Config.Labels["moby.buildkit.frontend.network.none"] != "true" ||
		!strings.Contains(fe.config.Config.Labels["moby.buildkit.frontend.caps"], "moby.buildkit.frontend.subrequests") {
		t.Errorf("the frontend image lacks the labels BuildKit reads: %v", fe.config.Config.Labels)
	}
	if f, ok := fe.files["frontend"]; !ok || f.mode&0o111 == 0 {
		t.Errorf("the frontend image has no executable /frontend")
	}

	hello := readOCI(t, filepath.Join(out, "hello.tar"))
	if !anyHasSuffix(hello.storeEntries(), "-hello") {
		t.Errorf("the hello example lacks hello: %v", hello.storeEntries())
	}
	if ep := hello.config.Config.Entrypoint; len(ep) == 0 || ep[0] != "hello" {
		t.Errorf("the hello example's entrypoint is %v", ep)
	}
	shell := readOCI(t, filepath.Join(out, "shell.tar"))
	if _, ok := shell.files["bin/sh"]; !ok {
		t.Errorf("the shell example has no /bin/sh")
	}
}

// publishedOutput is the output docker-bake.hcl gives target, as
// `bake --print` says: its attributes, type=image among them.
func publishedOutput(t *testing.T, target string) map[string]string {
	t.Helper()
	argv := append(buildxCommand(t), "bake", "--print", "-f", filepath.Join(testbed.RepoRoot(), "docker-bake.hcl"), target)
	r := runCLI(t, testbed.RepoRoot(), argv...)
	var def struct {
		Target map[string]struct {
			Output []map[string]string `json:"output"`
		} `json:"target"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &def); err != nil {
		t.Fatalf("bake --print %s: %v\n%s", target, err, r.stdout)
	}
	outs := def.Target[target].Output
	if len(outs) != 1 || outs[0]["type"] != "image" {
		t.Fatalf("bake --print %s: outputs %v, want one of type image", target, outs)
	}
	return outs[0]
}

// asOCIExport is an image output's attributes as an OCI export to dest:
// the same compression and media types, written to a file, not pushed.
func asOCIExport(t *testing.T, attrs map[string]string, dest string) string {
	t.Helper()
	fields := []string{"type=oci", "dest=" + dest}
	for k, v := range attrs {
		switch k {
		case "type", "push", "name":
		default:
			if strings.ContainsAny(k+v, ",\"") {
				t.Fatalf("output attribute %s=%s needs quoting", k, v)
			}
			fields = append(fields, k+"="+v)
		}
	}
	slices.Sort(fields[2:])
	return strings.Join(fields, ",")
}

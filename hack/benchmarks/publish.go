package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"
)

// publishFrontend builds the gateway frontend in hack/benchmarks/dir
// (noopfrontend, a frontend that does nothing; dockerfilefrontend,
// BuildKit's Dockerfile frontend) and pushes it as a frontend image, repo
// in the bed's registry, through a fresh buildkitd like the ones measured:
// scratch with the binary as /frontend. It returns the image's name, which
// the measured daemons pull.
func publishFrontend(ctx context.Context, cfg config, repo, dir string) (string, error) {
	name := cfg.registry + "/" + repo + ":bench"
	bin := filepath.Join(cfg.tmp, dir)
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w",
		"-o", filepath.Join(bin, "frontend"), ".")
	build.Dir = filepath.Join(filepath.Dir(cfg.dockerfileDir), dir) // hack/benchmarks/dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", dir, err, out)
	}
	binFS, err := fsutil.NewFS(bin)
	if err != nil {
		return "", err
	}

	platform := ocispecs.Platform{OS: "linux", Architecture: runtime.GOARCH}
	img := ocispecs.Image{Platform: platform, Config: ocispecs.ImageConfig{
		Entrypoint: []string{"/frontend"},
		Labels:     map[string]string{"moby.buildkit.frontend.network.none": "true"}, // as ours' image
	}}
	imgJSON, err := json.Marshal(img)
	if err != nil {
		return "", err
	}

	d, err := startDaemon(cfg.bkConfig)
	if err != nil {
		return "", err
	}
	defer d.stop()
	c, err := client.New(ctx, d.addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	opt := client.SolveOpt{
		LocalMounts: map[string]fsutil.FS{"bin": binFS},
		Exports: []client.ExportEntry{{Type: client.ExporterImage, Attrs: map[string]string{
			"name": name, "push": "true", "registry.insecure": "true",
		}}},
	}
	_, err = c.Build(ctx, opt, "", func(ctx context.Context, gc gateway.Client) (*gateway.Result, error) {
		def, err := llb.Scratch().File(llb.Copy(llb.Local("bin"), "/frontend", "/frontend")).
			Marshal(ctx, llb.Platform(platform))
		if err != nil {
			return nil, err
		}
		res, err := gc.Solve(ctx, gateway.SolveRequest{Definition: def.ToPB()})
		if err != nil {
			return nil, err
		}
		res.AddMeta(exptypes.ExporterImageConfigKey, imgJSON)
		return res, nil
	}, nil)
	if err != nil {
		return "", fmt.Errorf("publishing the frontend image %s: %w", name, err)
	}
	return name, nil
}

// buildkitVersion is the BuildKit version dockerfilefrontend's module
// builds with: the main module's, which TestDockerfileFrontendVersion
// keeps it equal to.
func buildkitVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "github.com/moby/buildkit" {
				return m.Version
			}
		}
	}
	return "(unknown)"
}

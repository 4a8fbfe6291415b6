package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

func imageConfigOf(res *gateway.Result) (*dockerspec.DockerOCIImage, error) {
	dt, ok := res.Metadata[exptypes.ExporterImageConfigKey]
	if !ok {
		return nil, fmt.Errorf("the result has no %s", exptypes.ExporterImageConfigKey)
	}
	var img dockerspec.DockerOCIImage
	if err := json.Unmarshal(dt, &img); err != nil {
		return nil, err
	}
	return &img, nil
}

type buffer struct{ bytes.Buffer }

func (b *buffer) Close() error { return nil }

// runIn runs a process in the built image the way a container runtime
// would from its config: entrypoint and cmd (or args), env, user, workdir.
func runIn(ctx context.Context, gc gateway.Client, ref gateway.Reference, img *dockerspec.DockerOCIImage, args []string) runOutput {
	if args == nil {
		args = append(append([]string{}, img.Config.Entrypoint...), img.Config.Cmd...)
	}
	ctr, err := gc.NewContainer(ctx, gateway.NewContainerRequest{
		Mounts: []gateway.Mount{{Dest: "/", Ref: ref}},
	})
	if err != nil {
		return runOutput{err: err}
	}
	defer ctr.Release(context.WithoutCancel(ctx))
	var stdout, stderr buffer
	cwd := img.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	proc, err := ctr.Start(ctx, gateway.StartRequest{
		Args:   args,
		Env:    img.Config.Env,
		User:   img.Config.User,
		Cwd:    cwd,
		Stdout: &stdout,
		Stderr: &stderr,
	})
	if err != nil {
		return runOutput{err: err}
	}
	err = proc.Wait()
	return runOutput{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

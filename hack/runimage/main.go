// Command runimage runs an image's entrypoint through BuildKit, the way a
// container runtime would from its config: this machine has no docker
// engine, so the test bed runs images in buildkitd itself.
//
//	go run ./hack/runimage [-timeout 30s] IMAGE [CMD...]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

func main() {
	timeout := flag.Duration("timeout", 0, "stop the process after this long (for servers); 0 waits for it")
	addr := flag.String("addr", os.Getenv("BUILDKIT_HOST"), "buildkitd address")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: runimage [-timeout D] IMAGE [CMD...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 || *addr == "" {
		flag.Usage()
		os.Exit(2)
	}
	code, err := run(*addr, flag.Arg(0), flag.Args()[1:], *timeout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "runimage:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

type stdio struct{ *os.File }

func (stdio) Close() error { return nil }

func run(addr, ref string, cmd []string, timeout time.Duration) (int, error) {
	ctx := context.Background()
	c, err := client.New(ctx, addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	code := 0
	_, err = c.Build(ctx, client.SolveOpt{}, "", func(ctx context.Context, gc gateway.Client) (*gateway.Result, error) {
		_, _, dt, err := gc.ResolveImageConfig(ctx, ref, sourceresolver.Opt{})
		if err != nil {
			return nil, err
		}
		var img dockerspec.DockerOCIImage
		if err := json.Unmarshal(dt, &img); err != nil {
			return nil, err
		}
		def, err := llb.Image(ref).Marshal(ctx)
		if err != nil {
			return nil, err
		}
		res, err := gc.Solve(ctx, gateway.SolveRequest{Definition: def.ToPB()})
		if err != nil {
			return nil, err
		}
		root, err := res.SingleRef()
		if err != nil {
			return nil, err
		}
		ctr, err := gc.NewContainer(ctx, gateway.NewContainerRequest{Mounts: []gateway.Mount{{Dest: "/", Ref: root}}})
		if err != nil {
			return nil, err
		}
		defer ctr.Release(context.WithoutCancel(ctx))
		args := img.Config.Entrypoint
		if len(cmd) > 0 {
			args = append(append([]string{}, args...), cmd...)
		} else {
			args = append(append([]string{}, args...), img.Config.Cmd...)
		}
		cwd := img.Config.WorkingDir
		if cwd == "" {
			cwd = "/"
		}
		pctx := ctx
		if timeout > 0 {
			var cancel context.CancelFunc
			pctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		proc, err := ctr.Start(pctx, gateway.StartRequest{
			Args: args, Env: img.Config.Env, User: img.Config.User, Cwd: cwd,
			Stdout: stdio{os.Stdout}, Stderr: stdio{os.Stderr},
		})
		if err != nil {
			return nil, err
		}
		err = proc.Wait()
		var exit *gwpb.ExitError
		switch {
		case err == nil:
		case timeout > 0 && pctx.Err() != nil:
			fmt.Fprintf(os.Stderr, "runimage: stopped after %s\n", timeout)
		case errors.As(err, &exit):
			code = int(exit.ExitCode)
		default:
			return nil, err
		}
		return gateway.NewResult(), nil
	}, nil)
	return code, err
}

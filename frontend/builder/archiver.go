package builder

import (
	"context"
	"fmt"
	"os"

	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	nixllb "github.com/nixfile/nixfile/llb"
)

// loadArchiver loads this frontend's own image, which the nix stage runs
// this binary from to archive the closure (see storetar), as BuildKit's
// gateway loaded it to start the frontend: from the "source" option, a
// named context of that name first. It is for the platform this binary
// runs on, the daemon's, where the nix stage's containers run too (an
// emulated nix image's among them). An image that does not load leaves
// the closure copied as it is (nil), and says why in the daemon's log.
func loadArchiver(ctx context.Context, c client.Client, bc *dockerui.Client) *nixllb.Archiver {
	a, err := archiverImage(ctx, c, bc)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nixfile: the closure is copied, not archived: %v\n", err)
		return nil
	}
	return a
}

// sourceOpt is the option BuildKit's gateway names its frontend image by
// (frontend.KeySource, in a package of BuildKit's daemon).
const sourceOpt = "source"

func archiverImage(ctx context.Context, c client.Client, bc *dockerui.Client) (*nixllb.Archiver, error) {
	source := c.BuildOpts().Opts[sourceOpt]
	if source == "" {
		return nil, fmt.Errorf("BuildKit did not say which image this frontend is")
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p := platforms.DefaultSpec()
	// The build's resolve mode (--pull) is for its images, not for the
	// frontend's own, which the gateway has just loaded.
	named, _, err := loadNamedContext(ctx, bc, source, p, "")
	if err != nil {
		return nil, err
	}
	if named != nil {
		return &nixllb.Archiver{Image: *named, Path: self}, nil
	}
	ref, err := reference.ParseNormalizedNamed(source)
	if err != nil {
		return nil, fmt.Errorf("frontend image %q: %w", source, err)
	}
	resolved, _, _, err := c.ResolveImageConfig(ctx, reference.TagNameOnly(ref).String(), sourceresolver.Opt{
		LogName:  "[internal] load metadata for " + source,
		ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &p},
	})
	if err != nil {
		return nil, err
	}
	st := llb.Image(resolved, llb.Platform(p), llb.WithCustomName("[internal] load the archiver (this frontend's image)"))
	return &nixllb.Archiver{Image: st, Path: self}, nil
}

package builder

import (
	"context"
	"fmt"

	"github.com/moby/buildkit/frontend/gateway/client"
	nixllb "github.com/nixfile/nixfile/llb"
	"golang.org/x/sync/errgroup"
)

// readChunk is how much one read of a result file asks for: under the
// gateway's 16 MiB message limit, which a whole-file read of a larger file
// (a big closure's path-info) fails with.
const readChunk = 8 << 20

// readFileUpTo reads a whole file in chunks, failing when it has more
// than max bytes rather than reading it all into memory.
func readFileUpTo(ctx context.Context, read func(context.Context, client.ReadRequest) ([]byte, error), name string, max int) ([]byte, error) {
	var out []byte
	for {
		dt, err := read(ctx, client.ReadRequest{Filename: name, Range: &client.FileRange{Offset: len(out), Length: readChunk}})
		if err != nil {
			return nil, err
		}
		out = append(out, dt...)
		if len(out) > max {
			return nil, fmt.Errorf("%s is larger than %d MiB", name, max>>20)
		}
		if len(dt) < readChunk {
			return out, nil
		}
	}
}

// readFiles reads the named files of a step's result (what names the step
// in errors), each up to nixllb.MaxMetaFileSize. They are read at once: each
// read is a round trip to the daemon, which a no-change build waits for.
func readFiles(ctx context.Context, ref client.Reference, what string, names ...string) (map[string][]byte, error) {
	data := make([][]byte, len(names))
	g, ctx := errgroup.WithContext(ctx)
	for i, name := range names {
		g.Go(func() error {
			dt, err := readFileUpTo(ctx, ref.ReadFile, name, nixllb.MaxMetaFileSize)
			if err != nil {
				return fmt.Errorf("reading %s's %s: %w", what, name, err)
			}
			data[i] = dt
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	files := make(map[string][]byte, len(names))
	for i, name := range names {
		files[name] = data[i]
	}
	return files, nil
}

// Command noopfrontend is a BuildKit gateway frontend that does nothing: it
// solves scratch and returns it, reading neither its build context nor its
// frontend file. hack/benchmarks times no-change rebuilds through it, the
// floor of what any gateway (# syntax=) frontend costs.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/frontend/gateway/grpcclient"
	"github.com/moby/buildkit/util/appcontext"
)

func main() {
	err := grpcclient.RunFromEnvironment(appcontext.Context(), func(ctx context.Context, c client.Client) (*client.Result, error) {
		def, err := llb.Scratch().Marshal(ctx)
		if err != nil {
			return nil, err
		}
		return c.Solve(ctx, client.SolveRequest{Definition: def.ToPB()})
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "noopfrontend: %v\n", err)
		os.Exit(1)
	}
}

// Command dockerfilefrontend is BuildKit's Dockerfile frontend, what the
// docker/dockerfile images run, at the BuildKit version nixfile builds
// with (kept equal to the main module's by hand). hack/benchmarks times
// no-change rebuilds of the baseline's Dockerfile through it as a gateway
// (# syntax=) frontend image: what a frontend that reads its file, the
// .dockerignore and the context costs when it is BuildKit's own.
//
// It is a module of its own so that the Dockerfile frontend's dependencies
// stay out of nixfile's.
package main

import (
	"fmt"
	"os"

	dockerfile "github.com/moby/buildkit/frontend/dockerfile/builder"
	"github.com/moby/buildkit/frontend/gateway/grpcclient"
	"github.com/moby/buildkit/util/appcontext"
	_ "github.com/moby/buildkit/util/grpcutil/encoding/proto"
)

func main() {
	if err := grpcclient.RunFromEnvironment(appcontext.Context(), dockerfile.Build); err != nil {
		fmt.Fprintf(os.Stderr, "dockerfilefrontend: %v\n", err)
		os.Exit(1)
	}
}

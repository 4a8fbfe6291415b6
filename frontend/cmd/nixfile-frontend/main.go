// Command nixfile-frontend is the nixfile BuildKit frontend.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/moby/buildkit/util/appcontext"
	"github.com/nixfile/nixfile/frontend/builder"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// The nix stage runs this binary, from the frontend's own image, to
	// archive the closure (see storetar).
	if len(os.Args) > 1 && os.Args[1] == archiveCommand {
		if err := archiveClosure(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "nixfile: %v\n", err)
			os.Exit(1)
		}
		return
	}
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("nixfile-frontend", version)
		return
	}
	if err := runFromEnvironment(appcontext.Context(), builder.Build); err != nil {
		fmt.Fprintf(os.Stderr, "nixfile: %v\n", err)
		os.Exit(1)
	}
}

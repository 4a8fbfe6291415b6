// Command nixfile-frontend is the nixfile BuildKit frontend.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/moby/buildkit/util/appcontext"
	"github.com/nixfile/nixfile/frontend/builder"
	nixllb "github.com/nixfile/nixfile/llb"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// gcPercent is the frontend's GOGC. It lives for one build and allocates
// a few MiB (7 MiB for a no-change rebuild of 2,000 paths, in two or three
// collections at Go's default of 100, which a rebuild waits for); a
// collection at five times the live heap leaves such builds none.
const gcPercent = 500

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	// The nix stage runs this binary, from the frontend's own image, to
	// archive the closure (see storetar).
	if len(os.Args) > 1 && os.Args[1] == archiveCommand {
		if err := archiveClosure(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "nixfile: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == nixllb.WritebackCommand {
		if err := flushWrites(writebackLimit); err != nil {
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

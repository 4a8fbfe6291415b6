package e2e

import (
	"slices"
	"strings"
	"testing"

	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/util/apicaps"

	"github.com/nixfile/nixfile/internal/testbed"
)

// Each bad Nixfile fails with a message that says what is wrong, attached to
// the Nixfile line that caused it, as BuildKit shows it to a user.
func TestBadNixfilesPointAtTheLine(t *testing.T) {
	bed := testbed.Require(t)
	tests := []struct {
		name    string
		nixfile string
		files   map[string]string
		line    int
		message []string // all must be in the error
		// nixStep: the nix step itself fails, so the frontend reads nix's
		// message back from the failed step's files.
		nixStep bool
		// oneOf: at least one must be in the error (nix versions word
		// some messages differently)
		oneOf []string
	}{
		{
			name:    "unknown instruction",
			nixfile: "PACKAGES hello\nPACKGES busybox\n",
			line:    2,
			message: []string{`unknown instruction "PACKGES"`, "did you mean PACKAGES?"},
		},
		{
			name:    "wrong number of arguments",
			nixfile: "PACKAGES hello\n\nCOPY onlyone\n",
			line:    3,
			message: []string{"COPY", "src... dest"},
		},
		{
			name:    "bad JSON in ENTRYPOINT",
			nixfile: "PACKAGES hello\nENTRYPOINT [\"hello\",]\n",
			line:    2,
			message: []string{"ENTRYPOINT", "invalid JSON"},
		},
		{
			name:    "bad JSON in CMD across continued lines",
			nixfile: "PACKAGES hello\nCMD [\"a\", \\\n  b]\n",
			line:    2,
			message: []string{"CMD", "invalid JSON"},
		},
		{
			// A .nix file of no derivations: nix builds nothing, and the
			// frontend says so at the line rather than fail reading files
			// the step did not write.
			name:    "a BUILD of nothing",
			nixfile: "ENV A=1\nBUILD empty.nix\n",
			files:   map[string]string{"empty.nix": "[ ]\n"},
			line:    2,
			message: []string{"nothing to put in the image: these lines build no store paths"},
		},
		{
			name:    "unknown attribute",
			nixfile: "# a comment\nPACKAGES hello\nPACKAGES helo\n",
			line:    3,
			message: []string{"line 3", "attribute 'helo' not found in the package set", "did you mean hello"},
			nixStep: true,
		},
		{
			name:    "unknown nested attribute",
			nixfile: "PACKAGES tools.gret\n",
			line:    1,
			message: []string{"attribute 'tools.gret' not found", "did you mean greet"},
		},
		{
			name:    "a set of packages is not a package",
			nixfile: "PACKAGES tools\n",
			line:    1,
			message: []string{"'tools' is a set of 1 attributes, not a package", "tools.greet"},
		},
		{
			name:    "failed nix build with nix's own message",
			nixfile: "PACKAGES hello\nPACKAGES broken\n",
			line:    2,
			message: []string{"error: broken-1.0 is meant to fail (testpkgs)", "broken-1.0.drv"},
			nixStep: true,
		},
		{
			name:    "missing .nix file in the context",
			nixfile: "PACKAGES hello\nBUILD missing.nix\n",
			line:    2,
			message: []string{"missing.nix"},
			oneOf:   []string{"No such file or directory", "does not exist"},
		},
		{
			name:    "missing package set directory in the context",
			nixfile: "NIXPKGS ./nopkgs\nPACKAGES hello\n",
			line:    1,
			message: []string{"nopkgs"},
		},
		{
			name:    "missing COPY source",
			nixfile: "PACKAGES hello\nCOPY nothere.txt /etc/\n",
			line:    2,
			message: []string{"nothere.txt"},
		},
		{
			name:    "path outside the build context",
			nixfile: "BUILD ../outside.nix\n",
			line:    1,
			message: []string{"outside the build context"},
		},
		{
			name:    "unknown attribute after a NIXPKGS line",
			nixfile: "NIXPKGS <nixpkgs>\nPACKAGES hello\nBUILD app.nix\nPACKAGES helo\n",
			files:   map[string]string{"app.nix": "(import <nixpkgs> { }).greeter\n"},
			line:    4,
			message: []string{"attribute 'helo' not found in the package set", "did you mean hello"},
			nixStep: true,
		},
		{
			name:    "a second NIXPKGS",
			nixfile: "NIXPKGS <nixpkgs>\nNIXPKGS ./pkgs\nPACKAGES hello\n",
			line:    2,
			message: []string{"already given on line 1"},
		},
		{
			name:    "invalid port",
			nixfile: "PACKAGES hello\nEXPOSE 80/tcp 99999\n",
			line:    2,
			message: []string{"invalid port \"99999\""},
		},
	}
	for _, tc := range tests {
		run := func(t *testing.T, opt buildOpts) {
			files := map[string]string{"Nixfile": tc.nixfile}
			for k, v := range tc.files {
				files[k] = v
			}
			_, err := build(t, bed, writeContext(t, files), opt)
			if err == nil {
				t.Fatal("the build succeeded")
			}
			msg := err.Error()
			for _, m := range tc.message {
				if !strings.Contains(msg, m) {
					t.Errorf("the error lacks %q:\n%s", m, msg)
				}
			}
			if len(tc.oneOf) > 0 && !slices.ContainsFunc(tc.oneOf, func(m string) bool { return strings.Contains(msg, m) }) {
				t.Errorf("the error has none of %q:\n%s", tc.oneOf, msg)
			}
			if strings.Contains(msg, "goroutine ") || strings.Contains(msg, "panic") {
				t.Errorf("the error has a Go stack trace or panic:\n%s", msg)
			}
			if got := errorLine(err); got != tc.line {
				t.Errorf("the error points at line %d, want %d:\n%s", got, tc.line, msg)
			}
		}
		t.Run(tc.name, func(t *testing.T) { run(t, buildOpts{}) })
		if tc.nixStep {
			// BuildKit before v0.16 (Docker Engine 26) cannot read a file
			// of a container: the frontend cats it in one.
			t.Run(tc.name+", no container ReadFile", func(t *testing.T) {
				run(t, buildOpts{hideCaps: []apicaps.CapID{gwpb.CapGatewayExecFilesystem}})
			})
		}
	}
}

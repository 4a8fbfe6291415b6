package nixfile2llb_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/frontend/nixfile"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
)

// injection is issue 13's Nix code in a NIX_PATH name: spliced into <...>,
// nix ran it.
const injection = `1;__lessThan=(_:_:throw("INJ"+"ECTED-RAN"));#`

// Values that would reach the generated Nix other than as what they name
// are errors at their line, whether written in the Nixfile or given as
// build args: nothing of them reaches the nix stage.
func TestHostileValuesAreLocatedErrors(t *testing.T) {
	tests := []struct {
		name      string
		nixfile   string
		buildArgs map[string]string
		wantLine  int
		wantMsg   string
	}{
		{
			name:      "NIX_PATH name from a build arg",
			nixfile:   "ARG SET\nNIXPKGS <$SET>\nPACKAGES hello\n",
			buildArgs: map[string]string{"SET": injection},
			wantLine:  2,
			wantMsg:   "invalid NIX_PATH entry",
		},
		{
			name:      "a flake reference that is a NIX_PATH name",
			nixfile:   "ARG REF=github:NixOS/nixpkgs\nNIXPKGS $REF\nPACKAGES hello\n",
			buildArgs: map[string]string{"REF": "<" + injection + ">"},
			wantLine:  2,
			wantMsg:   "invalid NIX_PATH entry",
		},
		{
			name:      "a NIX_PATH name that leaves its entry, from a build arg",
			nixfile:   "ARG SET=nixpkgs\nNIXPKGS <$SET>\nPACKAGES hello\n",
			buildArgs: map[string]string{"SET": "nixpkgs/../../run/secrets/netrc"},
			wantLine:  2,
			wantMsg:   ".. would leave the entry",
		},
		{
			name:      "a package set read from the nix stage's files, from a build arg",
			nixfile:   "ARG REF=github:NixOS/nixpkgs\nNIXPKGS $REF\nPACKAGES hello\n",
			buildArgs: map[string]string{"REF": "git+file:///run/secrets"},
			wantLine:  2,
			wantMsg:   "reads files of the nix stage's container",
		},
		{
			name:      "a file URL as the package set, from a build arg",
			nixfile:   "ARG REF=github:NixOS/nixpkgs\nNIXPKGS $REF\nPACKAGES hello\n",
			buildArgs: map[string]string{"REF": "file:///run/secrets/netrc"},
			wantLine:  2,
			wantMsg:   "reads files of the nix stage's container",
		},
		{
			name:      "a FLAKE read from the nix stage's files, from a build arg",
			nixfile:   "ARG REF\nPACKAGES hello\nFLAKE $REF#x\n",
			buildArgs: map[string]string{"REF": "tarball+file:///run/secrets/x.tar.gz"},
			wantLine:  3,
			wantMsg:   "reads files of the nix stage's container",
		},
		{
			name:     "a FLAKE read from the nix stage's files, written in the Nixfile",
			nixfile:  "FLAKE git+file:/etc#x\n",
			wantLine: 1,
			wantMsg:  "reads files of the nix stage's container",
		},
		{
			name:     "NIX_PATH name written in the Nixfile",
			nixfile:  "NIXPKGS <a;b>\nPACKAGES hello\n",
			wantLine: 1,
			wantMsg:  "invalid NIX_PATH entry",
		},
		{
			name:      "a flake reference with a quote",
			nixfile:   "ARG REF\nNIXPKGS $REF\nPACKAGES hello\n",
			buildArgs: map[string]string{"REF": `github:a/b";x=throw"y`},
			wantLine:  2,
			wantMsg:   "not allowed in a flake reference",
		},
		{
			name:      "a FLAKE reference with a quote",
			nixfile:   "ARG REF\nFLAKE $REF#hello\n",
			buildArgs: map[string]string{"REF": `github:a/b"${throw"x"}`},
			wantLine:  2,
			wantMsg:   "not allowed in a flake reference",
		},
		{
			name:      "a FLAKE reference with a newline",
			nixfile:   "ARG REF\nFLAKE \"${REF}#hello\"\n",
			buildArgs: map[string]string{"REF": "github:a/b\nc"},
			wantLine:  2,
			wantMsg:   "control characters",
		},
		{
			name:     "a tarball URL with a quote",
			nixfile:  "NIXPKGS 'https://example.com/a\"b.tar.gz'\nPACKAGES hello\n",
			wantLine: 1,
			wantMsg:  "not allowed in a flake reference or URL",
		},
		{
			name:      "a sha256 that is not a hash",
			nixfile:   "ARG H\nNIXPKGS https://example.com/a.tar.gz sha256:$H\nPACKAGES hello\n",
			buildArgs: map[string]string{"H": `abc";x=1;y="`},
			wantLine:  2,
			wantMsg:   "invalid sha256",
		},
		{
			name:      "a NUL in an attribute name",
			nixfile:   "ARG A\nPACKAGES hello$A\n",
			buildArgs: map[string]string{"A": "\x00evil"},
			wantLine:  2,
			wantMsg:   "NUL",
		},
		{
			name:      "a NUL in a BUILD attribute",
			nixfile:   "ARG A\nBUILD app.nix x$A\n",
			buildArgs: map[string]string{"A": "\x00"},
			wantLine:  2,
			wantMsg:   "NUL",
		},
		{
			name:      "a NUL in a flake fragment",
			nixfile:   "ARG A\nFLAKE .#app$A\n",
			buildArgs: map[string]string{"A": "\x00"},
			wantLine:  2,
			wantMsg:   "NUL",
		},
		{
			name:      "a NUL in a BUILD file name",
			nixfile:   "ARG A\nBUILD app$A.nix\n",
			buildArgs: map[string]string{"A": "\x00"},
			wantLine:  2,
			wantMsg:   "NUL",
		},
		{
			name:      "a NUL in a local flake",
			nixfile:   "ARG A\nFLAKE ./a$A#x\n",
			buildArgs: map[string]string{"A": "\x00"},
			wantLine:  2,
			wantMsg:   "NUL",
		},
		{
			name:      "a NUL in a COPY source",
			nixfile:   "ARG A\nCOPY a$A /a\n",
			buildArgs: map[string]string{"A": "\x00"},
			wantLine:  2,
			wantMsg:   "NUL",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkPlanError(t, tt.nixfile, tt.buildArgs, tt.wantLine, tt.wantMsg)
		})
	}
}

// The values that look odd but are what they say still work.
func TestOddButValidValues(t *testing.T) {
	tests := []struct {
		name    string
		nixfile string
	}{
		{name: "a NIX_PATH name with a path", nixfile: "NIXPKGS <nixpkgs/pkgs>\nPACKAGES hello\n"},
		{name: "a NIX_PATH name with every allowed character", nixfile: "NIXPKGS <a.b_c-d+e>\nPACKAGES hello\n"},
		{name: "a flake with a query", nixfile: "FLAKE git+https://example.com/r.git?ref=main&dir=x#app\n"},
		{name: "a tarball with an SRI hash", nixfile: "NIXPKGS https://example.com/a.tar.gz sha256:sha256-AAAA+/0=\nPACKAGES hello\n"},
		{name: "a quoted attribute with odd characters", nixfile: "PACKAGES 'a.\"b ${c} \\\"d\"'\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := newPlan(t, tt.nixfile, nixfile2llb.ConvertOpt{})
			if plan.Stage == nil {
				t.Fatal("no nix stage")
			}
		})
	}
}

// checkPlanError checks that NewPlan fails at wantLine with an error that
// contains wantMsg.
func checkPlanError(t *testing.T, src string, buildArgs map[string]string, wantLine int, wantMsg string) {
	t.Helper()
	plan, err := nixfile2llb.NewPlan(context.Background(), parse(t, src), nixfile2llb.ConvertOpt{BuildArgs: buildArgs})
	if err == nil {
		t.Fatalf("NewPlan succeeded (stage %v), want an error containing %q", plan.Stage != nil, wantMsg)
	}
	var le *nixfile.LocationError
	if !errors.As(err, &le) || le.Range.Start.Line != wantLine {
		t.Fatalf("error %v is not located at line %d", err, wantLine)
	}
	if !strings.Contains(err.Error(), wantMsg) {
		t.Errorf("error %q does not contain %q", err, wantMsg)
	}
}

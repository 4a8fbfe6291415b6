package nixfile2llb_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/frontend/nixfile2llb"
)

// NIXCONFIG lines, then the NIX_CONFIG build arg, reach the nix step as
// nix.conf lines in NIXFILE_NIX_CONFIG, expanded; without any the step has
// no such variable (so its cache key is as before).
func TestNixSettingsReachTheNixStep(t *testing.T) {
	tests := []struct {
		name    string
		nixfile string
		arg     string
		want    string
	}{
		{
			name:    "none",
			nixfile: "PACKAGES hello\n",
		},
		{
			name:    "NIXCONFIG lines expanded, in order",
			nixfile: "ARG CACHE=http://127.0.0.1:1/c\nNIXCONFIG extra-substituters = $CACHE\nNIXCONFIG extra-trusted-public-keys = c-1:AAAA=\nPACKAGES hello\n",
			want:    "extra-substituters = http://127.0.0.1:1/c\nextra-trusted-public-keys = c-1:AAAA=\n",
		},
		{
			name:    "the build arg after the Nixfile's",
			nixfile: "NIXCONFIG fallback = true\nPACKAGES hello\n",
			arg:     "# a comment\nnarinfo-cache-negative-ttl = 0\n\nsubstituters = http://127.0.0.1:1/c",
			want:    "fallback = true\nnarinfo-cache-negative-ttl = 0\nsubstituters = http://127.0.0.1:1/c\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opt := nixfile2llb.ConvertOpt{}
			if tc.arg != "" {
				opt.BuildArgs = map[string]string{nixfile2llb.NixConfigArg: tc.arg}
			}
			plan := newPlan(t, tc.nixfile, opt)
			g := marshal(t, plan.Stage.Meta)
			chain := g.execChain(t, g.out)
			got, ok := envValue(chain[0].exec().Meta.Env, "NIXFILE_NIX_CONFIG")
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("NIXFILE_NIX_CONFIG = %q (set: %t), want %q", got, ok, tc.want)
			}
		})
	}
}

// A refused setting in the build arg fails the conversion, naming the arg.
func TestNixConfigArgRefused(t *testing.T) {
	f := parse(t, "PACKAGES hello\n")
	_, err := nixfile2llb.NewPlan(context.Background(), f, nixfile2llb.ConvertOpt{
		BuildArgs: map[string]string{nixfile2llb.NixConfigArg: "extra-substituters = http://x\nrequire-sigs = false\n"},
	})
	if err == nil || !strings.Contains(err.Error(), "build arg NIX_CONFIG: nix setting require-sigs is refused: it turns off signature checks") {
		t.Fatalf("err = %v, want require-sigs refused for the build arg", err)
	}
}

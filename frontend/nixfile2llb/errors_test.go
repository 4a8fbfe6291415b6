package nixfile2llb_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/moby/buildkit/solver/pb"
	"github.com/nixfile/nixfile/frontend/nixfile"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Bad input fails in NewPlan, or in Assemble for what depends on the
// closure, with a *nixfile.LocationError at the instruction's first line.
func TestConvertErrors(t *testing.T) {
	tests := []struct {
		name    string
		nixfile string
		opt     nixfile2llb.ConvertOpt
		// inAssemble is whether NewPlan succeeds and Assemble fails.
		inAssemble bool
		wantLine   int
		wantEnd    int // the instruction's last line; 0 is wantLine
		wantMsg    string
	}{
		{
			name:     "a second NIXPKGS",
			nixfile:  "NIXPKGS <nixpkgs>\nPACKAGES hello\nNIXPKGS github:NixOS/nixpkgs/0123abcd\n",
			wantLine: 3,
			wantMsg:  "already given on line 1",
		},
		{
			name:     "NIXCONFIG sandbox is refused",
			nixfile:  "PACKAGES hello\nNIXCONFIG sandbox = true\n",
			wantLine: 2,
			wantMsg:  "NIXCONFIG: nix setting sandbox is refused: it changes how builds are isolated",
		},
		{
			name:     "NIXCONFIG post-build-hook is refused",
			nixfile:  "ARG HOOK=/bin/upload\nNIXCONFIG post-build-hook = $HOOK\nPACKAGES hello\n",
			wantLine: 2,
			wantMsg:  "post-build-hook is refused: it runs a program",
		},
		{
			name:     "NIXCONFIG netrc-file says to use the secret",
			nixfile:  "NIXCONFIG netrc-file = /etc/netrc\n",
			wantLine: 1,
			wantMsg:  "use --secret id=netrc",
		},
		{
			name:     "NIXCONFIG of an unknown setting lists the allowed ones",
			nixfile:  "PACKAGES hello\n\nNIXCONFIG builders-xyz = a\n",
			wantLine: 3,
			wantMsg:  "not one nixfile passes to nix; allowed are",
		},
		{
			name:     "BUILD outside the context",
			nixfile:  "PACKAGES hello\n\nBUILD ../x.nix\n",
			wantLine: 3,
			wantMsg:  "outside the build context",
		},
		{
			name:     "BUILD outside the context after expansion",
			nixfile:  "ARG DIR=..\nBUILD $DIR/x.nix\n",
			wantLine: 2,
			wantMsg:  "outside the build context",
		},
		{
			name:     "BUILD of an absolute path",
			nixfile:  "BUILD /etc/x.nix\n",
			wantLine: 1,
			wantMsg:  "absolute path",
		},
		{
			name:     "EXPOSE out of range",
			nixfile:  "PACKAGES hello\nEXPOSE 80 99999\n",
			wantLine: 2,
			wantMsg:  "out of range",
		},
		{
			name:     "EXPOSE a range that ends below its start",
			nixfile:  "EXPOSE 80\nEXPOSE 8010-8000\n",
			wantLine: 2,
			wantMsg:  `invalid port range "8010-8000": 8000 is below 8010`,
		},
		{
			name:     "EXPOSE of too many ranges",
			nixfile:  "PACKAGES hello\nEXPOSE 1-65535 1-65535/udp\nEXPOSE 1-65535/sctp 1-65535 1-65535\n",
			wantLine: 3,
			wantMsg:  "more than 262144 ports declared in all",
		},
		{
			name:     "EXPOSE a range past 65535",
			nixfile:  "EXPOSE 65530-65536/udp\n",
			wantLine: 1,
			wantMsg:  "out of range 1-65535",
		},
		{
			name:     "STOPSIGNAL bogus",
			nixfile:  "# a comment\nSTOPSIGNAL bogus\n",
			wantLine: 2,
			wantMsg:  "invalid signal",
		},
		{
			name:     "a continued line is located at its first line",
			nixfile:  "PACKAGES hello\nEXPOSE 80 \\\n  99999\n",
			wantLine: 2,
			wantEnd:  3,
			wantMsg:  "out of range",
		},
		{
			name:     "FLAKE outside the context",
			nixfile:  "FLAKE ../x#y\n",
			wantLine: 1,
			wantMsg:  "outside the build context",
		},
		{
			name:     "NIXPKGS path: outside the context",
			nixfile:  "PACKAGES hello\nNIXPKGS path:./a/../..\n",
			wantLine: 2,
			wantMsg:  "outside the build context",
		},
		{
			name:     "LAYERS out of range",
			nixfile:  "PACKAGES hello\nLAYERS 0\n",
			wantLine: 2,
			wantMsg:  "layer budget",
		},
		{
			name:     "NIXPKGS that is not a source",
			nixfile:  "PACKAGES hello\nNIXPKGS ./a ./b\n",
			wantLine: 2,
			wantMsg:  "NIXPKGS",
		},
		{
			name:     "COPY from outside the context",
			nixfile:  "COPY ../secrets /secrets\n",
			wantLine: 1,
			wantMsg:  "outside the build context",
		},
		{
			name:     "COPY --exclude that is not a pattern",
			nixfile:  "PACKAGES hello\nCOPY --exclude=[a a /a\n",
			wantLine: 2,
			wantMsg:  "invalid --exclude=[a",
		},
		{
			name:     "COPY --exclude on a BuildKit whose copies take no patterns",
			nixfile:  "COPY --exclude=*.md . /a\n",
			opt:      nixfile2llb.ConvertOpt{LLBCaps: capsWithout(pb.CapFileCopyIncludeExcludePatterns)},
			wantLine: 1,
			wantMsg:  "--exclude needs a BuildKit whose copies take exclude patterns",
		},
		{
			name:     "COPY --chmod that is not octal",
			nixfile:  "COPY --chmod=999 a /a\n",
			wantLine: 1,
			wantMsg:  "--chmod",
		},
		{
			name:     "VOLUME relative",
			nixfile:  "VOLUME data\n",
			wantLine: 1,
			wantMsg:  "absolute",
		},
		{
			name:     "PACKAGES with an invalid attribute path",
			nixfile:  "PACKAGES hello\nPACKAGES a..b\n",
			wantLine: 2,
			wantMsg:  "empty name",
		},
		{
			name:     "an expansion error",
			nixfile:  "ARG V\nLABEL v=\"${V:?V is required}\"\n",
			wantLine: 2,
			wantMsg:  "V is required",
		},
		{
			// $PATH is the image's PATH, known only with the closure; the
			// plan expands with the usual directories in its place, so an
			// error it causes is found early, at its line.
			name:     "an error that needs the closure's PATH",
			nixfile:  "PACKAGES hello\nEXPOSE $PATH\n",
			wantLine: 2,
			wantMsg:  "invalid port",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parse(t, tt.nixfile)
			plan, err := nixfile2llb.NewPlan(context.Background(), f, tt.opt)
			if err == nil {
				if !tt.inAssemble {
					t.Fatalf("NewPlan succeeded, want an error containing %q", tt.wantMsg)
				}
				closure := closureOf(t, []string{"hello-2.12.1"}, nil, []string{"hello-2.12.1"})
				if plan.Stage == nil {
					closure = nil
				}
				_, err = plan.Assemble(closure)
				if err == nil {
					t.Fatalf("Assemble succeeded, want an error containing %q", tt.wantMsg)
				}
			} else if tt.inAssemble {
				t.Fatalf("NewPlan: %v; want it to succeed and Assemble to fail", err)
			}
			var le *nixfile.LocationError
			if !errors.As(err, &le) {
				t.Fatalf("error %v (%T) is not a *nixfile.LocationError", err, err)
			}
			wantEnd := tt.wantEnd
			if wantEnd == 0 {
				wantEnd = tt.wantLine
			}
			if le.Range.Start.Line != tt.wantLine || le.Range.End.Line != wantEnd {
				t.Errorf("error at lines %d-%d, want %d-%d: %v", le.Range.Start.Line, le.Range.End.Line, tt.wantLine, wantEnd, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
		})
	}
}

// An unsupported target platform is an error that names the nix system it
// would be.
func TestUnsupportedPlatform(t *testing.T) {
	tests := []struct {
		name     string
		platform ocispecs.Platform
		nixfile  string
		want     []string
	}{
		{
			name:     "riscv64",
			platform: ocispecs.Platform{OS: "linux", Architecture: "riscv64"},
			nixfile:  "PACKAGES hello\n",
			want:     []string{"riscv64-linux", "linux/riscv64", "not supported"},
		},
		{
			name:     "riscv64 without packages",
			platform: ocispecs.Platform{OS: "linux", Architecture: "riscv64"},
			nixfile:  "COPY a /a\n",
			want:     []string{"riscv64-linux"},
		},
		{
			name:     "darwin",
			platform: ocispecs.Platform{OS: "darwin", Architecture: "arm64"},
			nixfile:  "PACKAGES hello\n",
			want:     []string{"aarch64-darwin"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.platform
			_, err := nixfile2llb.NewPlan(context.Background(), parse(t, tt.nixfile), nixfile2llb.ConvertOpt{TargetPlatform: &p})
			if err == nil {
				t.Fatal("NewPlan succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// Assemble without a closure when the nix stage ran is the caller's error,
// reported, not a panic.
func TestAssembleWithoutClosure(t *testing.T) {
	plan := newPlan(t, "PACKAGES hello\n", nixfile2llb.ConvertOpt{})
	if _, err := plan.Assemble(nil); err == nil {
		t.Error("Assemble(nil) succeeded for a plan with a nix stage, want an error")
	}
}

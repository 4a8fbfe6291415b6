package nixllb

import (
	"strings"
	"testing"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestSystem(t *testing.T) {
	tests := []struct {
		name     string
		platform ocispecs.Platform
		want     string
	}{
		{name: "linux/amd64", platform: ocispecs.Platform{OS: "linux", Architecture: "amd64"}, want: "x86_64-linux"},
		{name: "linux/arm64", platform: ocispecs.Platform{OS: "linux", Architecture: "arm64"}, want: "aarch64-linux"},
		{name: "linux/arm64/v8", platform: ocispecs.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, want: "aarch64-linux"},
		{name: "linux/amd64/v3", platform: ocispecs.Platform{OS: "linux", Architecture: "amd64", Variant: "v3"}, want: "x86_64-linux"},
		{name: "x86_64 normalised", platform: ocispecs.Platform{OS: "linux", Architecture: "x86_64"}, want: "x86_64-linux"},
		{name: "aarch64 normalised", platform: ocispecs.Platform{OS: "linux", Architecture: "aarch64"}, want: "aarch64-linux"},
		{name: "upper case OS normalised", platform: ocispecs.Platform{OS: "Linux", Architecture: "amd64"}, want: "x86_64-linux"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := System(tt.platform)
			if err != nil {
				t.Fatalf("System(%+v): %v", tt.platform, err)
			}
			if got != tt.want {
				t.Errorf("System(%+v) = %q, want %q", tt.platform, got, tt.want)
			}
		})
	}
}

func TestSystemUnsupported(t *testing.T) {
	tests := []struct {
		name     string
		platform ocispecs.Platform
		wantSys  string // the nix system the error names
	}{
		{name: "linux/riscv64", platform: ocispecs.Platform{OS: "linux", Architecture: "riscv64"}, wantSys: "riscv64-linux"},
		{name: "linux/386", platform: ocispecs.Platform{OS: "linux", Architecture: "386"}, wantSys: "i686-linux"},
		{name: "linux/arm/v7", platform: ocispecs.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, wantSys: "armv7l-linux"},
		{name: "linux/arm/v6", platform: ocispecs.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, wantSys: "armv6l-linux"},
		{name: "linux/ppc64le", platform: ocispecs.Platform{OS: "linux", Architecture: "ppc64le"}, wantSys: "powerpc64le-linux"},
		{name: "linux/s390x", platform: ocispecs.Platform{OS: "linux", Architecture: "s390x"}, wantSys: "s390x-linux"},
		{name: "darwin/arm64", platform: ocispecs.Platform{OS: "darwin", Architecture: "arm64"}, wantSys: "aarch64-darwin"},
		{name: "windows/amd64", platform: ocispecs.Platform{OS: "windows", Architecture: "amd64"}, wantSys: "x86_64-windows"},
		{name: "linux/mips64", platform: ocispecs.Platform{OS: "linux", Architecture: "mips64"}, wantSys: "mips64-linux"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := System(tt.platform)
			if err == nil {
				t.Fatalf("System(%+v) = %q, want an error", tt.platform, got)
			}
			if got != "" {
				t.Errorf("System(%+v) returned %q with its error", tt.platform, got)
			}
			msg := err.Error()
			for _, want := range []string{"(nix system " + tt.wantSys + ")", "not supported", "linux/amd64, linux/arm64"} {
				if !strings.Contains(msg, want) {
					t.Errorf("System(%+v) error %q does not contain %q", tt.platform, msg, want)
				}
			}
		})
	}
}

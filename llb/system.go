package nixllb

import (
	"fmt"

	"github.com/containerd/platforms"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// systems maps OCI platforms to the nix systems the frontend builds for.
var systems = map[string]string{
	"linux/amd64": "x86_64-linux",
	"linux/arm64": "aarch64-linux",
}

// System returns the nix system for a platform, or an error naming the nix
// system it would be when that one is not supported.
func System(p ocispecs.Platform) (string, error) {
	p = platforms.Normalize(p)
	key := p.OS + "/" + p.Architecture
	if s, ok := systems[key]; ok {
		return s, nil
	}
	return "", fmt.Errorf("platform %s (nix system %s) is not supported; supported: linux/amd64, linux/arm64",
		platforms.Format(p), nixSystemName(p))
}

func nixSystemName(p ocispecs.Platform) string {
	arch := map[string]string{
		"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "arm": "armv7l",
		"riscv64": "riscv64", "ppc64le": "powerpc64le", "s390x": "s390x",
	}[p.Architecture]
	if arch == "" {
		arch = p.Architecture
	}
	if p.Architecture == "arm" && p.Variant == "v6" {
		arch = "armv6l"
	}
	os := p.OS
	if os == "darwin" {
		return arch + "-darwin"
	}
	return arch + "-" + os
}

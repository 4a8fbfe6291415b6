package main

import (
	"os"
	"strings"
	"testing"
)

// requiredVersion is the version go.mod's text requires of module.
func requiredVersion(t *testing.T, gomod, module string) string {
	t.Helper()
	dt, err := os.ReadFile(gomod)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(dt)) {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(fields) >= 2 && fields[0] == module {
			return fields[1]
		}
	}
	t.Fatalf("%s does not require %s", gomod, module)
	return ""
}

// The Dockerfile frontend the benchmark compares against is built at the
// BuildKit version nixfile builds with: its module is separate (its
// dependencies are not nixfile's), so the two go.mod files must agree.
func TestDockerfileFrontendVersion(t *testing.T) {
	const buildkit = "github.com/moby/buildkit"
	want := requiredVersion(t, "../../go.mod", buildkit)
	if got := requiredVersion(t, "dockerfilefrontend/go.mod", buildkit); got != want {
		t.Errorf("hack/benchmarks/dockerfilefrontend builds BuildKit %s, nixfile %s: run go get %s@%s there", got, want, buildkit, want)
	}
}

package builder

import (
	"reflect"
	"testing"

	"github.com/moby/buildkit/frontend/gateway/client"
	nixllb "github.com/nixfile/nixfile/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// MetaForeign's "INDEX DRV" lines give each derivation once and each group
// once, sorted; anything else on a line is skipped.
func TestForeignDerivations(t *testing.T) {
	a := "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-a.drv"
	b := "/nix/store/1123456789abcdfghijklmnpqrsvwxyz-b.drv"
	f := failedStage{nixllb.MetaForeign: "2 " + b + "\n0 " + b + "\n0 " + a + "\nx " + a + "\n1 not-a-path\n\n"}
	drvs, groups := f.foreignDerivations()
	if want := []string{a, b}; !reflect.DeepEqual(drvs, want) {
		t.Errorf("derivations %v, want %v", drvs, want)
	}
	if want := []int{0, 2}; !reflect.DeepEqual(groups, want) {
		t.Errorf("groups %v, want %v", groups, want)
	}
	if drvs, groups := (failedStage(nil)).foreignDerivations(); drvs != nil || groups != nil {
		t.Errorf("no stage: %v %v", drvs, groups)
	}
}

// A worker runs a platform it lists (BuildKit lists the ones its emulators
// give too), and no other: amd64 does not run arm64, nor arm64 amd64.
func TestWorkerRuns(t *testing.T) {
	amd := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	arm := ocispecs.Platform{OS: "linux", Architecture: "arm64"}
	amdOnly := []client.WorkerInfo{{Platforms: []ocispecs.Platform{amd, {OS: "linux", Architecture: "amd64", Variant: "v2"}}}}
	both := []client.WorkerInfo{{Platforms: []ocispecs.Platform{amd, arm, {OS: "linux", Architecture: "386"}}}}
	for _, tt := range []struct {
		workers []client.WorkerInfo
		p       ocispecs.Platform
		want    bool
	}{
		{amdOnly, amd, true}, {amdOnly, arm, false}, {both, arm, true}, {nil, amd, false},
		{[]client.WorkerInfo{{Platforms: []ocispecs.Platform{arm}}}, amd, false},
	} {
		if got := workerRuns(tt.workers, tt.p); got != tt.want {
			t.Errorf("workerRuns(%v, %v) = %v, want %v", tt.workers, tt.p, got, tt.want)
		}
	}
}

package nixllb

import (
	"context"
	"slices"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// The build step names its store in its environment: BuildKit does not key
// a step by its cache mounts' ids, and a build on another store
// (NIXFILE_STORE) must run there, not take this store's result.
func TestBuildStepKeyedByStore(t *testing.T) {
	buildStep := func(storeID string) (digest.Digest, *pb.ExecOp) {
		t.Helper()
		def, err := NewStage(StageSpec{
			Image:        llb.Image("docker.io/nixos/nix:2.28.3"),
			System:       "x86_64-linux",
			StoreCacheID: storeID,
			Groups:       []StageGroup{{Group: Group{Installables: []Installable{attrHello}}}},
		}).Meta.Marshal(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, dt := range def.Def {
			var op pb.Op
			if err := op.UnmarshalVT(dt); err != nil {
				t.Fatal(err)
			}
			if e := op.GetExec(); e != nil && len(e.Meta.Args) > 1 && e.Meta.Args[1] == exprMount+"/build.sh" {
				return digest.FromBytes(dt), e
			}
		}
		t.Fatal("no build step")
		return "", nil
	}
	one := StoreCacheID("docker.io/nixos/nix:2.28.3@sha256:0", "linux/amd64")
	d, e := buildStep(one)
	if !slices.Contains(e.Meta.Env, "NIXFILE_STORE_ID="+one) {
		t.Errorf("the build step's environment %q does not name its store", e.Meta.Env)
	}
	if d2, _ := buildStep(StoreCacheID("docker.io/nixos/nix:2.28.3@sha256:0\x00mine", "linux/amd64")); d2 == d {
		t.Errorf("the build step is the same op on another store")
	}
}

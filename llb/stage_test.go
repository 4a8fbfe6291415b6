package nixllb

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/nixfile/nixfile/internal/llbtest"
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
		for _, op := range llbtest.Ops(t, def) {
			if e := op.GetExec(); e != nil && len(e.Meta.Args) > 1 && e.Meta.Args[1] == exprMount+"/build.sh" {
				return op.Digest, e
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

// With an archiver, the build step mounts its image read-only and names
// the binary in its environment, and the stage says its closure holds
// archives.
func TestBuildStepMountsTheArchiver(t *testing.T) {
	for _, archiver := range []*Archiver{nil, {Image: llb.Image("localhost:5000/nixfile:dev"), Path: "/frontend"}} {
		stage := NewStage(StageSpec{
			Image:    llb.Image("docker.io/nixos/nix:2.28.3"),
			System:   "x86_64-linux",
			Groups:   []StageGroup{{Group: Group{Installables: []Installable{attrHello}}}},
			Archiver: archiver,
		})
		if stage.Archives != (archiver != nil) {
			t.Errorf("archiver %v: Archives = %t", archiver, stage.Archives)
		}
		def, err := stage.Closure.Marshal(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var step *pb.ExecOp
		var archiverImage string
		for _, op := range llbtest.Ops(t, def) {
			if e := op.GetExec(); e != nil {
				step = e
			}
			if src := op.GetSource(); src != nil && strings.Contains(src.Identifier, "nixfile:dev") {
				archiverImage = src.Identifier
			}
		}
		if step == nil {
			t.Fatal("no build step")
		}
		var mounted bool
		for _, m := range step.Mounts {
			if m.Dest == archiverMount {
				mounted = m.Readonly && m.Input >= 0
			}
		}
		hasEnv := slices.Contains(step.Meta.Env, "NIXFILE_ARCHIVER="+archiverMount+"/frontend")
		if want := archiver != nil; mounted != want || hasEnv != want || (archiverImage != "") != want {
			t.Errorf("archiver %v: mounted read-only %t, in the environment %t, image %q", archiver, mounted, hasEnv, archiverImage)
		}
	}
}

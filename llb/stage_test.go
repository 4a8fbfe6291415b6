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

// helloStage is the spec of a stage that builds hello on the official
// image, for the tests to add to.
func helloStage() StageSpec {
	return StageSpec{
		Image:  llb.Image("docker.io/nixos/nix:2.28.3"),
		System: "x86_64-linux",
		Groups: []StageGroup{{Group: Group{Installables: []Installable{attrHello}}}},
	}
}

// The build step names its store in its environment: BuildKit does not key
// a step by its cache mounts' ids, and a build on another store
// (NIXFILE_STORE) must run there, not take this store's result.
func TestBuildStepKeyedByStore(t *testing.T) {
	buildStep := func(storeID string) (digest.Digest, *pb.ExecOp) {
		t.Helper()
		spec := helloStage()
		spec.StoreCacheID = storeID
		def, err := NewStage(spec).Meta.Marshal(context.Background())
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
		spec := helloStage()
		spec.Archiver = archiver
		stage := NewStage(spec)
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

// The nix steps get the client's credentials when it gives them, and run
// without them when it does not: each build secret and the SSH agent are
// optional mounts, never inputs (no layer, no cache key holds them).
func TestNixStepsMountCredentialsOptionally(t *testing.T) {
	spec := helloStage()
	spec.StoreCacheID = StoreCacheID("docker.io/nixos/nix:2.28.3@sha256:0", "linux/amd64")
	def, err := NewStage(spec).Meta.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var steps int
	for _, op := range llbtest.Ops(t, def) {
		e := op.GetExec()
		if e == nil || len(e.Meta.Args) < 2 || !strings.HasPrefix(e.Meta.Args[1], exprMount+"/") {
			continue // the store seed, which runs no nix
		}
		steps++
		secrets := map[string]bool{}
		var agent *pb.Mount
		for _, m := range e.Mounts {
			switch m.MountType {
			case pb.MountType_SECRET:
				if m.Input != -1 || m.SecretOpt == nil || !m.SecretOpt.Optional || m.SecretOpt.Mode != 0o400 || m.Dest != secretDir+"/"+m.SecretOpt.ID {
					t.Errorf("%s: secret mount %+v, want an optional one, read-only for root, at %s/ID", e.Meta.Args[1], m, secretDir)
				}
				if m.SecretOpt != nil {
					secrets[m.SecretOpt.ID] = true
				}
			case pb.MountType_SSH:
				agent = m
			}
		}
		for _, id := range []string{SecretNetrc, SecretAccessTokens, SecretSSHKnownHosts} {
			if !secrets[id] {
				t.Errorf("%s: no mount of the secret %s", e.Meta.Args[1], id)
			}
		}
		if agent == nil || agent.Input != -1 || agent.SSHOpt == nil || agent.SSHOpt.ID != SSHAgentID || !agent.SSHOpt.Optional || agent.Dest != sshAgentSocket {
			t.Errorf("%s: SSH agent mount %+v, want the optional agent %q at %s", e.Meta.Args[1], agent, SSHAgentID, sshAgentSocket)
		}
		if !slices.Contains(e.Meta.Env, "SSH_AUTH_SOCK="+sshAgentSocket) {
			t.Errorf("%s: the environment %q does not say where the agent is", e.Meta.Args[1], e.Meta.Env)
		}
	}
	if steps == 0 {
		t.Fatal("no nix step")
	}
}

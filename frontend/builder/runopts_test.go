package builder

import (
	"context"
	"net"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	apicapspb "github.com/moby/buildkit/util/apicaps/pb"
	"github.com/nixfile/nixfile/internal/llbtest"
)

// The build's RUN settings become the nix steps' options, each only where
// the daemon has the capability for it, as BuildKit's Dockerfile frontend
// gives them to a RUN.
func TestRunOptions(t *testing.T) {
	bc := &dockerui.Client{Config: dockerui.Config{
		ExtraHosts:     []llb.HostIP{{Host: "cache.internal", IP: net.ParseIP("10.0.0.5")}},
		Ulimits:        []*pb.Ulimit{{Name: "nofile", Soft: 4096, Hard: 8192}},
		ShmSize:        64 << 20,
		CgroupParent:   "builds.slice",
		LinuxResources: &pb.LinuxResources{Memory: 1 << 30},
		Hostname:       "nixbuild",
	}}
	// execOf is the exec op of a step run with the options, and its
	// resources (step metadata, not the op's).
	execOf := func(t *testing.T, caps *apicaps.CapSet) (*pb.ExecOp, []*pb.Mount, *pb.LinuxResources) {
		t.Helper()
		st := llb.Image("nix").Run(append([]llb.RunOption{llb.Args([]string{"nix-build"})}, runOptions(bc, caps)...)...).Root()
		def, err := st.Marshal(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range llbtest.Ops(t, def) {
			if e := op.GetExec(); e != nil {
				return e, e.Mounts, def.Metadata[op.Digest].LinuxResources
			}
		}
		t.Fatal("no exec op")
		return nil, nil, nil
	}

	all := pb.Caps.CapSet(pb.Caps.All())
	e, mounts, res := execOf(t, &all)
	m := e.Meta
	if len(m.ExtraHosts) != 1 || m.ExtraHosts[0].Host != "cache.internal" || m.ExtraHosts[0].IP != "10.0.0.5" {
		t.Errorf("extra hosts %v, want cache.internal=10.0.0.5", m.ExtraHosts)
	}
	if len(m.Ulimit) != 1 || m.Ulimit[0].Name != "nofile" || m.Ulimit[0].Soft != 4096 {
		t.Errorf("ulimits %v, want nofile=4096:8192", m.Ulimit)
	}
	if m.CgroupParent != "builds.slice" || m.Hostname != "nixbuild" {
		t.Errorf("cgroup parent %q, hostname %q, want builds.slice and nixbuild", m.CgroupParent, m.Hostname)
	}
	if res == nil || res.Memory != 1<<30 {
		t.Errorf("linux resources %v, want 1 GiB of memory", res)
	}
	shm := false
	for _, mt := range mounts {
		shm = shm || (mt.Dest == "/dev/shm" && mt.MountType == pb.MountType_TMPFS && mt.TmpfsOpt.GetSize() == 64<<20)
	}
	if !shm {
		t.Errorf("no 64 MiB tmpfs at /dev/shm in %v", mounts)
	}

	// A daemon without the capabilities gets only what it can take.
	var none []*apicapspb.APICap
	for _, c := range pb.Caps.All() {
		switch apicaps.CapID(c.ID) {
		case pb.CapExecMetaUlimit, pb.CapExecMountTmpfsSize, pb.CapExecMetaCgroupParent, pb.CapExecMetaLinuxResources:
			continue
		}
		none = append(none, c)
	}
	old := pb.Caps.CapSet(none)
	e, mounts, res = execOf(t, &old)
	if m := e.Meta; len(m.Ulimit) != 0 || m.CgroupParent != "" || res != nil || len(m.ExtraHosts) != 1 || m.Hostname != "nixbuild" || len(mounts) != 1 {
		t.Errorf("without the capabilities: ulimits %v, cgroup parent %q, resources %v, extra hosts %v, hostname %q, mounts %v; want only the extra host and the hostname",
			m.Ulimit, m.CgroupParent, res, m.ExtraHosts, m.Hostname, mounts)
	}
}

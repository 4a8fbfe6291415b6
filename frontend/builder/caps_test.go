package builder

import (
	"slices"
	"strings"
	"testing"

	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	apicapspb "github.com/moby/buildkit/util/apicaps/pb"
)

func capSet(list *apicaps.CapList, without ...apicaps.CapID) *apicaps.CapSet {
	var caps []*apicapspb.APICap
	for _, c := range list.All() {
		if !slices.Contains(without, apicaps.CapID(c.ID)) {
			caps = append(caps, c)
		}
	}
	cs := list.CapSet(caps)
	return &cs
}

func TestRequireCaps(t *testing.T) {
	for _, tc := range []struct {
		name       string
		llb, gw    *apicaps.CapSet
		wantErrSub string
	}{
		{name: "the newest BuildKit", llb: capSet(&pb.Caps), gw: capSet(&gwpb.Caps)},
		{name: "no MergeOp nor symlink action: there are fallbacks", llb: capSet(&pb.Caps, pb.CapMergeOp, pb.CapFileSymlinkCreate), gw: capSet(&gwpb.Caps)},
		{name: "no cache mounts", llb: capSet(&pb.Caps, pb.CapExecMountCache), gw: capSet(&gwpb.Caps),
			wantErrSub: `lacks the LLB capability "exec.mount.cache", needed for the nix store cache`},
		{name: "no ReadFile", llb: capSet(&pb.Caps), gw: capSet(&gwpb.Caps, gwpb.CapReadFile),
			wantErrSub: `lacks the gateway capability "readfile", needed for reading the closure back`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := requireCaps(tc.llb, tc.gw)
			if tc.wantErrSub == "" {
				if err != nil {
					t.Fatalf("requireCaps: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) || !strings.Contains(err.Error(), oldestTested) {
				t.Fatalf("requireCaps: %v, want an error containing %q and naming %s", err, tc.wantErrSub, oldestTested)
			}
		})
	}
}

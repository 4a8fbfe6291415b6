package builder

import (
	"fmt"

	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
)

// requiredCap is a capability the frontend cannot do without.
type requiredCap struct {
	id  apicaps.CapID
	use string
}

// requiredLLBCaps are the LLB capabilities every build uses and that have
// no fallback. MergeOp and the symlink file action are not among them: the
// converter makes the image without them (nixllb.Caps).
var requiredLLBCaps = []requiredCap{
	{pb.CapSourceImage, "the nix image"},
	{pb.CapExecMetaBase, "the nix step"},
	{pb.CapExecMountBind, "the nix step's mounts"},
	{pb.CapExecMountSelector, "the nix step's mounts"},
	{pb.CapExecMountCache, "the nix store cache"},
	{pb.CapExecMountCacheSharing, "the nix store cache"},
	{pb.CapExecMountSecret, "secrets (netrc, nix-access-tokens, ssh_known_hosts)"},
	{pb.CapExecMountSSH, "the client's SSH agent (--ssh default)"},
	{pb.CapFileBase, "copying the closure"},
}

// requiredGatewayCaps are what the builder asks of the gateway.
var requiredGatewayCaps = []requiredCap{
	{gwpb.CapSolveBase, "solving the nix stage"},
	{gwpb.CapReadFile, "reading the closure back"},
	{gwpb.CapReturnResult, "returning the image"},
	{gwpb.CapResolveImage, "resolving the nix image"},
}

// oldestTested is the oldest BuildKit the test bed proves, inside the
// oldest Docker Engine it runs: every capability above is in it.
const oldestTested = "BuildKit v0.13 (Docker Engine 26.1)"

// requireCaps fails, naming the missing capability, when the daemon lacks
// one the build cannot do without: never a bare error from deep in a solve.
func requireCaps(llbCaps, gwCaps *apicaps.CapSet) error {
	for _, set := range []struct {
		kind string
		caps *apicaps.CapSet
		req  []requiredCap
	}{{"LLB", llbCaps, requiredLLBCaps}, {"gateway", gwCaps, requiredGatewayCaps}} {
		for _, r := range set.req {
			if err := set.caps.Supports(r.id); err != nil {
				return fmt.Errorf("this BuildKit lacks the %s capability %q, needed for %s (%v): nixfile needs %s or newer", set.kind, r.id, r.use, err, oldestTested)
			}
		}
	}
	return nil
}

package nixfile2llb

import (
	"fmt"
	"strconv"

	"github.com/moby/buildkit/client/llb"
	nixllb "github.com/nixfile/nixfile/llb"
)

// MetaStep is the nix stage's metadata step, which describes the requested
// packages for an SBOM (nixllb.NewMetaStep); nil when there is no stage.
// Only a build that asks for an SBOM solves it.
// With the build arg NIXFILE_SBOM_BUILD_CLOSURE=1 it also reports the
// build-time closure (buildClosure).
func (p *Plan) MetaStep() (st *llb.State, buildClosure bool, err error) {
	if p.Stage == nil {
		return nil, false, nil
	}
	if v := p.opt.BuildArgs[nixllb.SBOMBuildClosureArg]; v != "" {
		if buildClosure, err = strconv.ParseBool(v); err != nil {
			return nil, false, fmt.Errorf("build arg %s: %q is not 1 or 0", nixllb.SBOMBuildClosureArg, v)
		}
	}
	meta := nixllb.NewMetaStep(p.stageSpec, buildClosure)
	return &meta, buildClosure, nil
}

// GroupNames name the nix stage's groups by index, as errors do ("line 3").
func (p *Plan) GroupNames() []string {
	out := make([]string, len(p.stageSpec.Groups))
	for i, g := range p.stageSpec.Groups {
		out[i] = g.Where
	}
	return out
}

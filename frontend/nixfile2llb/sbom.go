package nixfile2llb

import (
	"github.com/moby/buildkit/client/llb"
	nixllb "github.com/nixfile/nixfile/llb"
)

// MetaStep is the nix stage's metadata step, which describes the requested
// packages for an SBOM (nixllb.NewMetaStep); nil when there is no stage.
// Only a build that asks for an SBOM solves it.
func (p *Plan) MetaStep() *llb.State {
	if p.Stage == nil {
		return nil
	}
	st := nixllb.NewMetaStep(p.stageSpec)
	return &st
}

// GroupNames name the nix stage's groups by index, as errors do ("line 3").
func (p *Plan) GroupNames() []string {
	out := make([]string, len(p.stageSpec.Groups))
	for i, g := range p.stageSpec.Groups {
		out[i] = g.Where
	}
	return out
}

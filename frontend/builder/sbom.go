package builder

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/result"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	"github.com/nixfile/nixfile/frontend/sbom"
	nixllb "github.com/nixfile/nixfile/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// sbomFile is the SBOM's name in the attestation's ref.
const sbomFile = "sbom.spdx.json"

// sboms collects each platform's SBOM attestation while the platforms
// build, for the result once they all have. nil when the build asked for
// no SBOM (--sbom, --attest type=sbom: dockerui's bc.SBOM): then nothing
// extra runs.
type sboms struct {
	mu  sync.Mutex
	byP map[string]client.Attestation
}

func newSBOMs(c client.Client, bc *dockerui.Client) (*sboms, error) {
	if bc.SBOM == nil {
		return nil, nil
	}
	caps := c.BuildOpts().Caps
	if err := caps.Supports(gwpb.CapAttestations); err != nil {
		return nil, fmt.Errorf("an SBOM was asked for, but this BuildKit cannot take attestations from a frontend: %w", err)
	}
	return &sboms{byP: map[string]client.Attestation{}}, nil
}

// platformID is how dockerui names the platform of a BuildFunc call, nil
// meaning the default.
func platformID(p *ocispecs.Platform) string {
	if p == nil {
		return platforms.FormatAll(platforms.Normalize(platforms.DefaultSpec()))
	}
	return platforms.FormatAll(platforms.Normalize(*p))
}

// add makes the SBOM of one platform's image: it runs the nix stage's
// metadata step, converts, and keeps the document in a ref of its own.
// BuildKit's own scanner then does not run: the result has an SBOM.
func (s *sboms) add(ctx context.Context, c client.Client, bc *dockerui.Client, id string, plan *nixfile2llb.Plan, closure *nixllb.Closure, out *nixfile2llb.Result) error {
	in := sbom.Input{Closure: closure, Groups: plan.GroupNames(), Platform: id, Created: out.Epoch, Rootfs: out.Rootfs}
	for _, c := range out.Copies {
		in.Copies = append(in.Copies, sbom.Copy{Instruction: c.Instruction, Line: c.Where, Sources: c.Sources, Dest: c.Dest, From: c.From})
	}
	meta, buildClosure, err := plan.MetaStep()
	if err != nil {
		return err
	}
	if meta != nil {
		ref, err := solve(ctx, c, bc, *meta, true)
		if err != nil {
			return fmt.Errorf("describing the packages for the SBOM: %w", err)
		}
		names := nixllb.MetadataFiles
		if buildClosure {
			names = append(slices.Clone(names), nixllb.MetaBuildClosure)
		}
		files, err := readFiles(ctx, ref, "the metadata step", names...)
		if err != nil {
			return err
		}
		if in.Meta, err = nixllb.ReadMetadata(files); err != nil {
			return err
		}
		if buildClosure {
			if in.BuildClosure, err = nixllb.ReadBuildClosure(files[nixllb.MetaBuildClosure]); err != nil {
				return err
			}
		}
	}
	data, err := sbom.JSON(in)
	if err != nil {
		return err
	}
	n := 0
	if closure != nil {
		n = len(closure.Paths)
	}
	st := llb.Scratch().File(llb.Mkfile(sbomFile, 0o644, data),
		llb.WithCustomName(fmt.Sprintf("[sbom] SPDX 2.3 of %s: %d store paths", id, n)))
	ref, err := solve(ctx, c, bc, st, false)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byP[id] = client.Attestation{
		Kind:     gwpb.AttestationKind_InToto,
		Ref:      ref,
		Path:     sbomFile,
		Metadata: map[string][]byte{result.AttestationReasonKey: []byte(result.AttestationReasonSBOM)},
		InToto:   result.InTotoAttestation{PredicateType: sbom.PredicateType},
	}
	return nil
}

// attach adds every platform's SBOM to the result, as an attestation of
// that platform's image.
func (s *sboms) attach(ctx context.Context, rb *dockerui.ResultBuilder) error {
	return rb.EachPlatform(ctx, func(ctx context.Context, id string, _ ocispecs.Platform) error {
		s.mu.Lock()
		att, ok := s.byP[id]
		s.mu.Unlock()
		if !ok {
			return fmt.Errorf("internal error: no SBOM for platform %s", id)
		}
		rb.AddAttestation(id, att)
		return nil
	})
}

package builder

import (
	"context"

	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/subrequests/outline"
	"github.com/moby/buildkit/frontend/subrequests/targets"
	"github.com/moby/buildkit/solver/pb"
	"github.com/nixfile/nixfile/frontend/nixfile"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
)

// subrequests answers --call outline and --call targets. A Nixfile has one
// target: the image.
func subrequests(f *nixfile.File, bc *dockerui.Client) dockerui.RequestHandler {
	return dockerui.RequestHandler{
		Outline: func(ctx context.Context) (*outline.Outline, error) {
			o := &outline.Outline{Name: "default", Description: "the image built from the Nixfile"}
			for _, in := range f.Instructions {
				a, ok := in.(*nixfile.Arg)
				if !ok {
					continue
				}
				arg := outline.Arg{Name: a.Name, Location: location(nixfile.Location(in))}
				if a.Default != nil {
					arg.Value = *a.Default
				}
				o.Args = append(o.Args, arg)
			}
			o.Args = append(o.Args, outline.Arg{
				Name:        nixfile2llb.NixImageArg,
				Description: "the nix image the nix stage runs on",
				Value:       nixfile2llb.DefaultNixImage(),
			})
			return o, nil
		},
		ListTargets: func(ctx context.Context) (*targets.List, error) {
			return &targets.List{Targets: []targets.Target{{
				Name: "default", Default: true, Description: "the image built from the Nixfile",
			}}}, nil
		},
	}
}

func location(r nixfile.Range) *pb.Location {
	return &pb.Location{Ranges: []*pb.Range{{
		Start: &pb.Position{Line: int32(r.Start.Line), Character: int32(r.Start.Character)},
		End:   &pb.Position{Line: int32(r.End.Line), Character: int32(r.End.Character)},
	}}}
}

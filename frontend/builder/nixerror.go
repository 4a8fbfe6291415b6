package builder

import (
	"context"
	"errors"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/util/grpcerrors"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	nixllb "github.com/nixfile/nixfile/llb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// NixError is a failed nix step, with the last lines nix printed.
type NixError struct {
	Message string
	Err     error
}

func (e *NixError) Error() string { return e.Message + "\n" + e.Err.Error() }
func (e *NixError) Unwrap() error { return e.Err }

// GRPCStatus keeps nix's message when the error crosses the gateway: the
// status of the wrapped error, with its details (the Nixfile source among
// them), and this error's message.
func (e *NixError) GRPCStatus() *status.Status {
	st, ok := grpcerrors.AsGRPCStatus(e.Err)
	if !ok || st == nil {
		return status.New(codes.Unknown, e.Error())
	}
	p := st.Proto()
	p.Message = e.Error()
	return status.FromProto(p)
}

// nixLogLines is how much of nix's log an error carries: enough for nix's
// own error and a build's "last n log lines".
const nixLogLines = 25

// withNixMessage adds nix's own message to the error of a failed nix step
// and, unless the step carries its line, the lines it failed at. The
// failed step's mounts come back with the error (as for `buildx debug`); the
// step kept nix's stderr and its groups in one of them.
func withNixMessage(ctx context.Context, c client.Client, err error, plan *nixfile2llb.Plan, sm *llb.SourceMap) error {
	var se *errdefs.SolveError
	if !errors.As(err, &se) || se.Solve == nil {
		return err
	}
	for _, id := range se.MountIDs {
		files := readResultFiles(ctx, c, id, nixllb.MetaLog, nixllb.MetaEvaluating, nixllb.MetaGroups)
		log := files[nixllb.MetaLog]
		if strings.TrimSpace(log) == "" {
			continue
		}
		if len(errdefs.Sources(err)) == 0 {
			lines := plan.FailureLines(files[nixllb.MetaEvaluating], []byte(files[nixllb.MetaGroups]), log)
			err = withSource(err, sm, lines...)
		}
		return &NixError{Message: lastLines(log, nixLogLines), Err: err}
	}
	return err
}

// readResultFiles reads the files of a failed step's mount that exist, in
// one container.
func readResultFiles(ctx context.Context, c client.Client, id string, names ...string) map[string]string {
	files := map[string]string{}
	ctr, err := c.NewContainer(ctx, client.NewContainerRequest{
		Mounts: []client.Mount{{Dest: "/", ResultID: id, Readonly: true}},
	})
	if err != nil {
		return files
	}
	defer ctr.Release(context.WithoutCancel(ctx))
	for _, name := range names {
		dt, err := ctr.ReadFile(ctx, client.ReadContainerRequest{ReadRequest: client.ReadRequest{Filename: "/" + name}})
		if err == nil {
			files[name] = string(dt)
		}
	}
	return files
}

// lastLines keeps the last n lines of a nix log, without nix's noise.
func lastLines(log string, n int) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimRight(log, "\n"), "\n") {
		if strings.Contains(l, "you did not specify '--add-root'") || strings.TrimSpace(l) == "" {
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, "\n")
}

package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
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

// failedStage is what a failed nix step kept: its MetaLog, MetaEvaluating,
// MetaGroups and MetaForeign, by name; nil when err is no failed step's or
// the step wrote no log.
type failedStage map[string]string

// readFailedStage reads what a failed nix step kept. The failed step's
// mounts come back with the error (as for `buildx debug`); the step kept
// nix's stderr and its groups in one of them.
func readFailedStage(ctx context.Context, c client.Client, bc *dockerui.Client, err error, plan *nixfile2llb.Plan) failedStage {
	var se *errdefs.SolveError
	if !errors.As(err, &se) || se.Solve == nil {
		return nil
	}
	read := readResultFiles
	if gwCaps := c.BuildOpts().Caps; gwCaps.Supports(gwpb.CapGatewayExecFilesystem) != nil {
		// BuildKit before v0.16 (Docker Engine 26) reads no file of a
		// container: cat it in one on the nix image instead.
		read = catResultFiles(ctx, c, bc, plan.NixImageState())
	}
	for _, id := range se.MountIDs {
		files := read(ctx, c, id, nixllb.MetaLog, nixllb.MetaEvaluating, nixllb.MetaGroups, nixllb.MetaForeign)
		if strings.TrimSpace(files[nixllb.MetaLog]) != "" {
			return files
		}
	}
	return nil
}

// withNixMessage adds nix's own message to the error of a failed nix step
// and, unless the step carries its line, the lines it failed at.
func withNixMessage(err error, failed failedStage, plan *nixfile2llb.Plan, sm *llb.SourceMap) error {
	if failed == nil {
		return err
	}
	log := failed[nixllb.MetaLog]
	if len(errdefs.Sources(err)) == 0 {
		lines := plan.FailureLines(failed[nixllb.MetaEvaluating], []byte(failed[nixllb.MetaGroups]), log)
		err = withSource(err, sm, lines...)
	}
	return &NixError{Message: lastLines(log, nixLogLines), Err: err}
}

// foreignDerivations are the derivations of the target's system that a
// failed step would have had to build, and the groups that need them, from
// its MetaForeign.
func (f failedStage) foreignDerivations() (drvs []string, groups []int) {
	seenDrv, seenGroup := map[string]bool{}, map[int]bool{}
	for _, line := range strings.Split(f[nixllb.MetaForeign], "\n") {
		idx, drv, ok := strings.Cut(strings.TrimSpace(line), " ")
		i, err := strconv.Atoi(idx)
		if !ok || err != nil || !strings.HasPrefix(drv, "/nix/store/") {
			continue
		}
		if !seenDrv[drv] {
			seenDrv[drv] = true
			drvs = append(drvs, drv)
		}
		if !seenGroup[i] {
			seenGroup[i] = true
			groups = append(groups, i)
		}
	}
	sort.Strings(drvs)
	sort.Ints(groups)
	return drvs, groups
}

// withForeignMessage is the error of a build for a foreign system that
// needs derivations of that system built here, on a daemon that cannot run
// that system: it names them, at the lines that need them, and says what
// would give them.
func withForeignMessage(err error, failed failedStage, plan *nixfile2llb.Plan, sm *llb.SourceMap) error {
	drvs, groups := failed.foreignDerivations()
	if len(errdefs.Sources(err)) == 0 {
		err = withSource(err, sm, plan.GroupLines(groups)...)
	}
	system, nixSystem := plan.System(), plan.NixSystem()
	target := platforms.Format(plan.TargetPlatform())
	var b strings.Builder
	fmt.Fprintf(&b, "nix cannot build %s for %s here: no binary cache it uses has ", strings.Join(drvs, ", "), system)
	if len(drvs) == 1 {
		b.WriteString("it")
	} else {
		b.WriteString("them")
	}
	fmt.Fprintf(&b, ", nix runs on %s (%s), and the BuildKit daemon cannot run %s. Any one of these gives it:\n", platforms.Format(plan.NixPlatform()), nixSystem, target)
	fmt.Fprintf(&b, "  - a binary cache that has it for %s: NIXCONFIG extra-substituters = URL and extra-trusted-public-keys = KEY\n", system)
	fmt.Fprintf(&b, "  - an emulator for %s on the daemon's machine (binfmt_misc with QEMU, e.g. docker run --privileged --rm tonistiigi/binfmt --install %s): the daemon then reports %s and nixfile builds it on the nix image for %s\n", target, plan.TargetPlatform().Architecture, target, target)
	fmt.Fprintf(&b, "  - a remote builder for %s: a nix image (--build-arg NIX_IMAGE=...) whose nix.conf names it in builders, with its SSH key\n", system)
	b.WriteString("nix said:\n")
	b.WriteString(lastLines(failed[nixllb.MetaLog], nixLogLines))
	return &NixError{Message: b.String(), Err: err}
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

// catResultFiles reads the files of a failed step's mount by running cat
// in a container of image with the mount: for a BuildKit whose containers
// have no ReadFile. Without an image it reads nothing.
func catResultFiles(ctx context.Context, c client.Client, bc *dockerui.Client, image *llb.State) func(context.Context, client.Client, string, ...string) map[string]string {
	none := func(context.Context, client.Client, string, ...string) map[string]string { return map[string]string{} }
	if image == nil {
		return none
	}
	ref, err := solve(ctx, c, bc, *image, false)
	if err != nil {
		return none
	}
	path, ok, _ := image.GetEnv(ctx, "PATH")
	if !ok {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/root/.nix-profile/bin:/nix/var/nix/profiles/default/bin"
	}
	const dir = "/nixfile/failed"
	return func(ctx context.Context, c client.Client, id string, names ...string) map[string]string {
		files := map[string]string{}
		ctr, err := c.NewContainer(ctx, client.NewContainerRequest{
			Mounts:  []client.Mount{{Dest: "/", Ref: ref, Readonly: true}, {Dest: dir, ResultID: id, Readonly: true}},
			NetMode: pb.NetMode_NONE,
		})
		if err != nil {
			return files
		}
		defer ctr.Release(context.WithoutCancel(ctx))
		// One process: the first a container runs is its init, and the
		// container stops with it. Each file comes as "NAME SIZE\n" then
		// its bytes.
		var out bytes.Buffer
		proc, err := ctr.Start(ctx, client.StartRequest{
			Args:   append([]string{"/bin/sh", "-c", catScript, "sh", dir}, names...),
			Env:    []string{"PATH=" + path},
			Stdout: nopWriteCloser{&out},
		})
		if err != nil || proc.Wait() != nil {
			return files
		}
		return parseCatOutput(out.Bytes())
	}
}

const catScript = `dir=$1; shift
for f; do
  if [ -f "$dir/$f" ]; then printf '%s %s\n' "$f" "$(wc -c <"$dir/$f")"; cat "$dir/$f"; fi
done
`

// parseCatOutput reads catScript's output; what it cannot read ends it.
func parseCatOutput(out []byte) map[string]string {
	files := map[string]string{}
	for len(out) > 0 {
		header, rest, ok := bytes.Cut(out, []byte("\n"))
		if !ok {
			break
		}
		name, size, ok := strings.Cut(string(header), " ")
		n, err := strconv.Atoi(strings.TrimSpace(size))
		if !ok || err != nil || n < 0 || n > len(rest) {
			break
		}
		files[name] = string(rest[:n])
		out = rest[n:]
	}
	return files
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

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

// Package builder is the only code that speaks the BuildKit gateway: it
// reads the Nixfile through dockerui, runs the two phases of the conversion
// with one solve between them, and returns the image for every platform.
package builder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	"github.com/moby/buildkit/util/grpcerrors"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/nixfile/nixfile/frontend/nixfile"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	nixllb "github.com/nixfile/nixfile/llb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc/codes"
)

// DefaultFilename is the Nixfile read when no filename option is given.
const DefaultFilename = "Nixfile"

// Build is the frontend's BuildFunc.
func Build(ctx context.Context, c client.Client) (_ *client.Result, err error) {
	c = withDefaultFilename{c}
	bc, err := dockerui.NewClient(c)
	if err != nil {
		return nil, err
	}
	// The nix image is chosen by build args alone: it loads while the
	// Nixfile is read, with the archiver, unless this is a subrequest (no
	// nix stage runs). Not the context: a client that sends none (a
	// Nixfile that reads none needs none) would see its load fail.
	archiver := sync.OnceValue(func() *nixllb.Archiver { return loadArchiver(ctx, c, bc) })
	images := newNixImages(ctx, nixImageResolver(bc, c, newWriteback(ctx, c, bc, archiver)))
	buildPlatform := buildPlatformOf(bc)
	if c.BuildOpts().Opts["requestid"] == "" && buildPlatform != nil {
		if _, err := nixllb.System(*buildPlatform); err == nil {
			go images.get(nixfile2llb.NixImageFor(bc.BuildArgs), *buildPlatform) //nolint:errcheck // the build's own call reports it
			go archiver()
		}
	}
	src, err := bc.ReadEntrypoint(ctx, "Nixfile")
	if err != nil {
		return nil, err
	}
	defer func() { err = withNixfileSource(err, src.SourceMap) }()

	f, err := nixfile.Parse(src.Data)
	if err != nil {
		// --call check reports a syntax error as its result, as it does
		// for a Dockerfile; any other request fails with it.
		res, ok, herr := bc.HandleSubrequest(ctx, dockerui.RequestHandler{
			Lint: func(context.Context) (*lint.LintResults, error) { return syntaxErrorResults(src, err), nil },
		})
		if herr != nil || ok {
			return res, herr
		}
		return nil, err
	}
	// The Nixfile is expanded once a platform: the checks and the build
	// read the same expansion.
	x := newExpansions(f, bc.BuildArgs, buildPlatform)
	if res, ok, err := bc.HandleSubrequest(ctx, subrequests(f, bc, src, x)); err != nil || ok {
		return res, err
	}
	// The context (and its .dockerignore) is loaded once, and only if the
	// Nixfile reads it: from here, while the checks run and the nix image
	// loads, when the first platform's plan reads it (a round trip to the
	// client that a no-change rebuild would otherwise wait for).
	loadContext := sync.OnceValues(func() (*llb.State, error) { return bc.MainContext(ctx) })
	if p := firstPlatform(bc, buildPlatform); p != nil && nixfile2llb.ReadsContext(f, nixfile2llb.ConvertOpt{
		BuildArgs: bc.BuildArgs, TargetPlatform: p, BuildPlatform: buildPlatform, Expanded: x.of(*p),
	}) {
		go loadContext() //nolint:errcheck // the plan's call reports it
	}
	if err := checkTarget(bc); err != nil {
		return nil, err
	}
	if err := warnChecks(ctx, f, bc, src, x); err != nil {
		return nil, err
	}

	caps, gwCaps := c.BuildOpts().LLBCaps, c.BuildOpts().Caps
	if err := requireCaps(&caps, &gwCaps); err != nil {
		return nil, err
	}
	epoch, err := sourceDateEpoch(bc.BuildArgs)
	if err != nil {
		return nil, err
	}
	sboms, err := newSBOMs(c, bc)
	if err != nil {
		return nil, err
	}

	rb, err := bc.Build(ctx, func(ctx context.Context, platform *ocispecs.Platform, idx int) (*dockerui.BuildResult, error) {
		id := platformID(platform)
		if platform == nil {
			platform = buildPlatform
		}
		opt := nixfile2llb.ConvertOpt{
			BuildArgs:      maps.Clone(bc.BuildArgs),
			TargetPlatform: platform,
			BuildPlatform:  buildPlatform,
			SourceMap:      src.SourceMap,
			LoadContext:    func(context.Context) (*llb.State, error) { return loadContext() },
			LoadFrom:       copyFromLoader(bc),
			NixImage: func(_ context.Context, ref string, p ocispecs.Platform) (nixfile2llb.ResolvedImage, error) {
				return images.get(ref, p)
			},
			Archiver:   func(context.Context) *nixllb.Archiver { return archiver() },
			Epoch:      epoch,
			NoCache:    bc.IsNoCache(""),
			LLBCaps:    &caps,
			Network:    bc.NetworkMode,
			RunOptions: runOptions(bc, &caps),
			Labels:     bc.Labels,
		}
		if platform != nil {
			opt.Expanded = x.of(*platform)
		}
		plan, err := nixfile2llb.NewPlan(ctx, f, opt)
		if err != nil {
			return nil, err
		}
		var closure *nixllb.Closure
		if plan.Stage != nil {
			if plan, closure, err = runStage(ctx, c, bc, f, opt, plan, src.SourceMap, sboms != nil); err != nil {
				return nil, err
			}
		}
		out, err := plan.Assemble(closure)
		if err != nil {
			return nil, err
		}
		ref, err := solve(ctx, c, bc, out.State, false)
		if err != nil {
			return nil, err
		}
		if sboms != nil {
			if err := sboms.add(ctx, c, bc, id, plan, closure, out); err != nil {
				return nil, err
			}
		}
		return &dockerui.BuildResult{Reference: ref, Image: out.Image, Epoch: &out.Epoch}, nil
	})
	if err != nil {
		return nil, err
	}
	if sboms != nil {
		if err := sboms.attach(ctx, rb); err != nil {
			return nil, err
		}
	}
	return rb.Finalize()
}

// loadNamedContext loads the named build context name (--build-context
// name=...) for platform p, an image resolved with resolveMode, with its
// image config if it is an image; a nil state when the build has none of
// that name.
func loadNamedContext(ctx context.Context, bc *dockerui.Client, name string, p ocispecs.Platform, resolveMode string) (*llb.State, *dockerspec.DockerOCIImage, error) {
	nc, err := bc.NamedContext(name, dockerui.ContextOpt{Platform: &p, ResolveMode: resolveMode})
	if err != nil || nc == nil {
		return nil, nil, err
	}
	return nc.Load(ctx)
}

// copyFromLoader loads what a COPY --from names, as a Dockerfile's COPY
// --from does for a name that is not a stage: the named build context of
// that name (--build-context NAME=...: a directory, an image, a git
// repository), else the image of that name.
func copyFromLoader(bc *dockerui.Client) func(context.Context, string, ocispecs.Platform) (llb.State, error) {
	return func(ctx context.Context, name string, p ocispecs.Platform) (llb.State, error) {
		st, _, err := loadNamedContext(ctx, bc, name, p, bc.ImageResolveMode.String())
		if err != nil {
			return llb.State{}, err
		}
		if st != nil {
			return *st, nil
		}
		named, err := reference.ParseNormalizedNamed(name)
		if err != nil {
			return llb.State{}, fmt.Errorf("%q is neither a named build context (--build-context %s=...) nor an image reference: %w", name, name, err)
		}
		ref := reference.TagNameOnly(named).String()
		return llb.Image(ref, llb.Platform(p), bc.ImageResolveMode, llb.WithCustomName("[internal] load "+ref+" for COPY --from")), nil
	}
}

// runOptions are what --add-host, --ulimit, --shm-size, --cgroup-parent,
// the CPU and memory limits and the sandbox's hostname give every nix
// step, as BuildKit's Dockerfile frontend gives them every RUN (each where
// the daemon can apply it): a binary cache reached by a name only
// --add-host resolves, more open files for a big build.
func runOptions(bc *dockerui.Client, caps *apicaps.CapSet) []llb.RunOption {
	var opts []llb.RunOption
	for _, h := range bc.ExtraHosts {
		opts = append(opts, llb.AddExtraHost(h.Host, h.IP))
	}
	if caps.Supports(pb.CapExecMetaUlimit) == nil {
		for _, u := range bc.Ulimits {
			opts = append(opts, llb.AddUlimit(llb.UlimitName(u.Name), u.Soft, u.Hard))
		}
	}
	if bc.ShmSize > 0 && caps.Supports(pb.CapExecMountTmpfsSize) == nil {
		opts = append(opts, llb.AddMount("/dev/shm", llb.Scratch(), llb.Tmpfs(llb.TmpfsSize(bc.ShmSize))))
	}
	if bc.CgroupParent != "" && caps.Supports(pb.CapExecMetaCgroupParent) == nil {
		opts = append(opts, llb.WithCgroupParent(bc.CgroupParent))
	}
	if r := bc.LinuxResources; r != nil && caps.Supports(pb.CapExecMetaLinuxResources) == nil {
		opts = append(opts, llb.WithLinuxResources(llb.LinuxResources{
			Memory: r.Memory, MemorySwap: r.MemorySwap, CPUShares: r.CpuShares, CPUPeriod: r.CpuPeriod,
			CPUQuota: r.CpuQuota, CpusetCpus: r.CpusetCpus, CpusetMems: r.CpusetMems,
		}))
	}
	if bc.Hostname != "" {
		opts = append(opts, llb.Hostname(bc.Hostname))
	}
	return opts
}

// firstPlatform is the platform the build's first plan is for.
func firstPlatform(bc *dockerui.Client, buildPlatform *ocispecs.Platform) *ocispecs.Platform {
	if len(bc.TargetPlatforms) > 0 {
		return &bc.TargetPlatforms[0]
	}
	return buildPlatform
}

// solve solves st; evaluate runs it now rather than when a ref is read, so
// that its error comes back here.
func solve(ctx context.Context, c client.Client, bc *dockerui.Client, st llb.State, evaluate bool) (client.Reference, error) {
	caps := c.BuildOpts().LLBCaps
	def, err := st.Marshal(ctx, llb.WithCaps(caps))
	if err != nil {
		return nil, fmt.Errorf("marshalling LLB: %w", err)
	}
	res, err := c.Solve(ctx, client.SolveRequest{Definition: def.ToPB(), CacheImports: bc.CacheImports, Evaluate: evaluate})
	if err != nil {
		return nil, err
	}
	return res.SingleRef()
}

// runStage runs the plan's nix stage and returns the closure, and the plan
// that made it; its Info only when forSBOM or when the frontend groups the
// layers itself (see readClosure). nix runs on the build platform; when it would have to build
// derivations of a foreign target system that no binary cache has, the
// stage runs again on the target platform's nix image if the daemon can
// run that platform (under emulation), else the build fails naming them.
func runStage(ctx context.Context, c client.Client, bc *dockerui.Client, f *nixfile.File, opt nixfile2llb.ConvertOpt, plan *nixfile2llb.Plan, sm *llb.SourceMap, forSBOM bool) (*nixfile2llb.Plan, *nixllb.Closure, error) {
	closure, err := readClosure(ctx, c, bc, plan.Stage, forSBOM)
	if err == nil {
		return plan, closure, nil
	}
	if errors.Is(err, nixllb.ErrEmptyClosure) {
		return nil, nil, withSource(errors.New("nothing to put in the image: these lines build no store paths"), sm, plan.GroupLines(nil)...)
	}
	if missingContext(err) {
		return nil, nil, plan.ContextError(fmt.Errorf("the client sent none (buildctl build: --local context=DIR): %w", err))
	}
	failed := readFailedStage(ctx, c, bc, err, plan)
	if drvs, _ := failed.foreignDerivations(); len(drvs) == 0 {
		return nil, nil, withNixMessage(err, failed, plan, sm)
	}
	if opt.EmulateTarget || !workerRuns(c.BuildOpts().Workers, plan.TargetPlatform()) {
		return nil, nil, withForeignMessage(err, failed, plan, sm)
	}
	opt.EmulateTarget = true
	emulated, err := nixfile2llb.NewPlan(ctx, f, opt)
	if err != nil {
		return nil, nil, err
	}
	if closure, err = readClosure(ctx, c, bc, emulated.Stage, forSBOM); err != nil {
		return nil, nil, withNixMessage(err, readFailedStage(ctx, c, bc, err, emulated), emulated, sm)
	}
	return emulated, closure, nil
}

// missingContext reports a build whose client sent no build context
// (buildctl without --local context): the session's file sync refused the
// directory.
func missingContext(err error) bool {
	return grpcerrors.Code(err) == codes.NotFound && strings.Contains(err.Error(), "no access allowed to dir")
}

// workerRuns reports whether the daemon's worker can run containers of p,
// natively or under an emulator it found (BuildKit lists both).
func workerRuns(workers []client.WorkerInfo, p ocispecs.Platform) bool {
	m := platforms.OnlyStrict(p)
	for _, w := range workers {
		for _, wp := range w.Platforms {
			if m.Match(wp) {
				return true
			}
		}
	}
	return false
}

// readClosure runs the nix stage and reads back what it reported. nix's
// path-info (sizes, references, hashes) is read only when something needs
// it: the SBOM, or the grouping into layers when the stage did not archive
// them. It is the largest file by far (730 KB for 2,000 paths), which a
// no-change rebuild would read and parse for nothing. Nor is the closure
// list read when the stage archived: the layers list the same paths.
func readClosure(ctx context.Context, c client.Client, bc *dockerui.Client, stage *nixllb.Stage, pathInfo bool) (*nixllb.Closure, error) {
	ref, err := solve(ctx, c, bc, stage.Meta, true)
	if err != nil {
		return nil, err
	}
	names := nixllb.MetaFiles
	if stage.Archives && !pathInfo {
		// 120 KB each at 2,000 paths: every KB the gateway's pipe
		// carries costs a no-change rebuild about 0.06 ms.
		names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == nixllb.MetaPathInfo || n == nixllb.MetaClosure })
	}
	files, err := readFiles(ctx, ref, "the nix stage", names...)
	if err != nil {
		return nil, err
	}
	return nixllb.ReadClosure(files)
}

// nixImageResolver loads the nix image: a named context of its name (with
// or without the tag) if the build has one, else the image itself, resolved
// with its config so that its PATH and other env apply. What identifies the
// image, for the nix store cache, is its digest.
func nixImageResolver(bc *dockerui.Client, c client.Client, wb *writeback) func(context.Context, string, ocispecs.Platform) (nixfile2llb.ResolvedImage, error) {
	return func(ctx context.Context, ref string, p ocispecs.Platform) (nixfile2llb.ResolvedImage, error) {
		named, err := reference.ParseNormalizedNamed(ref)
		if err != nil {
			return nixfile2llb.ResolvedImage{}, fmt.Errorf("invalid image reference %q: %w", ref, err)
		}
		for _, name := range []string{ref, reference.FamiliarName(named)} {
			st, img, err := loadNamedContext(ctx, bc, name, p, bc.ImageResolveMode.String())
			if err != nil {
				return nixfile2llb.ResolvedImage{}, err
			}
			if st != nil {
				id := "context:" + name
				if img != nil {
					if dt, err := json.Marshal(img); err == nil {
						id += "@" + digest.FromBytes(dt).String()
					}
				}
				return nixfile2llb.ResolvedImage{State: *st, ID: id, HasStore: wb.during(func() bool { return imageHasStore(ctx, c, bc, *st) })}, nil
			}
		}
		// Resolved once: the config (its PATH and env apply to the nix
		// steps) and the digest (the image is pinned to it, and it names
		// the store cache).
		resolved, dgst, config, err := c.ResolveImageConfig(ctx, reference.TagNameOnly(named).String(), sourceresolver.Opt{
			LogName:  "[internal] load metadata for " + ref,
			ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &p, ResolveMode: bc.ImageResolveMode.String()},
		})
		if err != nil {
			return nixfile2llb.ResolvedImage{}, err
		}
		st, err := llb.Image(resolved, llb.Platform(p), bc.ImageResolveMode,
			llb.WithCustomName("[internal] load nix image "+ref)).WithImageConfig(config)
		if err != nil {
			return nixfile2llb.ResolvedImage{}, fmt.Errorf("the config of %s: %w", ref, err)
		}
		return nixfile2llb.ResolvedImage{State: st, ID: ref + "@" + dgst.String(), HasStore: wb.during(func() bool { return imageHasStore(ctx, c, bc, st) })}, nil
	}
}

// nixImages resolves each nix image once per platform for the whole
// build: the nix stage of every target platform runs on the build
// platform's image, and the first resolve may start before the Nixfile is
// read. Resolves run in the build's context, not a platform's, so that one
// platform's failure does not fail another's resolve.
type nixImages struct {
	ctx     context.Context
	resolve func(context.Context, string, ocispecs.Platform) (nixfile2llb.ResolvedImage, error)
	mu      sync.Mutex
	byKey   map[string]func() (nixfile2llb.ResolvedImage, error)
}

func newNixImages(ctx context.Context, resolve func(context.Context, string, ocispecs.Platform) (nixfile2llb.ResolvedImage, error)) *nixImages {
	return &nixImages{ctx: ctx, resolve: resolve, byKey: map[string]func() (nixfile2llb.ResolvedImage, error){}}
}

func (n *nixImages) get(ref string, p ocispecs.Platform) (nixfile2llb.ResolvedImage, error) {
	key := ref + " " + platforms.FormatAll(p)
	n.mu.Lock()
	get, ok := n.byKey[key]
	if !ok {
		get = sync.OnceValues(func() (nixfile2llb.ResolvedImage, error) { return n.resolve(n.ctx, ref, p) })
		n.byKey[key] = get
	}
	n.mu.Unlock()
	return get()
}

// storeDB is nix's store database: an image that has it has a store that
// nix has opened.
const storeDB = "/nix/var/nix/db/db.sqlite"

// imageHasStore reports whether the image's /nix holds a nix store with its
// database, so that it can seed the store cache as it is. It loads the
// image, which the nix steps need anyway; an image it cannot read gets
// the seed step, whose error is the build's.
func imageHasStore(ctx context.Context, c client.Client, bc *dockerui.Client, st llb.State) bool {
	ref, err := solve(ctx, c, bc, st, true)
	if err != nil || ref == nil {
		return false
	}
	fi, err := ref.StatFile(ctx, client.StatRequest{Path: storeDB})
	return err == nil && fi.Mode&uint32(os.ModeType) == 0
}

func sourceDateEpoch(args map[string]string) (*time.Time, error) {
	v, ok := args["SOURCE_DATE_EPOCH"]
	if !ok || v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("invalid SOURCE_DATE_EPOCH %q: give seconds since 1970", v)
	}
	t := time.Unix(n, 0).UTC()
	return &t, nil
}

// withDefaultFilename reads Nixfile, not Dockerfile, when no filename is set.
type withDefaultFilename struct{ client.Client }

func (c withDefaultFilename) BuildOpts() client.BuildOpts {
	o := c.Client.BuildOpts()
	if o.Opts["filename"] == "" {
		o.Opts = maps.Clone(o.Opts)
		if o.Opts == nil {
			o.Opts = map[string]string{}
		}
		o.Opts["filename"] = DefaultFilename
	}
	return o
}

// withNixfileSource attaches the Nixfile lines of a LocationError, so that
// BuildKit shows the line with the message.
func withNixfileSource(err error, sm *llb.SourceMap) error {
	var le *nixfile.LocationError
	if err == nil || !errors.As(err, &le) || len(errdefs.Sources(err)) > 0 {
		return err
	}
	return withSource(err, sm, append([]nixfile.Range{le.Range}, le.Also...)...)
}

// withSource attaches Nixfile ranges to err.
func withSource(err error, sm *llb.SourceMap, ranges ...nixfile.Range) error {
	if sm == nil || len(ranges) == 0 {
		return err
	}
	src := &errdefs.Source{Info: &pb.SourceInfo{
		Data:       sm.Data,
		Filename:   sm.Filename,
		Language:   sm.Language,
		Definition: sm.Definition.ToPB(),
	}}
	src.Ranges = pbRanges(ranges...)
	return errdefs.WithSource(err, src)
}

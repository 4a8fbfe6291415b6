// Package nixfile2llb converts a parsed Nixfile to LLB and an image config.
//
// The image's shape depends on the closure, known only after nix has run, so
// conversion has two pure phases with one solve between them, which the
// builder owns: Plan gives the nix stage; Assemble takes the closure the
// stage reported and gives the final state and image config.
package nixfile2llb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/nixfile/nixfile/frontend/expand"
	"github.com/nixfile/nixfile/frontend/nixfile"
	nixllb "github.com/nixfile/nixfile/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// ResolvedImage is a nix image as ConvertOpt.NixImage resolves it.
type ResolvedImage struct {
	// State is the image, resolved with its config (its PATH and env
	// apply to the nix steps).
	State llb.State
	// ID identifies the image, for its store cache: its digest when known.
	ID string
	// HasStore says its /nix holds a nix store with its database (the
	// official image's does): it seeds the store cache as it is.
	HasStore bool
}

// ConvertOpt is what a conversion depends on besides the Nixfile. The zero
// value works: linux/amd64, no build args, the default nix image, a local
// context named "context".
type ConvertOpt struct {
	BuildArgs map[string]string
	// TargetPlatform is the image's platform; nil is linux/amd64.
	TargetPlatform *ocispecs.Platform
	// BuildPlatform is the platform the build runs on (BuildKit's build
	// platform): the nix stage runs on the nix image for it, evaluating
	// for the target's system, so that nothing runs under emulation. nil
	// is the target platform, as is a platform nix has no system for.
	BuildPlatform *ocispecs.Platform
	// EmulateTarget runs the nix stage on the nix image for the target
	// platform whatever the build platform: for a foreign derivation that
	// must be built here, on a daemon that can run the target platform.
	EmulateTarget bool
	// SourceMap marks ops with their Nixfile lines; nil in unit tests.
	SourceMap *llb.SourceMap
	// Context is the build context; nil is LoadContext's, or
	// llb.Local("context").
	Context *llb.State
	// LoadContext, when Context is nil, loads the build context: called
	// only if the Nixfile reads it (COPY, BUILD, a package set or flake of
	// the context), so that one that does not costs no context request.
	LoadContext func(context.Context) (*llb.State, error)
	// LoadFrom loads what a COPY --from names, for the target platform: a
	// named build context of that name, else that image. nil takes the
	// image without resolving it (unit tests).
	LoadFrom func(ctx context.Context, name string, p ocispecs.Platform) (llb.State, error)
	// NixImage resolves a nix image reference for a platform. nil uses
	// llb.Image without a resolver (unit tests).
	NixImage func(ctx context.Context, ref string, p ocispecs.Platform) (ResolvedImage, error)
	// Archiver loads the binary that archives the closure in the nix
	// stage (the frontend's own); nil, or a nil result, copies the store
	// paths as they are (see nixllb.Stage).
	Archiver func(ctx context.Context) *nixllb.Archiver
	// Epoch is SOURCE_DATE_EPOCH, if given.
	Epoch *time.Time
	// NoCache runs the nix steps again rather than take them from
	// BuildKit's cache (--no-cache).
	NoCache bool
	// LLBCaps are the daemon's LLB capabilities; nil is the newest
	// BuildKit. Without MergeOp or the symlink file action the image is
	// made another way, with the same files and layers (nixllb.Caps).
	LLBCaps *apicaps.CapSet
	// Expanded is the Nixfile expanded for these options (Expand), when
	// the caller has it already; nil expands it.
	Expanded *expand.Result
	// Network is the nix stage's network mode (--network); the zero value
	// is the daemon's default, as for a Dockerfile's RUN.
	Network pb.NetMode
	// RunOptions are what the build gives every nix step as it would a
	// Dockerfile's RUN: --add-host, --ulimit, --shm-size, --cgroup-parent,
	// CPU and memory limits, the sandbox's hostname.
	RunOptions []llb.RunOption
	// Labels are the labels the build gives the image besides the
	// Nixfile's (docker build --label), which win over a LABEL of the same
	// key, as for a Dockerfile.
	Labels map[string]string
}

// StoreArg is the build arg that gives the nix stage a store cache of its
// own, shared only with builds that give the same name.
const StoreArg = "NIXFILE_STORE"

// CacheMountNSArg is BuildKit's build arg that puts a build's cache mounts
// in a namespace of their own; the store cache is one of them.
const CacheMountNSArg = "BUILDKIT_CACHE_MOUNT_NS"

// NixImageArg is the build arg that overrides the nix image.
const NixImageArg = "NIX_IMAGE"

func (o ConvertOpt) platform() ocispecs.Platform {
	if o.TargetPlatform != nil {
		return platforms.Normalize(*o.TargetPlatform)
	}
	return ocispecs.Platform{OS: "linux", Architecture: "amd64"}
}

// buildPlatform is BuildPlatform, or the target platform without one.
func (o ConvertOpt) buildPlatform() ocispecs.Platform {
	if o.BuildPlatform != nil {
		return platforms.Normalize(*o.BuildPlatform)
	}
	return o.platform()
}

// NixPlatform is the platform the nix stage runs on: the build platform,
// unless nix has no system for it or the target is to be emulated.
func (o ConvertOpt) NixPlatform() ocispecs.Platform {
	if o.EmulateTarget {
		return o.platform()
	}
	p := o.buildPlatform()
	if _, err := nixllb.System(p); err != nil {
		return o.platform()
	}
	return p
}

// Plan is the first phase: the nix stage that builds the installables.
type Plan struct {
	file     *nixfile.File
	opt      ConvertOpt
	resolved *resolved
	system   string
	context  llb.State
	// nixImage is the nix image's state, when there is a nix stage.
	nixImage *llb.State
	// NixImage is the nix image reference the stage runs on.
	NixImage string
	// Stage is the nix stage; nil when the Nixfile builds nothing.
	Stage *nixllb.Stage
	// stageSpec is what Stage was made from (see MetaStep).
	stageSpec nixllb.StageSpec
}

// NewPlan expands the Nixfile and builds the nix stage's LLB.
func NewPlan(ctx context.Context, f *nixfile.File, opt ConvertOpt) (*Plan, error) {
	p := opt.platform()
	system, err := nixllb.System(p)
	if err != nil {
		return nil, err
	}
	x := opt.Expanded
	if x == nil {
		x = Expand(f, opt)
	}
	r, err := resolve(f, opt, x)
	if err != nil {
		return nil, err
	}
	plan := &Plan{file: f, opt: opt, resolved: r, system: system, NixImage: NixImageFor(opt.BuildArgs)}
	plan.context = llb.Local("context", llb.SharedKeyHint("context"), llb.WithCustomName("[internal] load build context"))
	// The context (its .dockerignore) and the nix image load at once:
	// each is a round trip or more to the daemon.
	var (
		contextErr error
		loading    sync.WaitGroup
	)
	defer loading.Wait() // no return leaves the load writing the plan
	if opt.Context != nil {
		plan.context = *opt.Context
	} else if opt.LoadContext != nil && readsContext(r) {
		loading.Go(func() {
			st, err := opt.LoadContext(ctx)
			if st != nil {
				plan.context = *st
			}
			contextErr = err
		})
	}
	for i := range r.copies {
		c := &r.copies[i]
		if c.from == "" {
			continue
		}
		st, err := loadFrom(ctx, opt, c.from, p)
		if err != nil {
			return nil, nixfile.WithLocation(fmt.Errorf("COPY --from=%s: %w", c.from, err), c.instr)
		}
		c.fromState = &st
	}
	if len(r.groups) == 0 {
		loading.Wait()
		if contextErr != nil {
			return nil, contextError(contextErr, r)
		}
		return plan, nil
	}
	// The nix image is the one for the platform nix runs on; the store
	// cache is that image's and that platform's, whatever system it
	// builds for: store paths of different systems differ, a store of an
	// amd64 nix and one of an arm64 nix must not.
	np := opt.NixPlatform()
	nixSystem, err := nixllb.System(np)
	if err != nil {
		return nil, err
	}
	var archiver *nixllb.Archiver
	if opt.Archiver != nil {
		loading.Go(func() { archiver = opt.Archiver(ctx) })
	}
	resolved := ResolvedImage{State: llb.Image(plan.NixImage, llb.Platform(np)), ID: plan.NixImage}
	if opt.NixImage != nil {
		resolved, err = opt.NixImage(ctx, plan.NixImage, np)
	}
	loading.Wait()
	if contextErr != nil {
		return nil, contextError(contextErr, r)
	}
	if err != nil {
		return nil, fmt.Errorf("nix image %s: %w", plan.NixImage, err)
	}
	img, imageID := resolved.State, resolved.ID
	timeout := nixllb.DefaultTimeout
	if v := opt.BuildArgs[nixllb.TimeoutArg]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("build arg %s: %q is not a number of seconds (0: no limit)", nixllb.TimeoutArg, v)
		}
		timeout = n
	}
	// A store of its own: the platform and image's store, under another
	// name, that only builds given the same name share; and in the cache
	// mount namespace BUILDKIT_CACHE_MOUNT_NS names, as a Dockerfile's
	// cache mounts are.
	storeKey := imageID
	if name := opt.BuildArgs[StoreArg]; name != "" {
		if len(name) > 128 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			return nil, fmt.Errorf("build arg %s: give a name of at most 128 printable characters, without blanks", StoreArg)
		}
		storeKey += "\x00" + name
	}
	if ns := opt.BuildArgs[CacheMountNSArg]; ns != "" {
		storeKey += "\x00namespace\x00" + ns
	}
	storeID := nixllb.StoreCacheID(storeKey, platforms.FormatAll(np))
	spec := nixllb.StageSpec{
		Timeout:       timeout,
		Image:         img,
		System:        system,
		NixSystem:     nixSystem,
		Emulated:      platforms.Format(np) != platforms.Format(opt.buildPlatform()),
		PackageSet:    r.packageSet,
		NixSettings:   r.nixSettings,
		StoreCacheID:  storeID,
		ImageHasStore: resolved.HasStore,
		IgnoreCache:   opt.NoCache,
		Network:       opt.Network,
		RunOptions:    opt.RunOptions,
		Archiver:      archiver,
		MaxLayers:     r.maxLayers,
	}
	plan.nixImage = &img
	if needsContext(r) {
		spec.Context = &plan.context
	}
	for _, g := range r.groups {
		spec.Groups = append(spec.Groups, nixllb.StageGroup{Group: g.Group, Opts: plan.marks(g.rng)})
	}
	st := nixllb.NewStage(spec)
	plan.Stage, plan.stageSpec = &st, spec
	return plan, nil
}

// System is the nix system the plan builds for: the target's.
func (p *Plan) System() string { return p.system }

// NixSystem is the nix system the stage's nix runs as.
func (p *Plan) NixSystem() string {
	if p.stageSpec.NixSystem != "" {
		return p.stageSpec.NixSystem
	}
	return p.system
}

// TargetPlatform is the image's platform.
func (p *Plan) TargetPlatform() ocispecs.Platform { return p.opt.platform() }

// NixPlatform is the platform the nix stage runs on.
func (p *Plan) NixPlatform() ocispecs.Platform { return p.opt.NixPlatform() }

// GroupLines are the Nixfile lines of the groups of these indexes, or of
// every group when none is known.
func (p *Plan) GroupLines(idx []int) []nixfile.Range {
	var out []nixfile.Range
	for _, i := range idx {
		if i >= 0 && i < len(p.resolved.groups) {
			out = append(out, p.resolved.groups[i].rng)
		}
	}
	if len(out) == 0 {
		for _, g := range p.resolved.groups {
			out = append(out, g.rng)
		}
	}
	return out
}

// NixImageState is the nix image the stage runs on; nil without a stage.
func (p *Plan) NixImageState() *llb.State { return p.nixImage }

// ReadsContext reports whether the plan of f for opt loads the build
// context, so that the load can start before the plan is made; false when
// the Nixfile does not resolve (NewPlan reports why).
func ReadsContext(f *nixfile.File, opt ConvertOpt) bool {
	x := opt.Expanded
	if x == nil {
		x = Expand(f, opt)
	}
	r, err := resolve(f, opt, x)
	return err == nil && readsContext(r)
}

func readsContext(r *resolved) bool { return len(contextLines(r)) > 0 }

// needsContext reports whether the nix stage reads the build context.
func needsContext(r *resolved) bool { return len(stageContextLines(r)) > 0 }

// contextLines are the lines that read the build context, in order: the
// nix stage's (stageContextLines) and COPYs.
func contextLines(r *resolved) []nixfile.Range {
	out := stageContextLines(r)
	for _, c := range r.copies {
		if c.from == "" {
			out = append(out, c.rng)
		}
	}
	slices.SortFunc(out, func(a, b nixfile.Range) int { return a.Start.Line - b.Start.Line })
	return out
}

// stageContextLines are the lines whose reads of the build context the nix
// stage makes: the package set's (NIXPKGS sets the set and its line
// together), BUILDs of its files or flakes.
func stageContextLines(r *resolved) []nixfile.Range {
	var out []nixfile.Range
	if r.packageSet.ReadsContext() {
		out = append(out, *r.packageSetLine)
	}
	for _, g := range r.groups {
		if slices.ContainsFunc(g.Installables, nixllb.Installable.ReadsContext) {
			out = append(out, g.rng)
		}
	}
	return out
}

// ContextError is err, a failed load of the build context, blamed on the
// lines that read it.
func (p *Plan) ContextError(err error) error { return contextError(err, p.resolved) }

// contextError is a failed load of the build context, blamed on the lines
// that read it: a client that sends no context (buildctl without --local
// context) gets BuildKit's "no access allowed to dir". The cause is kept as
// text: BuildKit sends an error that wraps a gRPC status as that status
// alone, which would drop the line and what was loaded.
func contextError(err error, r *resolved) error {
	err = fmt.Errorf("loading the build context, which this line reads: %v", err)
	lines := contextLines(r)
	if len(lines) == 0 {
		return err
	}
	return &nixfile.LocationError{Range: lines[0], Also: lines[1:], Err: err}
}

func (p *Plan) marks(r nixfile.Range) []llb.ConstraintsOpt {
	if p.opt.SourceMap == nil {
		return nil
	}
	return []llb.ConstraintsOpt{p.opt.SourceMap.Location([]*pb.Range{PBRange(r)})}
}

// PBRange is a Nixfile range as BuildKit's source maps and errors take it.
func PBRange(r nixfile.Range) *pb.Range {
	return &pb.Range{
		Start: &pb.Position{Line: int32(r.Start.Line), Character: int32(r.Start.Character)},
		End:   &pb.Position{Line: int32(r.End.Line), Character: int32(r.End.Character)},
	}
}

// FailureLines are the Nixfile lines to blame for a failed nix step: the
// line it was evaluating (the NIXPKGS line, or a group's), else those of
// the groups whose outputs nix reported as failed, or of every group when
// the log names none of them. evaluating, groups and log are the step's
// MetaEvaluating, MetaGroups and MetaLog.
func (p *Plan) FailureLines(evaluating string, groups []byte, log string) []nixfile.Range {
	switch evaluating = strings.TrimSpace(evaluating); {
	case evaluating == nixllb.EvaluatingSet && p.resolved.packageSetLine != nil:
		return []nixfile.Range{*p.resolved.packageSetLine}
	case evaluating != "":
		if i, err := strconv.Atoi(evaluating); err == nil && i >= 0 && i < len(p.resolved.groups) {
			return []nixfile.Range{p.resolved.groups[i].rng}
		}
	}
	return p.GroupLines(nixllb.FailedGroups(groups, log))
}

// Result is the image: its filesystem and its config.
type Result struct {
	State llb.State
	Image *dockerspec.DockerOCIImage
	// Epoch is the time stamped on the image: SOURCE_DATE_EPOCH, or the
	// Unix epoch, never the wall clock.
	Epoch time.Time
	// Rootfs are the files written outside the store (ROOTFS defaults,
	// WORKDIR) and Copies the Nixfile's COPYs, for the SBOM.
	Rootfs []nixllb.Entry
	Copies []Copied
}

// Copied is one COPY: its text, line, sources and absolute destination.
type Copied struct {
	Instruction, Where string
	Sources            []string
	Dest               string
	// From is --from's name; empty is the build context.
	From string
}

// Assemble is the second phase: exactly the closure on scratch, the
// Nixfile's COPYs on top, and the image config. closure is nil when the
// plan has no nix stage.
func (p *Plan) Assemble(closure *nixllb.Closure) (*Result, error) {
	if (p.Stage != nil) != (closure != nil) {
		return nil, fmt.Errorf("internal error: a closure is given if and only if the plan has a nix stage")
	}
	basePath := imagePath(closure)
	r := p.resolved
	if r.readsPath && basePath != defaultPath {
		// The plan read $PATH as the usual directories: the image's words
		// that read it are expanded again with the image's.
		var err error
		if r, err = resolve(p.file, p.opt, expandWith(p.file, p.opt, basePath)); err != nil {
			return nil, err
		}
	}
	epoch := time.Unix(0, 0).UTC()
	if p.opt.Epoch != nil {
		epoch = p.opt.Epoch.UTC()
	}

	accts, err := accounts(r.config.user)
	if err != nil {
		return nil, nixfile.WithLocation(err, r.userInstr)
	}
	var meta *llb.State
	if p.Stage != nil {
		meta = &p.Stage.Meta
	}
	entries, rootEnv, err := rootfsEntries(r.rootfs, closure, accts, meta)
	if err != nil {
		return nil, r.blame(err)
	}
	entries = withWorkdir(entries, r.config.workdir, r.config.user, accts)

	// The history is made here, a line a layer, rather than left to the
	// exporter, whose descriptions differ when layers come from an imported
	// cache: the same image must have the same digest either way.
	var (
		layers  []llb.State
		history []string
	)
	caps := nixllb.CapsOf(p.opt.LLBCaps)
	if closure != nil {
		if p.Stage.Archives && len(closure.Layers) == 0 {
			return nil, fmt.Errorf("the nix stage archived no layers of the closure")
		}
		st, descs := nixllb.CopyClosure(p.Stage.Closure, closure, nixllb.CopyOpts{MaxLayers: r.maxLayers, Caps: caps, Archives: p.Stage.Archives})
		layers = append(layers, st)
		for _, h := range descs {
			history = append(history, "nix: "+h)
		}
	}
	if len(entries) > 0 {
		var linker *llb.State
		if caps.NoSymlink {
			linker = p.nixImage
		}
		layers = append(layers, nixllb.Files(entries, epoch, "[rootfs] users, /tmp, CA bundle, /bin links, WORKDIR", linker))
		history = append(history, "nixfile: rootfs defaults (ROOTFS)")
	}
	st := nixllb.Combine(layers, caps, "[internal] image layers")
	var copied []Copied
	for _, c := range r.copies {
		copied = append(copied, Copied{Instruction: c.text, Where: where(c.rng), Sources: c.sources, Dest: copyDest(c), From: c.from})
		if st, err = p.copyFromContext(st, c, accts, epoch); err != nil {
			return nil, err
		}
		history = append(history, "nixfile: "+c.text)
	}
	img := imageFor(p.opt.platform(), r.config, basePath, rootEnv, p.opt.Epoch)
	if len(p.opt.Labels) > 0 {
		if img.Config.Labels == nil {
			img.Config.Labels = make(map[string]string, len(p.opt.Labels))
		}
		maps.Copy(img.Config.Labels, p.opt.Labels)
	}
	for _, h := range history {
		img.History = append(img.History, ocispecs.History{Created: &epoch, CreatedBy: h, Comment: "nixfile"})
	}
	if err := r.checkConfigSize(img); err != nil {
		return nil, err
	}
	return &Result{State: st, Image: img, Epoch: epoch, Rootfs: entries, Copies: copied}, nil
}

// copyFromContext copies a COPY's sources onto a staging state, then onto
// the image in one directory copy stamped with the epoch: every file and
// directory it adds has a fixed time, and directories it reaches keep theirs.
func (p *Plan) copyFromContext(st llb.State, c copyOp, accts *accountsDB, epoch time.Time) (llb.State, error) {
	dest := copyDest(c)
	owner := &llb.ChownOpt{User: &llb.UserOpt{UID: 0}, Group: &llb.UserOpt{UID: 0}}
	if c.chown != nil {
		uid, err := accts.lookupID(c.chown.user, false)
		if err != nil {
			return st, nixfile.WithLocation(fmt.Errorf("COPY --chown: %w", err), c.instr)
		}
		gid := accts.primaryGID(uid)
		if c.chown.group != "" {
			if gid, err = accts.lookupID(c.chown.group, true); err != nil {
				return st, nixfile.WithLocation(fmt.Errorf("COPY --chown: %w", err), c.instr)
			}
		}
		owner = &llb.ChownOpt{User: &llb.UserOpt{UID: uid}, Group: &llb.UserOpt{UID: gid}}
	}
	var action *llb.FileAction
	for _, src := range c.sources {
		info := &llb.CopyInfo{
			CreateDestPath:      true,
			AllowWildcard:       true,
			CopyDirContentsOnly: true,
			FollowSymlinks:      true,
			ChownOpt:            owner,
			ExcludePatterns:     c.excludes,
		}
		if c.mode != nil {
			info.Mode = &llb.ChmodOpt{Mode: osFileMode(*c.mode)}
		}
		d := dest
		if len(c.sources) > 1 && !strings.HasSuffix(d, "/") {
			d += "/"
		}
		from := p.context
		if c.fromState != nil {
			from = *c.fromState
		}
		action = action.Copy(from, "/"+src, d, info)
	}
	opts := append([]llb.ConstraintsOpt{llb.WithCustomName("[internal] stage " + c.text)}, p.marks(c.rng)...)
	staged := llb.Scratch().File(action, opts...)
	opts = append([]llb.ConstraintsOpt{llb.WithCustomName(c.text)}, p.marks(c.rng)...)
	return st.File(llb.Copy(staged, "/", "/", &llb.CopyInfo{CopyDirContentsOnly: true, CreatedTime: &epoch}), opts...), nil
}

// loadFrom loads a COPY --from's source with opt.LoadFrom, or without one
// takes the image of that name.
func loadFrom(ctx context.Context, opt ConvertOpt, name string, p ocispecs.Platform) (llb.State, error) {
	if opt.LoadFrom != nil {
		return opt.LoadFrom(ctx, name, p)
	}
	return llb.Image(name, llb.Platform(p)), nil
}

// copyDest is a COPY's destination in the image: a relative one is under
// the WORKDIR at the COPY.
func copyDest(c copyOp) string {
	dest := c.dest
	if !strings.HasPrefix(dest, "/") {
		dest = path.Join("/", c.workdir, dest)
		if strings.HasSuffix(c.dest, "/") {
			dest += "/"
		}
	}
	return dest
}

// withWorkdir adds the WORKDIR, as a Dockerfile's WORKDIR makes it: owned
// by the USER, so a service can write where it starts.
func withWorkdir(entries []nixllb.Entry, dir, user string, accts *accountsDB) []nixllb.Entry {
	if dir == "" || dir == "/" || dir == "/nix" || strings.HasPrefix(dir, "/nix/") {
		return entries
	}
	for _, e := range entries {
		if e.Path == dir {
			return entries
		}
	}
	uid, gid := 0, 0
	if user != "" {
		u, g, _ := strings.Cut(user, ":")
		if id, err := accts.lookupID(u, false); err == nil {
			uid, gid = id, accts.primaryGID(id)
		}
		if g != "" {
			if id, err := accts.lookupID(g, true); err == nil {
				gid = id
			}
		}
	}
	return append(entries, nixllb.Entry{Path: dir, Kind: nixllb.DirEntry, Mode: 0o755, UID: uid, GID: gid})
}

// blame puts a rootfs error on the lines that caused it: for two packages
// with the same command, the lines that asked for them.
func (r *resolved) blame(err error) error {
	var bc *binConflict
	if errors.As(err, &bc) {
		var lines []nixfile.Range
		for _, g := range r.groups {
			for _, in := range g.Installables {
				if n := len(in.Attr); n > 0 && (in.Attr[n-1] == packageName(bc.roots[0]) || in.Attr[n-1] == packageName(bc.roots[1])) {
					lines = append(lines, g.rng)
					break
				}
			}
		}
		if len(lines) == 0 {
			for _, g := range r.groups {
				lines = append(lines, g.rng)
			}
		}
		if len(lines) > 0 {
			return &nixfile.LocationError{Range: lines[0], Also: lines[1:], Err: err}
		}
	}
	if r.rootfsInstr != nil {
		return nixfile.WithLocation(err, r.rootfsInstr)
	}
	return err
}

// DefaultNixImage is the nix image used without a NIX_IMAGE build arg.
func DefaultNixImage() string { return nixllb.DefaultImage }

// NixImageFor is the nix image a build with these build args runs on.
func NixImageFor(buildArgs map[string]string) string {
	if v := buildArgs[NixImageArg]; v != "" {
		return v
	}
	return nixllb.DefaultImage
}

// Expand expands the Nixfile's words for opt's build args and platform,
// as the build does: the converter builds from it and the checks read it.
// $PATH is the usual directories, the image's PATH being known only once
// the closure is (Assemble expands again the words that read it).
func Expand(f *nixfile.File, opt ConvertOpt) *expand.Result {
	return expandWith(f, opt, defaultPath)
}

func expandWith(f *nixfile.File, opt ConvertOpt, path string) *expand.Result {
	return expand.Nixfile(f, expand.Options{BuildArgs: opt.BuildArgs, Platform: opt.platform(), BuildPlatform: opt.buildPlatform(), Path: path})
}

package nixllb

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
)

// StageSpec is what the nix stage builds, and on what.
type StageSpec struct {
	// Image is the nix image, resolved with its config so its PATH applies.
	Image llb.State
	// Context is the build context, mounted read-only at ContextMount.
	// Leave it nil when nothing reads the context.
	Context *llb.State
	// System is the nix system to build for, e.g. x86_64-linux.
	System string
	// NixSystem is the nix system the stage's nix runs as (its image's
	// platform); empty is System. When they differ, the package set is
	// evaluated for System (builtins.currentSystem too, where nix has
	// eval-system), its outputs come from binary caches or remote builders,
	// and a System derivation that only a local build could give fails the
	// step with MetaForeign.
	NixSystem string
	// Emulated says the stage runs nix for the target on a daemon of
	// another platform, under emulation: its steps' names say so.
	Emulated bool
	// IgnoreCache runs every step again (--no-cache): BuildKit's cache is
	// not used, and BuildKit empties the cache mounts of such steps, the
	// store cache too, as it does a Dockerfile's (PruneCacheMounts).
	IgnoreCache bool
	// ImageHasStore says the image's /nix holds a nix store with its
	// database (the official image's does): it is the store cache's base
	// as it is, with no seed step (see seedScript).
	ImageHasStore bool
	// StoreCacheID names the BuildKit cache mount that keeps /nix across
	// builds (see StoreCacheID). Empty keeps no store: every build starts
	// from the image's own /nix.
	StoreCacheID string
	// NixSettings are the user's nix settings (see CheckNixSetting), applied
	// after the image's nix.conf and nixfile's own.
	NixSettings []NixSetting
	// PackageSet is what Attr installables are looked up in; nil is <nixpkgs>.
	PackageSet *PackageSet
	// Groups are the installables, a group a Nixfile line.
	Groups []StageGroup
	// Network is the build step's network mode (--network); the zero
	// value is the daemon's default.
	Network pb.NetMode
	// RunOptions go to every nix step, as the build's --add-host,
	// --ulimit, --shm-size, --cgroup-parent, CPU and memory limits and
	// sandbox hostname go to a Dockerfile's RUN.
	RunOptions []llb.RunOption
	// Timeout, in seconds, stops the nix build past it; 0 is no limit.
	Timeout int
	// Archiver, when set, writes the closure as archives (see Stage).
	Archiver *Archiver
	// MaxLayers is the layer budget the archiver groups the closure in;
	// 0 is DefaultMaxLayers.
	MaxLayers int
}

// Archiver is a binary that archives the closure: the frontend's own,
// from its image, run with ArchiveCommand (see storetar).
type Archiver struct {
	// Image holds the binary; it runs on the daemon's own platform.
	Image llb.State
	// Path is the binary's path in Image.
	Path string
}

// ArchiveCommand is the Archiver's first argument; then the directory to
// write the archives into, the directory of the Meta files (it reads the
// closure there and writes MetaLayers) and the layer budget.
const ArchiveCommand = "archive-closure"

// WritebackCommand is the Archiver's only argument when it is to flush
// the filesystem it runs on (syncfs) over and over until it is stopped:
// the nix step runs it while it writes, and so does the frontend while the
// nix image unpacks.
const WritebackCommand = "flush-writes"

// StageGroup is a Group with how to mark its evaluation step.
type StageGroup struct {
	Group
	Opts []llb.ConstraintsOpt
}

// Stage is the nix stage as LLB.
type Stage struct {
	// Closure holds exactly the closure: an archive a layer, as MetaLayers
	// lists them, when the spec has an Archiver, else the store paths at
	// /nix/store/.... It is what the image copies from. Nothing else of the
	// stage, and nothing of its store cache, leaves it.
	Closure llb.State
	// Archives says Closure holds archives.
	Archives bool
	// Meta holds the files the frontend reads back: see the Meta* names.
	Meta llb.State
}

// Files in Stage.Meta.
const (
	// MetaRoots lists the requested output paths, one a line.
	MetaRoots = "roots"
	// MetaClosure lists their runtime closure, one store path a line.
	MetaClosure = "closure"
	// MetaBins lists the roots that have a bin directory.
	MetaBins = "bins"
	// MetaPathInfo is `nix path-info --json --recursive` of the roots.
	MetaPathInfo = "path-info.json"
	// MetaLog is nix's stderr, kept for error messages.
	MetaLog = "nix.log"
	// MetaBinEntries lists "ROOT<tab>NAME" for each entry of a root's bin.
	MetaBinEntries = "bin-entries"
	// MetaFeatures lists "KIND<tab>PATH" for each Feature* of the closure.
	MetaFeatures = "features"
	// MetaImageCACert is the nix image's CA bundle, copied when the closure
	// has none.
	MetaImageCACert = "ca-bundle.crt"
	// MetaGroups maps each derivation output the build step realises to
	// its group: "INDEX DRV!OUTPUT" lines.
	MetaGroups = "groups"
	// MetaForeign, when a build for a foreign system failed, lists the
	// derivations of that system nix would have had to build here, as
	// "INDEX DRV" lines: each group that needs them.
	MetaForeign = "foreign"
	// MetaLayers lists the closure's layers as the archiver wrote them (see
	// FormatLayers); it is empty without one.
	MetaLayers = "layers"
	// MetaEvaluating is what the step was evaluating when it stopped: a
	// group's index, or EvaluatingSet. It is gone once all evaluated.
	MetaEvaluating = "evaluating"
)

// EvaluatingSet in MetaEvaluating is the package set (NIXPKGS).
const EvaluatingSet = "set"

// Secrets are the build secret ids (--secret id=...) the nix stage uses
// when given: SecretNetrc for private substituters and fetchers,
// SecretAccessTokens for private flake inputs, SecretSSHKnownHosts for
// fetches over ssh.
var Secrets = []string{SecretNetrc, SecretAccessTokens, SecretSSHKnownHosts}

const (
	// SecretNetrc is a netrc file, nix's netrc-file.
	SecretNetrc = "netrc"
	// SecretAccessTokens is nix's access-tokens value, e.g.
	// "github.com=ghp_...".
	SecretAccessTokens = "nix-access-tokens"
	// SecretSSHKnownHosts is an ssh known_hosts file: the host keys ssh
	// checks when nix fetches over ssh (git+ssh flake inputs), in place of
	// the user's (the image's /etc/ssh/ssh_known_hosts still counts). Not
	// a secret, but a file of the client's that no layer or cache key
	// should hold either.
	SecretSSHKnownHosts = "ssh_known_hosts"
	secretDir           = "/run/secrets"
)

// SSHAgentID is the SSH agent (--ssh ID=...) the nix stage uses when the
// client forwards it: nix's fetchers over ssh (git+ssh flake inputs,
// fetchGit of an ssh URL) authenticate through it.
const SSHAgentID = "default"

// sshAgentSocket is where the nix step finds the agent: BuildKit's own
// place for a RUN's first one.
const sshAgentSocket = "/run/buildkit/ssh_agent.0"

const (
	// nixCacheMount is nix's XDG_CACHE_HOME in the stage: see NixCacheID.
	nixCacheMount = "/nixfile/cache"
	exprMount     = "/nixfile/expr"
	metaMount     = "/nixfile/out"
	closureMount  = "/nixfile/closure"
	archiverMount = "/nixfile/archiver"
)

// StoreCacheID is the id of the cache mount that keeps a nix image's /nix
// for a platform across builds: seeded from that image's /nix on first use,
// so nix finds what earlier builds built and fetched. The image's digest
// (or its reference when the digest is not known) is part of the id, so a
// new nix image starts a store of its own.
func StoreCacheID(image, platform string) string {
	sum := sha256.Sum256([]byte(image + "\x00" + platform))
	return "nixfile-nix-store-" + hex.EncodeToString(sum[:8])
}

// NixCacheID is the id of the cache mount that keeps nix's own caches
// outside /nix (~/.cache/nix: fetched tarballs and flakes, what binary
// caches have) beside the store cache of storeID: what the one says is in
// the store, the other has seen. Nothing is fetched twice: not a package
// set's tarball, not a narinfo.
func NixCacheID(storeID string) string {
	return strings.Replace(storeID, "nixfile-nix-store-", "nixfile-nix-cache-", 1)
}

// TimeoutArg is the build arg that sets the nix build's time limit, in
// seconds (0: none).
const TimeoutArg = "NIXFILE_NIX_TIMEOUT"

// DefaultTimeout is the nix build's time limit without TimeoutArg: 3 hours.
// A build that hangs holds a build of the daemon, and nix's locks on what
// it builds (which other builds of the same paths wait for), for as long
// as it runs; 3 hours lets a large package build from source on a CI
// runner, and ends a hung one on the same day.
const DefaultTimeout = 3 * 60 * 60

// The nix steps' scripts and the Nix files beside build.nix: files of this
// package, mounted with the generated build.nix at exprMount. Their inputs
// are the steps' arguments and environment (see each file's header).
var (
	//go:embed lib.sh
	libScript []byte
	//go:embed build.sh
	buildScript []byte
)

// exprFile is a file of exprMount.
type exprFile struct {
	name string
	data []byte
}

// exprDir is a nix step's exprMount: the generated build.nix, helpers.nix
// and lib.sh, and files.
func exprDir(spec StageSpec, name string, files ...exprFile) llb.State {
	expr := Expr(spec.System, spec.PackageSet, groupsOf(spec.Groups))
	files = append([]exprFile{{"build.nix", []byte(expr)}, {helpersFile, helpersExpr}, {"lib.sh", libScript}}, files...)
	var fa *llb.FileAction
	for _, f := range files {
		fa = fa.Mkfile(f.name, 0o644, f.data)
	}
	return llb.Scratch().File(fa, llb.WithCustomName(name))
}

// NewStage returns the nix stage: one step that loads the package set,
// evaluates each group (so an error names its line), builds every requested
// output in one nix invocation, and writes the closure list to Meta.
func NewStage(spec StageSpec) Stage {
	// The scripts are files, so a failed step's error names a short command.
	exprState := exprDir(spec, "[internal] generate build.nix", exprFile{"build.sh", buildScript})

	// One nix step loads the package set, evaluates each group and builds
	// them all: a step is a container start, and nothing is cached between
	// these parts that the store cache does not keep anyway. The step
	// records what it is evaluating (MetaEvaluating), so that a failure
	// names its line: with a single line the step itself carries it.
	args := []string{"/bin/sh", exprMount + "/build.sh"}
	if spec.PackageSet != nil {
		args = append(args, EvaluatingSet)
	}
	for i := range spec.Groups {
		args = append(args, fmt.Sprint(i))
	}
	opts := append([]llb.RunOption{
		llb.Args(args),
		llb.WithCustomName(spec.buildStepName()),
		llb.AddMount(exprMount, exprState, llb.Readonly),
		llb.AddEnv("NIXFILE_CLOSURE", closureMount),
	}, spec.nixStepOptions()...)
	if a := spec.Archiver; a != nil {
		opts = append(opts, llb.AddMount(archiverMount, a.Image, llb.Readonly),
			llb.AddEnv("NIXFILE_ARCHIVER", path.Join(archiverMount, a.Path)),
			llb.AddEnv("NIXFILE_MAX_LAYERS", fmt.Sprint(spec.MaxLayers)))
	}
	if len(spec.Groups) == 1 && spec.PackageSet == nil {
		for _, m := range spec.Groups[0].Opts {
			opts = append(opts, m)
		}
	}
	build := spec.Image.Run(opts...)
	build.AddMount(metaMount, llb.Scratch())
	closure := build.AddMount(closureMount, llb.Scratch())
	return Stage{Closure: closure, Archives: spec.Archiver != nil, Meta: build.GetMount(metaMount)}
}

// nixCacheMountOpts mount nix's caches, shared as the store is (nix keeps
// them in SQLite databases and a git repository of its own, each safe for
// concurrent nix processes), at XDG_CACHE_HOME: nix reads that whatever
// HOME the image has.
func nixCacheMountOpts(storeID string) []llb.RunOption {
	return []llb.RunOption{
		llb.AddMount(nixCacheMount, llb.Scratch(), llb.AsPersistentCacheDir(NixCacheID(storeID), llb.CacheMountShared)),
		llb.AddEnv("XDG_CACHE_HOME", nixCacheMount),
	}
}

// seedScript makes the store cache's seed: the image's /nix (made if the
// image has none, as a Debian-based nix image may not), opened once by the
// image's own nix so that nix's database exists, at the schema of that nix.
//
// This is what lets concurrent builds share the store. nix (without a
// daemon) serializes its processes on one store with flock and SQLite's
// locks, except when it creates a new store: with no schema file, every
// process takes the "new store" path under only a shared lock, and they
// race to create the database, switch it to WAL, write the schema file
// and make gcroots/profiles. Seen, with 8 to 16 nix processes started at
// once on an empty /nix (nix 2.8 and 2.26): "'/nix/var/nix/db/schema' is
// corrupt" (a reader met the file before its writer filled it), "creating
// symlink from '/nix/var/nix/gcroots/profiles' ... File exists" and, in
// a CI run of two builds on a new store, "SQLite database
// '/nix/var/nix/db/db.sqlite' is busy" (nix does not retry the switch to
// WAL); on a store whose database exists, none in 680 processes. A
// schema upgrade (a newer nix on a store that NIXFILE_STORE shares with an
// older one) takes nix's big lock exclusively and is safe; nothing in the
// stage collects garbage (nix's temporary roots are files named by PID,
// which the containers' PID namespaces reuse: a GC would not see them).
const seedScript = `set -eu
mkdir -p /nix/store
nix-store --dump-db >/dev/null
`

// seedStore is the store cache's seed, at /nix: see seedScript. It runs
// once per nix image on a daemon (BuildKit caches it by the image's
// digest), with no network: it reads nothing but the image. An image whose
// /nix has a store database needs none (StageSpec.ImageHasStore): on a
// store whose database exists nix's locks hold, and the seed's container
// cost half a second of every first build.
func seedStore(image llb.State) llb.State {
	return image.Run(
		llb.Args([]string{"/bin/sh", "-c", seedScript}),
		llb.Network(pb.NetMode_NONE),
		llb.WithCustomName("[internal] nix store seed"),
	).Root()
}

// nixStepOptions are what every nix step of the stage (the build, the SBOM's
// metadata) runs with: the secrets, the store cache and nix's own caches,
// the user's nix settings, the context, --no-cache and --network. A step
// that evaluates the package set needs all of them as the build does.
func (spec StageSpec) nixStepOptions() []llb.RunOption {
	opts := []llb.RunOption{llb.AddEnv("NIXFILE_OUT", metaMount), llb.AddEnv("NIXFILE_SECRETS", secretDir)}
	// Secrets are mounted, never copied: they are in no layer, no cache key
	// and no cache.
	for _, id := range Secrets {
		opts = append(opts, llb.AddSecret(secretDir+"/"+id, llb.SecretID(id), llb.SecretOptional, llb.SecretFileOpt(0, 0, 0o400)))
	}
	// So is the client's SSH agent, when it forwards one (--ssh default);
	// BuildKit names it in SSH_AUTH_SOCK.
	opts = append(opts, llb.AddSSHSocket(llb.SSHID(SSHAgentID), llb.SSHSocketTarget(sshAgentSocket), llb.SSHOptional))
	// The store cache is seeded from the image's /nix (seedStore) and
	// shared: concurrent builds run their nix steps at the same time on
	// one store, which nix's own locks make safe once its database exists
	// (see seedScript). Two builds of one derivation build it once: nix
	// locks an output while it builds it, and the other finds it valid.
	// BuildKit mounts a shared cache mount once and binds that mount into
	// every container using it (cache/refs.go, sharableMountable, in v0.13
	// as in v0.34; Docker's classic store mounts its graph driver's
	// directory once), so flock and SQLite's locks see the same files in
	// every step. Every step that mounts the store must ask for it shared:
	// a locked mount held by one step makes BuildKit give a shared one
	// asked for meanwhile a new copy of the seed, splitting the store.
	if spec.StoreCacheID != "" {
		// BuildKit keys a step by what it runs, not by the ids of its
		// cache mounts: the store's id is in the environment, so that a
		// build on another store (NIXFILE_STORE) runs its nix steps there
		// rather than take another store's results.
		opts = append(opts, llb.AddEnv("NIXFILE_STORE_ID", spec.StoreCacheID))
		// Not content-hashed: the image (by digest) already keys the step,
		// and hashing every file of the image's /nix cost seconds on a
		// first build (3.7 s for a 240 MB /nix here).
		var seed llb.State
		if spec.ImageHasStore {
			// The image's /nix, through a file op that changes nothing:
			// a cache mount based on the very ref that is the step's root
			// makes BuildKit (v0.34) fail a failed step's error with
			// "releasing already released reference".
			seed = spec.Image.File(llb.Mkdir("/nix/store", 0o755, llb.WithParents(true)), llb.WithCustomName("[internal] nix store from the image"))
		} else {
			seed = seedStore(spec.Image)
		}
		opts = append(opts, llb.AddMount("/nix", seed, llb.SourcePath("/nix"),
			llb.AsPersistentCacheDir(spec.StoreCacheID, llb.CacheMountShared),
			llb.ContentCache(llb.MountContentCacheOff)))
		opts = append(opts, nixCacheMountOpts(spec.StoreCacheID)...)
	}
	if len(spec.NixSettings) > 0 {
		opts = append(opts, llb.AddEnv("NIXFILE_NIX_CONFIG", nixSettingsText(spec.NixSettings)))
	}
	if spec.Context != nil {
		opts = append(opts, llb.AddMount(ContextMount, *spec.Context, llb.Readonly))
	}
	if spec.IgnoreCache {
		opts = append(opts, llb.IgnoreCache)
	}
	if spec.Network != pb.NetMode_UNSET {
		opts = append(opts, llb.Network(spec.Network))
	}
	opts = append(opts, spec.RunOptions...)
	if spec.Timeout > 0 {
		opts = append(opts, llb.AddEnv("NIXFILE_NIX_TIMEOUT", fmt.Sprint(spec.Timeout)))
	}
	if spec.foreign() {
		opts = append(opts, llb.AddEnv("NIXFILE_FOREIGN_SYSTEM", spec.System))
	}
	return opts
}

// buildStepName names the build step by what it builds, and by the system
// it builds for when nix runs as another one or under emulation.
func (spec StageSpec) buildStepName() string {
	name := "[nix] build " + spec.installables()
	switch {
	case spec.foreign():
		name += " for " + spec.System + " (nix: " + spec.NixSystem + ")"
	case spec.Emulated:
		name += " for " + spec.System + " (emulated)"
	}
	return name
}

// foreign reports whether the stage's nix runs as another system than the
// one it builds for.
func (spec StageSpec) foreign() bool {
	return spec.NixSystem != "" && spec.NixSystem != spec.System
}

// installables names what the stage builds, for its steps' names.
func (spec StageSpec) installables() string {
	var names []string
	for _, g := range spec.Groups {
		for _, in := range g.Installables {
			name := in.Name
			if name == "" {
				name = FormatAttrPath(in.Attr)
			}
			names = append(names, name)
		}
	}
	return strings.Join(names, " ")
}

func groupsOf(sg []StageGroup) []Group {
	out := make([]Group, len(sg))
	for i, g := range sg {
		out[i] = g.Group
	}
	return out
}

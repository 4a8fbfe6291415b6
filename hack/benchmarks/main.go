// Command benchmarks measures the nixfile frontend against what users do
// today without it: a Dockerfile that nix-builds the same packages on the
// same nix image and copies their closure onto scratch (baseline/Dockerfile),
// built with BuildKit's own Dockerfile frontend. It prints markdown tables to
// stdout and progress to stderr; it asserts nothing about the numbers.
//
// Run it through hack/bench, which brings the test bed up first:
//
//	hack/bench [-cold N] [-rebuilds N] [-slow 15s] [-workloads W1,W2,W3,B400,T2000|none] [-dedupe=false] [-push=false]
//	           [-platforms=false] [-concurrent 1,2,4] [-concurrent-slow 10s]
//
// Every workload and side gets a buildkitd of its own on an empty state (the
// cold build), then rebuilds on that same daemon: with no change, and with one
// package added (each repeat adds a different one, so none is cached). The
// two sides take turns at every step. Ours' daemon also times no-change
// rebuilds through noopfrontend, a gateway frontend that does nothing (pushed
// to the bed's registry at the start): the floor of any gateway frontend.
// The baseline's daemon times them through BuildKit's Dockerfile frontend
// run as a gateway image (dockerfilefrontend, pushed too): what BuildKit's
// own frontend costs as a `# syntax=` frontend, reading the Dockerfile,
// the .dockerignore and the context.
// With -push, each side then pushes its image to the bed's registry and
// times more "+1 package" rebuilds exported by a push there, as CI does.
//
// Then N builds at once (-concurrent), each of a Nixfile needing a package
// of its own, on one daemon per side: the wall time against one build's.
// Last, ours builds one Nixfile for linux/amd64, for linux/arm64 and for
// both (-platforms): what a second platform costs without emulation.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/buildkit/client"
)

type side int

const (
	ours side = iota
	baseline
)

func (s side) String() string {
	if s == ours {
		return "ours"
	}
	return "baseline"
}

// workload is a package list both sides build.
type workload struct {
	name     string
	packages []string // attribute paths of <nixpkgs>
	slow     bool     // also build slow.nix, a package that takes -slow to build
	// synthetic, if set, also builds big.nix: a closure of that many store
	// paths of random data (see syntheticNix).
	synthetic *synthetic
	// adds are the packages added for the "+1 package" rebuilds, one per
	// repeat, so that each repeat has something new to build.
	adds []string
}

var workloads = []workload{
	{
		name:     "W1",
		packages: []string{"hello"},
		slow:     true,
		adds:     []string{"greeter", "tools.greet", "cacert", "tzdata", "iana-etc", "libfoo", "motd", "odd"},
	},
	{
		name:     "W2",
		packages: []string{"busybox", "hello", "greeter", "tools.greet", "cacert", "tzdata", "iana-etc"},
		adds:     []string{"libfoo", "motd", "odd", "althello"},
	},
	{
		// The smallest: the one where the frontend's own cost weighs most.
		name:     "W3",
		packages: []string{"hello"},
		adds:     []string{"greeter", "tzdata", "iana-etc", "motd"},
	},
	{
		// Big closures: where a change must cost what changed, not the
		// closure. The adds are small packages that reference nothing.
		name:      "B400",
		synthetic: &synthetic{paths: 400, size: 1 << 20},
		adds:      smallAdds,
	},
	{
		name:      "T2000",
		synthetic: &synthetic{paths: 2000, size: 100},
		adds:      smallAdds,
	},
	{
		// Store paths as real packages are: directories of many files.
		// What costs per file (copying the closure out, BuildKit's
		// checksums of what the layers copy) shows here, not above.
		name:      "F150",
		synthetic: &synthetic{paths: 150, files: 200},
		adds:      smallAdds,
	},
}

// smallAdds are packages of the test set of a few bytes each, with no
// references: "+1 small package" for the big closures.
var smallAdds = []string{"motd", "odd", "iana-etc", "tzdata", "libfoo", "cacert"}

// synthetic is a closure made of random data: paths store paths of size
// bytes each (or, with files, directories of that many files of size
// bytes), and a root that refers to them all.
type synthetic struct {
	paths int
	size  int64
	files int
}

// The layers (dedupe) comparison: a first image, and a second sharing most of
// its closure.
var (
	dedupeFirst  = []string{"busybox", "hello", "greeter", "cacert"}
	dedupeSecond = []string{"busybox", "hello", "greeter", "cacert", "tools.greet"}
)

const (
	slowFile      = "slow.nix"
	syntheticFile = "big.nix"
)

type config struct {
	cold, rebuilds int
	slow           time.Duration
	dedupe         bool
	push           bool
	platforms      bool
	verbose        bool
	workloads      []workload
	concurrent     []int         // numbers of builds started at once
	concurrentSlow time.Duration // how long each of their packages takes

	frontendImage   string
	noopImage       string // the no-op frontend's, pushed by publishFrontend
	dockerfileImage string // BuildKit's Dockerfile frontend's, pushed by publishFrontend
	registry        string
	nixImage        string
	bkConfig        string
	fetch           fetchLog // the binary cache's request log, if the bed has one
	dockerfileDir   string
	runID           string
	tmp             string
}

func main() {
	cold := flag.Int("cold", 1, "cold builds per workload and side, each on a fresh buildkitd; the median is printed")
	rebuilds := flag.Int("rebuilds", 3, "repeats of each rebuild; the median is printed")
	slow := flag.Duration("slow", 15*time.Second, "how long the slow package of W1 takes to build")
	only := flag.String("workloads", "", "comma-separated workloads to run (default all: W1,W2,W3,B400,T2000,F150)")
	dedupe := flag.Bool("dedupe", true, "also compare what a second image adds to a registry holding a first")
	push := flag.Bool("push", true, "also time \"+1 package\" rebuilds pushed to the bed's registry, which holds the first image")
	multi := flag.Bool("platforms", true, "also compare ours' one-platform builds with a two-platform build of the same Nixfile")
	verbose := flag.Bool("v", false, "print each build's steps (start, duration) to stderr")
	concurrent := flag.String("concurrent", "1,2,4", `numbers of builds to start at once on one daemon, each needing a package of its own ("": none)`)
	concurrentSlow := flag.Duration("concurrent-slow", 10*time.Second, "how long the package of each concurrent build takes to build")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: hack/bench [flags]   (markdown tables on stdout, progress on stderr)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *cold < 1 || *rebuilds < 1 {
		fatalf("-cold and -rebuilds must be at least 1")
	}

	cfg := config{
		cold: *cold, rebuilds: *rebuilds, slow: *slow, dedupe: *dedupe, push: *push, verbose: *verbose, platforms: *multi,
		frontendImage: os.Getenv("NIXFILE_FRONTEND_IMAGE"),
		registry:      os.Getenv("NIXFILE_REGISTRY"),
		nixImage:      os.Getenv("NIXFILE_NIX_IMAGE_DEFAULT"),
		bkConfig:      os.Getenv("NIXFILE_BUILDKITD_CONFIG"),
		fetch:         fetchLog{path: os.Getenv("NIXFILE_HTTP_LOG")},
	}
	if cfg.frontendImage == "" || cfg.bkConfig == "" || cfg.registry == "" {
		fatalf(`the test bed is not in the environment; run hack/bench, or: hack/testbed up && eval "$(hack/testbed env)"`)
	}
	_, file, _, _ := runtime.Caller(0)
	cfg.dockerfileDir = filepath.Join(filepath.Dir(file), "baseline")
	if _, err := os.Stat(filepath.Join(cfg.dockerfileDir, "Dockerfile")); err != nil {
		fatalf("the baseline Dockerfile: %v", err)
	}
	for _, w := range workloads {
		if *only == "" || slices.Contains(strings.Split(*only, ","), w.name) {
			cfg.workloads = append(cfg.workloads, w)
		}
	}
	if len(cfg.workloads) == 0 && *only != "none" {
		fatalf("no workload named in -workloads %q", *only)
	}
	for _, f := range strings.FieldsFunc(*concurrent, func(r rune) bool { return r == ',' }) {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fatalf("-concurrent %q: %q is not a number of builds", *concurrent, f)
		}
		cfg.concurrent = append(cfg.concurrent, n)
	}
	cfg.concurrentSlow = *concurrentSlow
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	cfg.runID = hex.EncodeToString(rnd[:])
	var err error
	if cfg.tmp, err = os.MkdirTemp("", "nixfile-bench-"); err != nil {
		fatalf("%v", err)
	}
	defer os.RemoveAll(cfg.tmp)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		os.RemoveAll(cfg.tmp)
		fatalf("%v", err)
	}
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
	os.Exit(1)
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "[bench] "+format+"\n", a...)
}

// sideResult is what one side measured on one workload.
type sideResult struct {
	cold, noChange, addOne []time.Duration
	// what each of those builds fetched from the bed's binary cache
	coldFetch, noChangeFetch, addOneFetch []fetched
	added                                 []string // the package each addOne repeat added
	addBytes                              []int64  // what each +1 image adds to a registry holding the image
	// the +1 rebuilds exported by a push to the bed's registry, which
	// holds the image: their times, packages and the bytes each adds
	addPush      []time.Duration
	addedPush    []string
	addPushBytes []int64
	img          imageInfo
	defaults     *imageInfo // ours with the ROOTFS defaults
	// ours: the no-change rebuilds through the no-op frontend; the
	// baseline: through BuildKit's Dockerfile frontend as a gateway image
	gatewayNoChange []time.Duration
}

// dedupeResult is the first and second image of the layers comparison.
type dedupeResult struct{ first, second imageInfo }

type results struct {
	work       map[string]map[side]*sideResult
	dedupe     map[string]*dedupeResult // by variant: ours, ours-defaults, baseline
	concurrent map[side]concurrentResult
}

func run(ctx context.Context, cfg config) error {
	began, loadStart := time.Now(), loadAvg()
	m, err := machine(ctx, cfg)
	if err != nil {
		return err
	}
	if cfg.noopImage, err = publishFrontend(ctx, cfg, "nixfile-bench-noop", "noopfrontend"); err != nil {
		return err
	}
	m = append(m, [2]string{"no-op frontend image", cfg.noopImage + " (hack/benchmarks/noopfrontend, built and pushed by this run)"})
	if cfg.dockerfileImage, err = publishFrontend(ctx, cfg, "nixfile-bench-dockerfile", "dockerfilefrontend"); err != nil {
		return err
	}
	m = append(m, [2]string{"Dockerfile frontend image", cfg.dockerfileImage + " (BuildKit's Dockerfile frontend at " + buildkitVersion() + ", hack/benchmarks/dockerfilefrontend, built and pushed by this run)"})
	res := results{work: map[string]map[side]*sideResult{}, dedupe: map[string]*dedupeResult{}}
	for wi, w := range cfg.workloads {
		r, err := measure(ctx, cfg, w, cfg.dedupe && wi == len(cfg.workloads)-1, res.dedupe)
		if err != nil {
			return fmt.Errorf("%s: %w", w.name, err)
		}
		res.work[w.name] = r
	}
	if len(cfg.concurrent) > 0 {
		if res.concurrent, err = measureConcurrent(ctx, cfg); err != nil {
			return err
		}
	}
	var multi []*platformResult
	if cfg.platforms {
		if multi, err = measurePlatforms(ctx, cfg); err != nil {
			return err
		}
	}
	m = append(m, [2]string{"load average", "at the start: " + loadStart + "; at the end: " + loadAvg() + " (1, 5, 15 min)"})
	fmt.Print(report(cfg, m, res, time.Since(began)))
	if multi != nil {
		fmt.Print(reportPlatforms(multi))
	}
	return nil
}

// measure runs a workload's builds for both sides, each side on a daemon of
// its own, taking turns at every step (each going first in turn) so that what
// else runs on the machine weighs on both alike. Each cold build is on fresh
// daemons; the rebuilds (and the layers comparison, if dedupe) are on the
// last cold build's daemons.
func measure(ctx context.Context, cfg config, w workload, dedupe bool, dd map[string]*dedupeResult) (map[side]*sideResult, error) {
	sides := []side{ours, baseline}
	res := map[side]*sideResult{}
	base := map[side]build{}
	dirs := map[side][2]string{} // context, Nixfile
	for _, s := range sides {
		res[s] = &sideResult{}
		contextDir, nixfileDir, err := buildDirs(cfg.tmp, w.name+"-"+s.String())
		if err != nil {
			return nil, err
		}
		var nixFiles []string
		if w.slow {
			nixFiles = []string{slowFile}
			if err := os.WriteFile(filepath.Join(contextDir, slowFile), []byte(slowNix(cfg.runID, cfg.slow)), 0o644); err != nil {
				return nil, err
			}
		}
		if w.synthetic != nil {
			nixFiles = append(nixFiles, syntheticFile)
			if err := os.WriteFile(filepath.Join(contextDir, syntheticFile), []byte(syntheticNix(*w.synthetic)), 0o644); err != nil {
				return nil, err
			}
		}
		dirs[s] = [2]string{contextDir, nixfileDir}
		base[s] = build{side: s, packages: w.packages, nixFiles: nixFiles}
	}
	for i := range cfg.cold {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err := withBuilders(ctx, cfg, sides, dirs, func(bds map[side]*builder) error {
			img := map[side]imageInfo{}
			for _, s := range turns(i) {
				// What the last build left for the disk is written now, not
				// during this one: the first step after a pull waits for all
				// of it (unmounting an overlay syncs the filesystem), so
				// whichever side went second paid for both.
				syscall.Sync()
				off := cfg.fetch.offset()
				t, im, err := bds[s].run(ctx, base[s])
				if err != nil {
					return err
				}
				res[s].coldFetch = append(res[s].coldFetch, cfg.fetch.since(off))
				res[s].cold, res[s].img, img[s] = append(res[s].cold, t), im, im
				progress("%s %s: cold build %d/%d: %s", w.name, s, i+1, cfg.cold, secs(t))
			}
			if i < cfg.cold-1 {
				return nil
			}
			// The no-op frontend takes its turn after ours, on ours' daemon,
			// and BuildKit's Dockerfile frontend as a gateway image after
			// the baseline, on the baseline's; a first build, untimed, pulls
			// each image there.
			gatewayImage := map[side]string{ours: cfg.noopImage, baseline: cfg.dockerfileImage}
			for j := range cfg.rebuilds {
				for _, s := range turns(j) {
					off := cfg.fetch.offset()
					t, again, err := bds[s].run(ctx, base[s])
					if err != nil {
						return err
					}
					res[s].noChangeFetch = append(res[s].noChangeFetch, cfg.fetch.since(off))
					if again.manifest.Digest != img[s].manifest.Digest {
						progress("warning: %s %s: a no-change rebuild gave another image (%s, was %s)",
							w.name, s, again.manifest.Digest, img[s].manifest.Digest)
					}
					res[s].noChange = append(res[s].noChange, t)
					progress("%s %s: rebuild, no change %d/%d: %s", w.name, s, j+1, cfg.rebuilds, secs(t))
					through := base[s]
					through.frontend = gatewayImage[s]
					if j == 0 {
						if _, _, err := bds[s].run(ctx, through); err != nil {
							return err
						}
					}
					if t, _, err = bds[s].run(ctx, through); err != nil {
						return err
					}
					res[s].gatewayNoChange = append(res[s].gatewayNoChange, t)
					progress("%s %s through %s: rebuild, no change %d/%d: %s", w.name, s, through.frontend, j+1, cfg.rebuilds, secs(t))
				}
			}
			for j := range min(cfg.rebuilds, len(w.adds)) {
				for _, s := range turns(j) {
					b := base[s]
					b.packages = append(slices.Clone(w.packages), w.adds[j])
					off := cfg.fetch.offset()
					t, more, err := bds[s].run(ctx, b)
					if err != nil {
						return err
					}
					res[s].addOneFetch = append(res[s].addOneFetch, cfg.fetch.since(off))
					res[s].addOne, res[s].added = append(res[s].addOne, t), append(res[s].added, w.adds[j])
					_, bytes := addedBytes(img[s], more)
					res[s].addBytes = append(res[s].addBytes, bytes)
					progress("%s %s: rebuild, +%s: %s", w.name, s, w.adds[j], secs(t))
				}
			}
			if cfg.push {
				if err := measurePush(ctx, cfg, w, bds, base, res); err != nil {
					return err
				}
			}
			b := base[ours]
			b.rootfsDefaults = true
			t, def, err := bds[ours].run(ctx, b)
			if err != nil {
				return err
			}
			res[ours].defaults = &def
			progress("%s ours: ROOTFS defaults, after the closure was built: %s", w.name, secs(t))
			if dedupe {
				for _, s := range sides {
					if err := measureDedupe(ctx, bds[s], s, dd); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// measurePush pushes each side's image to a repository of its own in the
// bed's registry (untimed), then times "+1 package" rebuilds exported by a
// push to that repository, each with a package the OCI rebuilds did not add.
func measurePush(ctx context.Context, cfg config, w workload, bds map[side]*builder, base map[side]build, res map[side]*sideResult) error {
	first := map[side]imageInfo{}
	repo := func(s side) string {
		return fmt.Sprintf("%s/nixfile-bench-%s-%s-%s", cfg.registry, cfg.runID, strings.ToLower(w.name), s)
	}
	for _, s := range []side{ours, baseline} {
		b := base[s]
		b.pushTo = repo(s) + ":first"
		_, img, err := bds[s].run(ctx, b)
		if err != nil {
			return err
		}
		first[s] = img
	}
	adds := w.adds[min(cfg.rebuilds, len(w.adds)):]
	for j := range min(cfg.rebuilds, len(adds)) {
		for _, s := range turns(j) {
			b := base[s]
			b.packages = append(slices.Clone(w.packages), adds[j])
			b.pushTo = fmt.Sprintf("%s:plus%d", repo(s), j+1)
			t, more, err := bds[s].run(ctx, b)
			if err != nil {
				return err
			}
			_, bytes := addedBytes(first[s], more)
			res[s].addPush = append(res[s].addPush, t)
			res[s].addedPush = append(res[s].addedPush, adds[j])
			res[s].addPushBytes = append(res[s].addPushBytes, bytes)
			progress("%s %s: rebuild, +%s, pushed: %s, %s new in the registry", w.name, s, adds[j], secs(t), humanBytes(bytes))
		}
	}
	return nil
}

// turns is the order of the sides at the n-th repeat of a step: each goes
// first in turn, so that neither always finds what the other warmed (the
// registry's blobs in the page cache, for a cold build).
func turns(n int) []side {
	if n%2 == 1 {
		return []side{baseline, ours}
	}
	return []side{ours, baseline}
}

// withBuilders starts a fresh daemon per side, runs f with a builder on
// each, and stops the daemons.
func withBuilders(ctx context.Context, cfg config, sides []side, dirs map[side][2]string, f func(map[side]*builder) error) error {
	bds := map[side]*builder{}
	for _, s := range sides {
		d, err := startDaemon(cfg.bkConfig)
		if err != nil {
			return err
		}
		defer d.stop()
		c, err := client.New(ctx, d.addr)
		if err != nil {
			return err
		}
		defer c.Close()
		bds[s] = &builder{c: c, contextDir: dirs[s][0], nixfileDir: dirs[s][1],
			dockerfileDir: cfg.dockerfileDir, frontendImage: cfg.frontendImage,
			tmp: filepath.Dir(dirs[s][0]), verbose: cfg.verbose}
	}
	return f(bds)
}

// measureDedupe builds the first and second images of the layers comparison
// (for ours, with ROOTFS none and with the defaults).
func measureDedupe(ctx context.Context, bd *builder, s side, out map[string]*dedupeResult) error {
	variants := []struct {
		name     string
		defaults bool
	}{{s.String(), false}}
	if s == ours {
		variants = append(variants, struct {
			name     string
			defaults bool
		}{"ours-defaults", true})
	}
	for _, v := range variants {
		var r dedupeResult
		for i, pkgs := range [][]string{dedupeFirst, dedupeSecond} {
			_, img, err := bd.run(ctx, build{side: s, packages: pkgs, rootfsDefaults: v.defaults})
			if err != nil {
				return err
			}
			if i == 0 {
				r.first = img
			} else {
				r.second = img
			}
		}
		out[v.name] = &r
		progress("layers: %s: the second image adds %s", v.name, humanBytes(mustAdded(r)))
	}
	return nil
}

func mustAdded(r dedupeResult) int64 { _, n := addedBytes(r.first, r.second); return n }

// addedBytes is what pushing next to a registry that holds prev uploads:
// next's layer blobs whose digests prev does not have, plus next's config and
// manifest. It returns how many layer blobs are new, and the bytes.
func addedBytes(prev, next imageInfo) (newLayers int, bytes int64) {
	have := map[string]bool{}
	for _, l := range prev.layers {
		have[l.Digest.String()] = true
	}
	for _, l := range next.layers {
		if !have[l.Digest.String()] {
			have[l.Digest.String()] = true // a blob is pushed once
			newLayers++
			bytes += l.Size
		}
	}
	return newLayers, bytes + next.config.Size + next.manifest.Size
}

// syntheticNix is a closure of random data, the same for both sides: a
// derivation with syn.paths outputs of syn.size random bytes each (one nix
// build, so that nix's cost per derivation does not hide the image's cost
// per path), and a root that refers to every output. The closure has
// syn.paths+1 store paths.
func syntheticNix(syn synthetic) string {
	what := fmt.Sprintf("%d store paths of %d random bytes each", syn.paths, syn.size)
	write := fmt.Sprintf("${bb} head -c %d /dev/urandom > $p", syn.size)
	if syn.files > 0 {
		// Sixteen random numbers a file, by the shell alone: a process a
		// file would take minutes.
		what = fmt.Sprintf("%d store paths of %d files of about 90 random bytes each", syn.paths, syn.files)
		write = fmt.Sprintf("${bb} mkdir -p $p/share; f=0; while [ $f -lt %d ]; do echo $o $f%s > $p/share/f$f; f=$((f+1)); done",
			syn.files, strings.Repeat(" $RANDOM", 16))
	}
	return fmt.Sprintf(`# generated by hack/bench: %[1]s, and a root
let
  pkgs = import <nixpkgs> { };
  bb = "${pkgs.busybox}/bin/busybox";
  blobs = derivation {
    name = "bench-blob";
    system = builtins.currentSystem;
    builder = "${pkgs.busybox}/bin/sh";
    outputs = builtins.genList (i: "b${toString i}") %[2]d;
    args = [ "-c" "for o in $outputs; do eval p=\\$$o; %[3]s; done" ];
  };
in
derivation {
  name = "bench-root";
  system = builtins.currentSystem;
  builder = "${pkgs.busybox}/bin/sh";
  passAsFile = [ "refs" ];
  refs = builtins.concatStringsSep "
" (map (o: blobs.${o}) blobs.outputs);
  args = [ "-c" "${bb} cp $refsPath $out" ];
}
`, what, syn.paths, write)
}

// slowNix is a package that takes d to build, the same for both sides: a
// .nix file of the build context (ours: BUILD, the baseline: nix-build).
// runID keeps its store path new in every run of the benchmark.
func slowNix(runID string, d time.Duration) string {
	return fmt.Sprintf(`# generated by hack/bench: a package that takes %[2]s to build
let pkgs = import <nixpkgs> { }; in
derivation {
  name = "bench-slow-%[1]s";
  system = builtins.currentSystem;
  builder = "${pkgs.busybox}/bin/sh";
  args = [ "-c" "${pkgs.busybox}/bin/sleep %[3]d && ${pkgs.busybox}/bin/mkdir -p $out/share && echo %[1]s > $out/share/built-by" ];
}
`, runID, d, int(d.Round(time.Second)/time.Second))
}

// buildDirs makes a build's context and Nixfile directories in a new
// directory under tmp named by prefix.
func buildDirs(tmp, prefix string) (contextDir, nixfileDir string, err error) {
	dir, err := os.MkdirTemp(tmp, prefix+"-")
	if err != nil {
		return "", "", err
	}
	contextDir, nixfileDir = filepath.Join(dir, "context"), filepath.Join(dir, "nixfile")
	for _, d := range []string{contextDir, nixfileDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", "", err
		}
	}
	return contextDir, nixfileDir, nil
}

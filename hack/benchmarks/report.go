package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
)

// machineInfo is printed above the tables: rows of name and value.
type machineInfo [][2]string

func machine(ctx context.Context, cfg config) (machineInfo, error) {
	m := machineInfo{
		{"cpu", cpuModel()},
		{"nproc", strconv.Itoa(runtime.NumCPU())},
		{"memory", memTotal()},
		{"kernel", strings.TrimSpace(readFile("/proc/sys/kernel/osrelease"))},
		{"go", runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH},
	}
	out, err := exec.CommandContext(ctx, "buildkitd", "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("buildkitd --version: %w", err)
	}
	bk := strings.TrimSpace(string(out))
	// a daemon like the ones measured, for its worker's snapshotter
	d, err := startDaemon(cfg.bkConfig)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	if c, err := client.New(ctx, d.addr); err == nil {
		if ws, err := c.ListWorkers(ctx); err == nil && len(ws) > 0 {
			bk += ", oci worker, snapshotter " + ws[0].Labels["org.mobyproject.buildkit.worker.snapshotter"]
		}
		c.Close()
	}
	m = append(m, [2]string{"buildkitd", bk})
	if out, err := exec.CommandContext(ctx, "runc", "--version").Output(); err == nil {
		m = append(m, [2]string{"runc", strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]})
	}
	m = append(m,
		[2]string{"nix image", cfg.nixImage + " (the bed's, through its docker.io mirror; both sides)"},
		[2]string{"frontend image", cfg.frontendImage + " (built from this tree)" + imageDigest(ctx, cfg.frontendImage)},
	)
	return m, nil
}

// imageDigest is ", DIGEST" of an image in the bed's registry, or "".
func imageDigest(ctx context.Context, ref string) string {
	out, err := exec.CommandContext(ctx, "crane", "digest", "--insecure", ref).Output()
	if err != nil {
		return ""
	}
	return ", " + strings.TrimSpace(string(out))
}

// loadAvg is the 1, 5 and 15 minute load averages.
func loadAvg() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func readFile(p string) string { b, _ := os.ReadFile(p); return string(b) }

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func memTotal() string {
	for _, l := range strings.Split(readFile("/proc/meminfo"), "\n") {
		if rest, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	return "?"
}

// report is the whole markdown output.
func report(cfg config, m machineInfo, res results, took time.Duration) string {
	var b strings.Builder
	b.WriteString("### Machine\n\n| | |\n|---|---|\n")
	for _, r := range m {
		fmt.Fprintf(&b, "| %s | %s |\n", r[0], r[1])
	}
	fmt.Fprintf(&b, "| settings | cold builds: median of %d; rebuilds: median of %d; slow package: %s |\n",
		cfg.cold, cfg.rebuilds, cfg.slow)
	fmt.Fprintf(&b, "| whole run | %s |\n", took.Round(time.Second))

	for _, w := range cfg.workloads {
		o, bl := res.work[w.name][ours], res.work[w.name][baseline]
		b.WriteString("\n### " + w.name + ": " + describe(w, cfg) + "\n\n")
		t := newTable()
		t.time(fmt.Sprintf("cold build, fresh buildkitd (median of %d)", len(o.cold)), o.cold, bl.cold)
		t.time(fmt.Sprintf("rebuild, no change (median of %d)", len(o.noChange)), o.noChange, bl.noChange)
		t.time(fmt.Sprintf("rebuild, no change: a gateway frontend that does nothing (the floor of any `# syntax=` frontend; median of %d)",
			len(o.gatewayNoChange)), o.gatewayNoChange, bl.noChange)
		if len(bl.gatewayNoChange) > 0 {
			t.time(fmt.Sprintf("rebuild, no change: ours against the baseline's Dockerfile through BuildKit's own Dockerfile frontend as a `# syntax=` image (median of %d)",
				len(bl.gatewayNoChange)), o.noChange, bl.gatewayNoChange)
			t.add("rebuild, no change, over the no-op frontend (goal for ours: at most 0.10 s; baseline column: BuildKit's Dockerfile frontend as a `# syntax=` image)",
				secs(median(o.noChange)-median(o.gatewayNoChange)), secs(median(bl.gatewayNoChange)-median(o.gatewayNoChange)), "")
		}
		t.time(fmt.Sprintf("rebuild after adding one package (median of %d: %s)", len(o.addOne), plusList(o.added)), o.addOne, bl.addOne)
		t.add("rebuild after adding one package, over the cold build (goal for ours: at most 0.3)",
			ratio(float64(median(o.addOne)), float64(median(o.cold))), ratio(float64(median(bl.addOne)), float64(median(bl.cold))), "")
		if len(o.addPush) > 0 {
			t.time(fmt.Sprintf("rebuild after adding one package, pushed to the bed's registry, which holds the image (median of %d: %s)",
				len(o.addPush), plusList(o.addedPush)), o.addPush, bl.addPush)
			t.bytes("bytes that push adds to the registry (median)", medianInt(o.addPushBytes), medianInt(bl.addPushBytes))
		}
		if cfg.fetch.path != "" {
			t.fetched("fetched from the binary cache: cold build (median)", o.coldFetch, bl.coldFetch)
			t.fetched("fetched from the binary cache: rebuild, no change (median)", o.noChangeFetch, bl.noChangeFetch)
			t.fetched("fetched from the binary cache: rebuild after adding one package (median)", o.addOneFetch, bl.addOneFetch)
		}
		t.bytes("image size (sum of compressed layers)", o.img.size(), bl.img.size())
		t.count("layers", len(o.img.layers), len(bl.img.layers))
		t.count("store paths in the image", len(o.img.storePaths), len(bl.img.storePaths))
		t.bytes("bytes the +1 image adds to a registry holding the image (median)", medianInt(o.addBytes), medianInt(bl.addBytes))
		if o.defaults != nil {
			t.bytes("image size, ours with the ROOTFS defaults", o.defaults.size(), bl.img.size())
			t.count("layers, ours with the ROOTFS defaults", len(o.defaults.layers), len(bl.img.layers))
		}
		b.WriteString(t.String())
	}

	if len(res.dedupe) > 0 {
		o, od, bl := res.dedupe["ours"], res.dedupe["ours-defaults"], res.dedupe["baseline"]
		fmt.Fprintf(&b, "\n### Layers: a second image next to a first\n\nfirst: `%s`; second: `%s`\n\n",
			strings.Join(dedupeFirst, " "), strings.Join(dedupeSecond, " "))
		t := newTable()
		t.bytes("first image: size", o.first.size(), bl.first.size())
		t.count("first image: layers", len(o.first.layers), len(bl.first.layers))
		t.bytes("second image: size", o.second.size(), bl.second.size())
		t.count("second image: layers", len(o.second.layers), len(bl.second.layers))
		on, ob := addedBytes(o.first, o.second)
		bn, bb := addedBytes(bl.first, bl.second)
		t.count("second image: layer blobs the first does not have", on, bn)
		t.bytes("bytes the second adds to a registry holding the first (new layers + config + manifest)", ob, bb)
		if od != nil {
			_, db := addedBytes(od.first, od.second)
			t.bytes("the same, ours with the ROOTFS defaults", db, bb)
		}
		b.WriteString(t.String())
	}

	if res.concurrent != nil {
		b.WriteString(concurrentTable(cfg, res.concurrent))
	}

	b.WriteString(`
Notes:

- ours: ` + "`gateway.v0`" + ` with the frontend image, a generated Nixfile (` + "`PACKAGES ...`" + `,
  ` + "`BUILD slow.nix`" + ` for W1) with ` + "`ROOTFS none`" + `, so that its image is exactly the
  closure, like the baseline's; the "ROOTFS defaults" rows keep accounts, ` + "`/tmp`" + `,
  the CA bundle and ` + "`/bin`" + ` links (built on the same daemon after the closure).
- baseline: ` + "`dockerfile.v0`" + ` (BuildKit's built-in frontend) with
  ` + "`hack/benchmarks/baseline/Dockerfile`" + `: ` + "`nix-build`" + ` on the same nix image,
  ` + "`cp -a $(nix-store -qR ...)`" + ` into a directory, ` + "`COPY --from`" + ` it onto scratch.
- Times are ` + "`time.Since`" + ` around the Solve, export to an OCI tar included. Each side
  builds on a buildkitd of its own, started on an empty state for the cold build
  (both sides pull the nix image from the bed's registry; ours also pulls its
  frontend image); the rebuilds are on that same daemon. The sides take turns at
  every step, each going first in turn, so that other load on the machine weighs
  on both alike and neither always finds the other's pull in the page cache. Each "+1
  package" repeat adds a different package to the workload's list.
- "a gateway frontend that does nothing": ` + "`gateway.v0`" + ` with ` + "`hack/benchmarks/noopfrontend`" + `
  (it returns scratch, reading nothing; pushed to the bed's registry at the start)
  instead of ours' frontend image, on ours' daemon right after each of ours' no-change
  rebuilds, with the same mounts and export. It is what any gateway frontend costs
  (its container start) that the built-in Dockerfile frontend does not pay; ours'
  no-change rebuild minus it is what ours itself costs.
- "BuildKit's own Dockerfile frontend as a ` + "`# syntax=`" + ` image": ` + "`gateway.v0`" + ` with
  ` + "`hack/benchmarks/dockerfilefrontend`" + ` (BuildKit's Dockerfile frontend at the BuildKit
  version nixfile builds with, what the docker/dockerfile images run; pushed at the
  start) instead of the built-in frontend, on the baseline's daemon right after each
  of its no-change rebuilds. It reads the Dockerfile, the .dockerignore and the
  context as ours does: what a frontend that reads them costs over the no-op one
  when it is BuildKit's own. The no-op frontend runs on ours' daemon, so the
  difference in the "over the no-op frontend" row is across two daemons.
- Sizes are compressed (gzip) layer sizes from the OCI export's manifest.
- "fetched from the binary cache": what the bed's cache server (on loopback)
  logged during the build, requests and bytes. The nix image lists that cache as
  its substituter, so both sides substitute every package it has (all but W1's
  slow one) rather than build it, as with cache.nixos.org.
- concurrent builds: each side on a buildkitd of its own, after one untimed build
  there; each build has a context of its own and a slow package of its own, new
  in every repeat. The wall time runs from the first build's start to the last
  one's end. Builds that took turns at the nix store (as ours did while the
  store cache was a locked cache mount) would take N times one build; the
  baseline has no shared store.
`)
	return b.String()
}

func describe(w workload, cfg config) string {
	s := "`" + strings.Join(w.packages, " ") + "`"
	if w.slow {
		s += fmt.Sprintf(" + a slow package (a `.nix` file of the context that takes %s to build)", cfg.slow)
	}
	if y := w.synthetic; y != nil && y.files > 0 {
		s = fmt.Sprintf("%d store paths, each a directory of %d files of about 90 B of random numbers, and a root that refers to them (`big.nix`, one nix build)",
			y.paths, y.files)
	} else if y != nil {
		s = fmt.Sprintf("%d store paths of %s of random data each, and a root that refers to them (`big.nix`, one nix build)",
			y.paths, humanBytes(y.size))
	}
	return s
}

func plusList(p []string) string {
	var out []string
	for _, s := range p {
		out = append(out, "+"+s)
	}
	return strings.Join(out, ", ")
}

// table is a markdown table of metric, ours, baseline, ours/baseline.
type table struct{ rows [][4]string }

func newTable() *table { return &table{} }

func (t *table) add(metric, o, b, ratio string) {
	t.rows = append(t.rows, [4]string{metric, o, b, ratio})
}

func (t *table) time(metric string, o, b []time.Duration) {
	mo, mb := median(o), median(b)
	t.add(metric, secs(mo), secs(mb), ratio(float64(mo), float64(mb)))
}

func (t *table) bytes(metric string, o, b int64) {
	t.add(metric, humanBytes(o), humanBytes(b), ratio(float64(o), float64(b)))
}

func (t *table) count(metric string, o, b int) {
	t.add(metric, strconv.Itoa(o), strconv.Itoa(b), ratio(float64(o), float64(b)))
}

func (t *table) String() string {
	var b strings.Builder
	b.WriteString("| metric | ours | baseline | ours/baseline |\n|---|--:|--:|--:|\n")
	for _, r := range t.rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r[0], r[1], r[2], r[3])
	}
	return b.String()
}

func ratio(o, b float64) string {
	if b == 0 {
		return "n/a"
	}
	if r := o / b; r != 0 && r < 0.1 {
		return strconv.FormatFloat(r, 'g', 2, 64) // two significant digits
	}
	return fmt.Sprintf("%.2f", o/b)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// median of the samples; the mean of the two middle ones for an even count.
func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianInt(n []int64) int64 {
	d := make([]time.Duration, len(n))
	for i, v := range n {
		d[i] = time.Duration(v)
	}
	return int64(median(d))
}

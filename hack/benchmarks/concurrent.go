package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// concurrentResult is, for each number of builds started at once, the wall
// times of the repeats (from the first start to the last end).
type concurrentResult map[int][]time.Duration

// measureConcurrent starts N builds at once (for each N of cfg.concurrent),
// each of a Nixfile of its own that needs a package of its own (a slow
// package taking cfg.concurrentSlow to build, new in every build), on one
// daemon per side. Each side first builds once, untimed, so that the
// images are pulled and ours' store cache exists. The sides take turns at
// every step, each going first in turn.
func measureConcurrent(ctx context.Context, cfg config) (map[side]concurrentResult, error) {
	sides := []side{ours, baseline}
	res := map[side]concurrentResult{ours: {}, baseline: {}}
	dirs := map[side][2]string{}
	for _, s := range sides {
		contextDir, nixfileDir, err := buildDirs(cfg.tmp, "concurrent-"+s.String())
		if err != nil {
			return nil, err
		}
		dirs[s] = [2]string{contextDir, nixfileDir}
	}
	err := withBuilders(ctx, cfg, sides, dirs, func(bds map[side]*builder) error {
		for _, s := range sides {
			if _, _, err := bds[s].run(ctx, build{side: s, packages: []string{"hello"}}); err != nil {
				return fmt.Errorf("concurrent builds: the first build: %w", err)
			}
		}
		for rep := range cfg.rebuilds {
			for _, n := range cfg.concurrent {
				for _, s := range turns(rep) {
					t, err := buildAtOnce(ctx, cfg, bds[s], s, n, fmt.Sprintf("%s-%d-%d", cfg.runID, rep, n))
					if err != nil {
						return fmt.Errorf("concurrent builds: %d at once: %w", n, err)
					}
					res[s][n] = append(res[s][n], t)
					progress("concurrent %s: %d builds at once %d/%d: %s", s, n, rep+1, cfg.rebuilds, secs(t))
				}
			}
		}
		return nil
	})
	return res, err
}

// buildAtOnce starts n builds at once on bd's daemon, each in a context of
// its own with a slow package of its own, and returns the time until the
// last one ended.
func buildAtOnce(ctx context.Context, cfg config, bd *builder, s side, n int, id string) (time.Duration, error) {
	bds := make([]*builder, n)
	for i := range n {
		contextDir, nixfileDir, err := buildDirs(bd.tmp, "at-once")
		if err != nil {
			return 0, err
		}
		dir := filepath.Dir(contextDir)
		defer os.RemoveAll(dir)
		b := *bd
		b.contextDir, b.nixfileDir, b.tmp = contextDir, nixfileDir, dir
		slow := slowNix(fmt.Sprintf("%s-%d", id, i), cfg.concurrentSlow)
		if err := os.WriteFile(filepath.Join(b.contextDir, slowFile), []byte(slow), 0o644); err != nil {
			return 0, err
		}
		bds[i] = &b
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i, b := range bds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = b.run(ctx, build{side: s, packages: []string{"hello"}, nixFiles: []string{slowFile}})
		}()
	}
	wg.Wait()
	took := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return took, nil
}

// concurrentTable is the concurrent builds' table: per N, the wall time,
// and the wall time against one build's (N builds taking turns would be N).
func concurrentTable(cfg config, res map[side]concurrentResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n### Concurrent builds on one daemon: N builds started at once, each of its own Nixfile (`PACKAGES hello` + a slow package of its own, a `.nix` file of the context that takes %s to build)\n\n", cfg.concurrentSlow)
	t := newTable()
	one := map[side]time.Duration{ours: median(res[ours][1]), baseline: median(res[baseline][1])}
	for _, n := range cfg.concurrent {
		o, bl := res[ours][n], res[baseline][n]
		t.time(fmt.Sprintf("%d at once: wall time (median of %d)", n, len(o)), o, bl)
		if n != 1 && one[ours] > 0 && one[baseline] > 0 {
			t.add(fmt.Sprintf("%d at once: wall time / one build's (taking turns: %d)", n, n),
				ratio(float64(median(o)), float64(one[ours])), ratio(float64(median(bl)), float64(one[baseline])), "")
		}
	}
	b.WriteString(t.String())
	return b.String()
}

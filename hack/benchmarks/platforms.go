package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The multi-platform comparison: ours builds one Nixfile for one platform,
// for the other alone, and for both, each cold on a fresh daemon, then
// again with no change. nix runs on the build platform for both (the
// foreign system's paths come from the bed's binary cache), so the two-
// platform build costs a second evaluation and fetch, not emulation.

var platformBuilds = []string{"linux/amd64", "linux/arm64", "linux/amd64,linux/arm64"}

// platformPackages is the Nixfile's package list: a closure three deep.
var platformPackages = []string{"hello", "greeter"}

type platformResult struct {
	platforms      string
	cold, noChange []time.Duration
	coldFetch      []fetched
}

func measurePlatforms(ctx context.Context, cfg config) ([]*platformResult, error) {
	contextDir, nixfileDir, err := buildDirs(cfg.tmp, "platforms")
	if err != nil {
		return nil, err
	}
	dirs := map[side][2]string{ours: {contextDir, nixfileDir}}
	var out []*platformResult
	for _, p := range platformBuilds {
		out = append(out, &platformResult{platforms: p})
	}
	for i := range cfg.cold {
		// Each platform set in turn goes first, on a daemon of its own.
		for k := range platformBuilds {
			r := out[(i+k)%len(out)]
			b := build{side: ours, packages: platformPackages, platforms: r.platforms}
			err := withBuilders(ctx, cfg, []side{ours}, dirs, func(bds map[side]*builder) error {
				off := cfg.fetch.offset()
				t, _, err := bds[ours].run(ctx, b)
				if err != nil {
					return err
				}
				r.cold, r.coldFetch = append(r.cold, t), append(r.coldFetch, cfg.fetch.since(off))
				progress("platforms %s: cold build %d/%d: %s", r.platforms, i+1, cfg.cold, secs(t))
				for j := range cfg.rebuilds {
					if t, _, err = bds[ours].run(ctx, b); err != nil {
						return err
					}
					r.noChange = append(r.noChange, t)
					progress("platforms %s: rebuild, no change %d/%d: %s", r.platforms, j+1, cfg.rebuilds, secs(t))
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("platforms %s: %w", r.platforms, err)
			}
		}
	}
	return out, nil
}

func reportPlatforms(rs []*platformResult) string {
	var b strings.Builder
	b.WriteString("\n## Multi-platform (ours)\n\n")
	fmt.Fprintf(&b, "One Nixfile (`PACKAGES %s`, ROOTFS none), built cold on a fresh daemon for each `--platform`, then again with no change (medians). nix runs on the build platform (linux/amd64) for every target: the aarch64-linux closure is substituted from the bed's binary cache, nothing runs under emulation.\n\n", strings.Join(platformPackages, " "))
	b.WriteString("| --platform | cold | fetched (cold) | rebuild, no change |\n|---|---|---|---|\n")
	for _, r := range rs {
		f := medianFetched(r.coldFetch)
		fmt.Fprintf(&b, "| %s | %s | %d requests, %s | %s |\n", r.platforms, secs(median(r.cold)), f.requests, humanBytes(f.bytes), secs(median(r.noChange)))
	}
	b.WriteString("\nThe Dockerfile baseline's two-platform build is not measured: it runs nix in the nix image of each target platform, so its linux/arm64 half needs an arm64 emulator (binfmt_misc with QEMU) on the daemon's machine, which this bed does not register (binfmt_misc is the kernel's, shared by everything on the machine).\n")
	return b.String()
}

package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixfile/nixfile/internal/testbed"
)

// sleeperNix is a BUILD file: a package of its own, named by nonce, whose
// build prints "sleeper-NONCE start", sleeps the given seconds and prints
// "sleeper-NONCE end"; its bin/sleeper prints "sleeper NONCE".
func sleeperNix(nonce string, seconds int) string {
	return busyboxPackage("sleeper-"+nonce, fmt.Sprintf(`    echo "sleeper-%[1]s start"
    sleep %[2]d
    mkdir -p $out/bin
    printf '#!%%s/bin/sh\necho sleeper %[1]s\n' ${busybox} > $out/bin/sleeper
    chmod 0555 $out/bin/sleeper
    echo "sleeper-%[1]s end"
`, nonce, seconds))
}

// logTime is when BuildKit received the first log chunk holding text.
func (i *image) logTime(t *testing.T, text string) time.Time {
	t.Helper()
	for _, c := range i.logAt {
		if strings.Contains(c.data, text) {
			return c.at
		}
	}
	t.Fatalf("no %q in the build log:\n%s", text, tail(i.log, 30))
	return time.Time{}
}

// Four builds started at once on one daemon, each needing its own package
// that takes 10 seconds to build, run their nix steps at the same time on
// the shared store: the logs show every build's package building while
// the others' do. (With the store cache locked, they took turns: four
// times one build.)
func TestConcurrentNixStepsOverlap(t *testing.T) {
	bed := testbed.Require(t)
	const builds = 4
	nonces := make([]string, builds)
	imgs := make([]*image, builds)
	errs := make([]error, builds)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range builds {
		nonces[i] = nonce(t)
		dir := writeContext(t, map[string]string{
			"Nixfile":     "BUILD sleeper.nix\nENTRYPOINT [\"sleeper\"]\n",
			"sleeper.nix": sleeperNix(nonces[i], 10),
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			imgs[i], errs[i] = build(t, bed, dir, buildOpts{run: [][]string{nil}})
		}()
	}
	wg.Wait()
	t.Logf("%d builds took %v", builds, time.Since(start).Round(time.Millisecond))
	var lastStart, firstEnd time.Time
	for i, img := range imgs {
		if errs[i] != nil {
			t.Fatalf("build %d failed: %v", i, errs[i])
		}
		if o := img.outputs[0]; o.err != nil || o.stdout != "sleeper "+nonces[i]+"\n" {
			t.Errorf("build %d printed %q (%v), want its own package's output", i, o.stdout, o.err)
		}
		if got := len(img.storeEntries()); got != 2 {
			t.Errorf("build %d: the closure is %v, want sleeper-%s and busybox", i, img.storeEntries(), nonces[i])
		}
		s, e := img.logTime(t, "sleeper-"+nonces[i]+" start"), img.logTime(t, "sleeper-"+nonces[i]+" end")
		t.Logf("build %d: its package built from %s to %s", i, s.Format("15:04:05.000"), e.Format("15:04:05.000"))
		if lastStart.IsZero() || s.After(lastStart) {
			lastStart = s
		}
		if firstEnd.IsZero() || e.Before(firstEnd) {
			firstEnd = e
		}
	}
	if !lastStart.Before(firstEnd) {
		t.Errorf("the nix steps did not overlap: the last package started building at %s, after the first finished at %s",
			lastStart.Format("15:04:05.000"), firstEnd.Format("15:04:05.000"))
	}
}

// Eight builds of one Nixfile started at once on a store no build has used
// (NIXFILE_STORE: a new name) all succeed with the same image, and nix
// builds the package once: the others wait on nix's lock on its output and
// find it built. On both nix images: the nix 2.8 one has an empty /nix, so
// the store starts with no database (where concurrent builds once failed
// with "SQLite database ... is busy"). Each build's NIXFILE_NIX_TIMEOUT
// differs, so that the eight nix steps are eight steps to BuildKit, which
// would otherwise run one step for all.
func TestConcurrentBuildsOfOneNixfileBuildOnce(t *testing.T) {
	bed := testbed.Require(t)
	for _, c := range []struct{ name, image string }{
		{"default image", ""},
		{"nix 2.8, empty /nix", bed.RequireNix28(t)},
	} {
		t.Run(c.name, func(t *testing.T) {
			const builds = 8
			n := nonce(t)
			dir := writeContext(t, map[string]string{
				"Nixfile":     "BUILD sleeper.nix\nENTRYPOINT [\"sleeper\"]\n",
				"sleeper.nix": sleeperNix(n, 5),
			})
			store := "concurrent-" + n
			imgs := make([]*image, builds)
			errs := make([]error, builds)
			var wg sync.WaitGroup
			for i := range builds {
				attrs := map[string]string{
					"build-arg:NIXFILE_STORE":       store,
					"build-arg:NIXFILE_NIX_TIMEOUT": fmt.Sprint(3600 + i),
				}
				if c.image != "" {
					attrs["build-arg:NIX_IMAGE"] = c.image
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					imgs[i], errs[i] = build(t, bed, dir, buildOpts{attrs: attrs, run: [][]string{nil}})
				}()
			}
			wg.Wait()
			building := regexp.MustCompile(`building '/nix/store/[0-9a-z]{32}-sleeper-` + n + `\.drv'`)
			built, started, ran := 0, 0, 0
			for i, img := range imgs {
				if errs[i] != nil {
					t.Errorf("build %d failed: %v", i, errs[i])
					continue
				}
				if o := img.outputs[0]; o.err != nil || o.stdout != "sleeper "+n+"\n" {
					t.Errorf("build %d printed %q (%v)", i, o.stdout, o.err)
				}
				if img.digest != imgs[0].digest {
					t.Errorf("build %d gave image %s, build 0 %s", i, img.digest, imgs[0].digest)
				}
				built += len(building.FindAllString(img.log, -1))
				started += strings.Count(img.log, "sleeper-"+n+" start")
				for name, cached := range img.cached {
					if strings.HasPrefix(name, "[nix] build") && !cached {
						ran++
					}
				}
			}
			if t.Failed() {
				return
			}
			// The default image's /nix has a store database and seeds the
			// store as it is; an empty /nix gets the seed step.
			seedStep, fromImage := "[internal] nix store seed", "[internal] nix store from the image"
			if c.image != "" {
				seedStep, fromImage = fromImage, seedStep
			}
			if _, ok := imgs[0].cached[fromImage]; !ok {
				t.Errorf("no step %q: %v", fromImage, keys(imgs[0].cached))
			}
			if _, ok := imgs[0].cached[seedStep]; ok {
				t.Errorf("a step %q: %v", seedStep, keys(imgs[0].cached))
			}
			if ran != builds {
				t.Errorf("%d nix steps ran, want %d: BuildKit merged the builds, nothing was shared through nix", ran, builds)
			}
			if built != 1 || started != 1 {
				t.Errorf("the package was built %d times (its builder started %d times) across the %d builds, want once", built, started, builds)
			}
		})
	}
}

package nixfile2llb

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/nixfile/nixfile/frontend/nixfile"
	nixllb "github.com/nixfile/nixfile/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// defaultPath follows the requested packages' bin directories, so that the
// /bin and /usr/bin an image may have still resolve.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// imagePath is the PATH an image starts with: the requested packages' bin
// directories, by package name, then the usual directories.
func imagePath(c *nixllb.Closure) string {
	if c == nil || len(c.Bins) == 0 {
		return defaultPath
	}
	dirs := make([]string, 0, len(c.Bins)+1)
	for _, b := range c.Bins {
		dirs = append(dirs, b+"/bin")
	}
	return strings.Join(append(dirs, defaultPath), ":")
}

// imageFor makes the image config in Go, never from a file of the build. The
// config's Created is SOURCE_DATE_EPOCH or absent (the exporter then stamps
// the epoch the builder passes, never the wall clock).
func imageFor(p ocispecs.Platform, c imageConfig, basePath string, rootEnv []string, epoch *time.Time) *dockerspec.DockerOCIImage {
	img := &dockerspec.DockerOCIImage{}
	img.Platform = p
	img.RootFS.Type = "layers"
	if epoch != nil {
		t := epoch.UTC()
		img.Created = &t
	}
	env := append([]string{"PATH=" + basePath}, rootEnv...)
	for _, kv := range c.env {
		env = setEnv(env, kv.Key, kv.Value)
	}
	img.Config.Env = env
	// Copies: the plan's config serves every Assemble.
	if c.hasEntry {
		img.Config.Entrypoint = nonNil(slices.Clone(c.entrypoint))
	}
	if c.hasCmd {
		img.Config.Cmd = nonNil(slices.Clone(c.cmd))
	}
	img.Config.WorkingDir = c.workdir
	img.Config.User = c.user
	img.Config.StopSignal = c.stopSignal
	if c.healthcheck != nil {
		hc := *c.healthcheck
		hc.Test = slices.Clone(hc.Test)
		img.Config.Healthcheck = &hc
	}
	if len(c.ports) > 0 {
		img.Config.ExposedPorts = map[string]struct{}{}
		for _, port := range c.ports {
			img.Config.ExposedPorts[port] = struct{}{}
		}
	}
	if len(c.volumes) > 0 {
		img.Config.Volumes = map[string]struct{}{}
		for _, v := range c.volumes {
			img.Config.Volumes[v] = struct{}{}
		}
	}
	if len(c.labels) > 0 {
		img.Config.Labels = map[string]string{}
		for _, kv := range c.labels {
			img.Config.Labels[kv.Key] = kv.Value
		}
	}
	return img
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// setEnv sets k in a KEY=VALUE list, keeping its place if already there.
func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// osFileMode passes unix mode bits (setuid 04000, setgid 02000, sticky
// 01000) as BuildKit's copy expects them, not as Go's os.Mode* flags.
func osFileMode(m int) os.FileMode { return os.FileMode(m) }

// MaxConfigSize is the most bytes an image config may have. The builder
// hands the configs of every platform to BuildKit in one message, which
// may not pass 16 MiB: past it the build failed with "exit code: 1" and no
// message. No real config comes near it.
const MaxConfigSize = 4 << 20

// checkConfigSize fails when img is larger than MaxConfigSize, blaming the
// instruction that adds the most to it.
func (r *resolved) checkConfigSize(img *dockerspec.DockerOCIImage) error {
	dt, err := json.Marshal(img)
	if err != nil {
		return fmt.Errorf("marshalling the image config: %w", err)
	}
	if len(dt) <= MaxConfigSize {
		return nil
	}
	err = fmt.Errorf("the image config is %.1f MiB, more than %d MiB", float64(len(dt))/(1<<20), MaxConfigSize>>20)
	var largest *sizedLine
	for i, l := range r.configLines {
		if largest == nil || l.size > largest.size {
			largest = &r.configLines[i]
		}
	}
	// A line that adds a tenth of it is what made it large.
	if largest != nil && largest.size >= len(dt)/10 {
		return nixfile.WithLocation(fmt.Errorf("%s: %w", nixfile.KeywordOf(largest.instr), err), largest.instr)
	}
	// Without such a line, what makes it large is the closure (PATH, the
	// history of its layers): blame the lines that ask for it.
	if len(r.groups) > 0 {
		var also []nixfile.Range
		for _, g := range r.groups[1:] {
			also = append(also, g.rng)
		}
		return &nixfile.LocationError{Range: r.groups[0].rng, Also: also, Err: err}
	}
	return err
}

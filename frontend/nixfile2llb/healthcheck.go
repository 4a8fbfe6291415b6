package nixfile2llb

import (
	"fmt"
	"strconv"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/nixfile/nixfile/frontend/expand"
)

// minHealthcheckDuration is the shortest interval, timeout or start period
// Docker takes; 0 leaves the engine's default.
const minHealthcheckDuration = time.Millisecond

// healthcheckOf reads an expanded HEALTHCHECK line as a Dockerfile's
// HEALTHCHECK reads: NONE turns the check off; a command runs as the
// "CMD" form, without a shell, as the Nixfile's CMD does (an image need
// not have one). Flags left out, and 0, are the engine's defaults.
func healthcheckOf(l *expand.Line) (*dockerspec.HealthcheckConfig, error) {
	if l.Value == "NONE" {
		return &dockerspec.HealthcheckConfig{Test: []string{"NONE"}}, nil
	}
	if len(l.Words) == 0 {
		return nil, fmt.Errorf("CMD needs a command: its words expand to nothing")
	}
	hc := &dockerspec.HealthcheckConfig{Test: append([]string{"CMD"}, l.Words...)}
	for _, f := range l.Pairs {
		if f.Key == "retries" {
			n, err := strconv.ParseInt(f.Value, 10, 32)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("--retries=%s: give a number of failures, 0 or more (0 is the engine's default, 3)", f.Value)
			}
			hc.Retries = int(n)
			continue
		}
		d, err := time.ParseDuration(f.Value)
		if err != nil || (d != 0 && d < minHealthcheckDuration) {
			return nil, fmt.Errorf("--%s=%s: give a duration of at least %s, such as 30s or 1m30s (0 is the engine's default)", f.Key, f.Value, minHealthcheckDuration)
		}
		switch f.Key {
		case "interval":
			hc.Interval = d
		case "timeout":
			hc.Timeout = d
		case "start-period":
			hc.StartPeriod = d
		case "start-interval":
			hc.StartInterval = d
		}
	}
	return hc, nil
}

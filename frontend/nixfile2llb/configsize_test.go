package nixfile2llb_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/frontend/nixfile"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
)

// An image config past MaxConfigSize, which BuildKit could not take, is an
// error at the line that adds the most to it; words that expand past
// MaxExpandedSize are an error at the line that passes it.
func TestConfigSizeLimit(t *testing.T) {
	mib := strings.Repeat("x", 1<<20)
	tests := []struct {
		name      string
		nixfile   string
		buildArgs map[string]string
		// inPlan is whether NewPlan fails; else Assemble does.
		inPlan   bool
		wantLine int
		wantMsg  string // "" when it must succeed
	}{
		{
			name:      "labels past the limit blame the largest",
			nixfile:   "ARG A\nPACKAGES hello\nLABEL a=$A\nLABEL b=$A$A\nENV C=$A\n",
			buildArgs: map[string]string{"A": mib},
			wantLine:  4, wantMsg: "LABEL: the image config is",
		},
		{
			name:      "ENV past the limit",
			nixfile:   "ARG A\nENV A=$A$A$A$A$A\n",
			buildArgs: map[string]string{"A": mib},
			wantLine:  2, wantMsg: "ENV: the image config is 5.0 MiB, more than 4 MiB",
		},
		{
			name:      "under the limit",
			nixfile:   "ARG A\nLABEL a=$A$A$A\n",
			buildArgs: map[string]string{"A": mib},
		},
		{
			name:      "expansion past its limit",
			nixfile:   "ARG A\nPACKAGES hello\n" + strings.Repeat("ARG B=$A\n", 15) + "ARG C=$A\n",
			buildArgs: map[string]string{"A": mib},
			inPlan:    true, wantLine: 18, wantMsg: "expand to more than 16 MiB",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := nixfile2llb.ConvertOpt{BuildArgs: tt.buildArgs}
			plan, err := nixfile2llb.NewPlan(context.Background(), parse(t, tt.nixfile), opt)
			if err == nil && !tt.inPlan {
				var res *nixfile2llb.Result
				closure := closureOf(t, []string{"hello-2.12.1"}, nil, []string{"hello-2.12.1"})
				if plan.Stage == nil {
					closure = nil
				}
				res, err = plan.Assemble(closure)
				if err == nil && tt.wantMsg == "" {
					dt, _ := json.Marshal(res.Image)
					if len(dt) > nixfile2llb.MaxConfigSize {
						t.Fatalf("Assemble gave a config of %d bytes", len(dt))
					}
					return
				}
			}
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.wantMsg)
			}
			if tt.wantMsg == "" {
				t.Fatal(err)
			}
			var le *nixfile.LocationError
			if !errors.As(err, &le) || le.Range.Start.Line != tt.wantLine {
				t.Fatalf("error %.200v is not located at line %d", err, tt.wantLine)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %.200q does not contain %q", err, tt.wantMsg)
			}
		})
	}
}

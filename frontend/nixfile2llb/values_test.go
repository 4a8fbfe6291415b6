package nixfile2llb_test

import (
	"strings"
	"testing"

	"github.com/nixfile/nixfile/frontend/nixfile"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
)

// Values out of range are errors at their line, found by NewPlan, before
// the nix stage runs.
func TestValuesOutOfRange(t *testing.T) {
	tests := []struct {
		name      string
		nixfile   string
		buildArgs map[string]string
		wantLine  int
		wantMsg   string
	}{
		{name: "USER uid 2^40", nixfile: "PACKAGES hello\nUSER 1099511627776\n", wantLine: 2, wantMsg: "ids are from 0 to 4294967294"},
		{name: "USER uid 2^32-1", nixfile: "USER 4294967295\n", wantLine: 1, wantMsg: "not an id"},
		{name: "USER gid 2^32", nixfile: "USER 1000:4294967296\n", wantLine: 1, wantMsg: "invalid gid"},
		{name: "USER uid past int64", nixfile: "USER 99999999999999999999\n", wantLine: 1, wantMsg: "not an id"},
		{name: "USER uid from a build arg", nixfile: "ARG U\nUSER $U\n", buildArgs: map[string]string{"U": "4294967296"}, wantLine: 2, wantMsg: "not an id"},
		{name: "USER name that is not one", nixfile: "USER a/b\n", wantLine: 1, wantMsg: "invalid user name"},
		{name: "COPY --chown uid 2^32", nixfile: "COPY --chown=4294967296 a /a\n", wantLine: 1, wantMsg: "not an id"},
		{name: "COPY --chown gid 2^40", nixfile: "COPY --chown=0:1099511627776 a /a\n", wantLine: 1, wantMsg: "not an id"},
		{name: "COPY --chown unknown user, found early", nixfile: "PACKAGES hello\nCOPY --chown=app a /a\n", wantLine: 2, wantMsg: `unknown user "app"`},
		{name: "STOPSIGNAL unknown name", nixfile: "STOPSIGNAL SIGFOO\n", wantLine: 1, wantMsg: "invalid signal"},
		{name: "STOPSIGNAL 0", nixfile: "STOPSIGNAL 0\n", wantLine: 1, wantMsg: "from 1 to 64"},
		{name: "STOPSIGNAL 65", nixfile: "STOPSIGNAL 65\n", wantLine: 1, wantMsg: "from 1 to 64"},
		{name: "STOPSIGNAL negative", nixfile: "STOPSIGNAL -9\n", wantLine: 1, wantMsg: "from 1 to 64"},
		{name: "STOPSIGNAL RTMIN+16", nixfile: "STOPSIGNAL SIGRTMIN+16\n", wantLine: 1, wantMsg: "invalid signal"},
		{name: "STOPSIGNAL empty", nixfile: "ARG S\nSTOPSIGNAL $S\n", wantLine: 2, wantMsg: "invalid signal"},
		{name: "LAYERS 0", nixfile: "LAYERS 0\n", wantLine: 1, wantMsg: "from 1 to 120"},
		{name: "LAYERS 121", nixfile: "LAYERS 121\n", wantLine: 1, wantMsg: "from 1 to 120"},
		{name: "LAYERS not a number", nixfile: "LAYERS ten\n", wantLine: 1, wantMsg: "from 1 to 120"},
		{name: "EXPOSE port 0", nixfile: "EXPOSE 0\n", wantLine: 1, wantMsg: "out of range"},
		{name: "EXPOSE port 65536", nixfile: "EXPOSE 65536/udp\n", wantLine: 1, wantMsg: "out of range"},
		{name: "EXPOSE unknown protocol", nixfile: "EXPOSE 80/icmp\n", wantLine: 1, wantMsg: "invalid port"},
		{name: "EXPOSE six digits", nixfile: "EXPOSE 100000\n", wantLine: 1, wantMsg: "invalid port"},
		{name: "HEALTHCHECK interval not a duration", nixfile: "PACKAGES hello\nHEALTHCHECK --interval=30 CMD true\n", wantLine: 2, wantMsg: "HEALTHCHECK: --interval=30: give a duration of at least 1ms"},
		{name: "HEALTHCHECK timeout under 1ms", nixfile: "HEALTHCHECK --timeout=500us CMD true\n", wantLine: 1, wantMsg: "--timeout=500us: give a duration of at least 1ms"},
		{name: "HEALTHCHECK negative start period", nixfile: "HEALTHCHECK --start-period=-1s CMD true\n", wantLine: 1, wantMsg: "--start-period=-1s"},
		{name: "HEALTHCHECK start interval from a build arg", nixfile: "ARG S\nHEALTHCHECK --start-interval=$S CMD true\n", buildArgs: map[string]string{"S": "soon"}, wantLine: 2, wantMsg: "--start-interval=soon"},
		{name: "HEALTHCHECK negative retries", nixfile: "HEALTHCHECK --retries=-1 CMD true\n", wantLine: 1, wantMsg: "--retries=-1: give a number of failures, 0 or more"},
		{name: "HEALTHCHECK retries not a number", nixfile: "HEALTHCHECK --retries=three CMD true\n", wantLine: 1, wantMsg: "--retries=three"},
		{name: "HEALTHCHECK command of an empty arg", nixfile: "ARG C\nHEALTHCHECK CMD $C\n", wantLine: 2, wantMsg: "HEALTHCHECK: CMD needs a command"},
		{name: "a NUL from a build arg in HEALTHCHECK", nixfile: "ARG A\nHEALTHCHECK CMD test -f /a$A\n", buildArgs: map[string]string{"A": "\x00"}, wantLine: 2, wantMsg: "NUL byte"},
		{name: "PACKAGES of an empty arg", nixfile: "ARG E\nPACKAGES $E\n", wantLine: 2, wantMsg: "PACKAGES: needs at least one package"},
		{name: "PACKAGES of an empty build arg", nixfile: "ARG E=hello\nPACKAGES $E\n", buildArgs: map[string]string{"E": ""}, wantLine: 2, wantMsg: "needs at least one package"},
		{name: "FLAKE of an empty arg", nixfile: "ARG E\nFLAKE $E\n", wantLine: 2, wantMsg: "FLAKE: needs at least one flake output"},
		{name: "a NUL from a build arg in ENV", nixfile: "ARG A\nENV X=$A\n", buildArgs: map[string]string{"A": "a\x00b"}, wantLine: 2, wantMsg: "NUL byte"},
		{name: "a NUL from a build arg in a LABEL key", nixfile: "ARG A\nLABEL k$A=v\n", buildArgs: map[string]string{"A": "\x00"}, wantLine: 2, wantMsg: "NUL byte"},
		{name: "a NUL from a build arg in WORKDIR", nixfile: "ARG A\nWORKDIR /a$A\n", buildArgs: map[string]string{"A": "\x00"}, wantLine: 2, wantMsg: "NUL byte"},
		{name: "a NUL from a build arg in CMD", nixfile: "ARG A\nCMD run $A\n", buildArgs: map[string]string{"A": "x\x00"}, wantLine: 2, wantMsg: "NUL byte"},
		{name: "a NUL from a build arg in a VOLUME", nixfile: "ARG A\nVOLUME [\"/v$A\"]\n", buildArgs: map[string]string{"A": "\x00"}, wantLine: 2, wantMsg: "NUL byte"},
		{name: "a NUL from a build arg in USER", nixfile: "ARG A\nUSER app$A\n", buildArgs: map[string]string{"A": "\x00"}, wantLine: 2, wantMsg: "NUL byte"},
		{name: "a NUL from a build arg in an ARG default", nixfile: "ARG A\nARG B=$A\n", buildArgs: map[string]string{"A": "\x00"}, wantLine: 2, wantMsg: "NUL byte"},
		{
			name: "too many words after expansion", nixfile: "ARG A\nPACKAGES $A\n",
			buildArgs: map[string]string{"A": strings.Repeat("a ", nixfile.MaxWords+1)}, wantLine: 2, wantMsg: "more than 10000 words",
		},
		{name: "${X:?message} unset", nixfile: "ARG X\nLABEL v=${X:?X must be set}\n", wantLine: 2, wantMsg: "X must be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkPlanError(t, tt.nixfile, tt.buildArgs, tt.wantLine, tt.wantMsg)
		})
	}
}

// The values at the ends of their ranges, and the forms a Dockerfile
// accepts, give the config they say.
func TestValuesInRange(t *testing.T) {
	tests := []struct {
		name      string
		nixfile   string
		buildArgs map[string]string
		check     func(t *testing.T, res *nixfile2llb.Result)
	}{
		{
			name: "USER uid and gid 2^32-2", nixfile: "USER 4294967294:4294967294\n",
			check: func(t *testing.T, res *nixfile2llb.Result) {
				if got := res.Image.Config.User; got != "4294967294:4294967294" {
					t.Errorf("User = %q", got)
				}
			},
		},
		{
			name: "STOPSIGNAL TERM", nixfile: "STOPSIGNAL TERM\n",
			check: wantStopSignal("SIGTERM"),
		},
		{
			name: "STOPSIGNAL sigint", nixfile: "STOPSIGNAL sigint\n",
			check: wantStopSignal("SIGINT"),
		},
		{
			name: "STOPSIGNAL SIGRTMIN+3", nixfile: "STOPSIGNAL SIGRTMIN+3\n",
			check: wantStopSignal("SIGRTMIN+3"),
		},
		{
			name: "STOPSIGNAL RTMAX-14", nixfile: "STOPSIGNAL RTMAX-14\n",
			check: wantStopSignal("SIGRTMAX-14"),
		},
		{
			name: "STOPSIGNAL 64", nixfile: "STOPSIGNAL 64\n",
			check: wantStopSignal("64"),
		},
		{
			name: "STOPSIGNAL 09", nixfile: "STOPSIGNAL 09\n",
			check: wantStopSignal("9"),
		},
		{
			name: "${X:-a b} in LABEL is one value", nixfile: "ARG X\nLABEL a=${X:-a b} b=\"${X:-c d}\"\n",
			check: func(t *testing.T, res *nixfile2llb.Result) {
				if l := res.Image.Config.Labels; l["a"] != "a b" || l["b"] != "c d" || len(l) != 2 {
					t.Errorf("Labels = %q, want a=\"a b\" b=\"c d\"", l)
				}
			},
		},
		{
			name: "${X:?message} set", nixfile: "ARG X=ok\nLABEL v=${X:?X must be set}\n",
			check: func(t *testing.T, res *nixfile2llb.Result) {
				if l := res.Image.Config.Labels; l["v"] != "ok" || len(l) != 1 {
					t.Errorf("Labels = %q, want v=ok", l)
				}
			},
		},
		{
			name: "${X:-a b} in an ARG default", nixfile: "ARG X\nARG Y=${X:-a b}\nENV Y=$Y\n",
			check: func(t *testing.T, res *nixfile2llb.Result) {
				if !contains(res.Image.Config.Env, "Y=a b") {
					t.Errorf("Env = %q, want Y=a b", res.Image.Config.Env)
				}
			},
		},
		{
			name: "EXPOSE of an empty arg declares nothing", nixfile: "ARG P\nEXPOSE $P\n",
			check: func(t *testing.T, res *nixfile2llb.Result) {
				if len(res.Image.Config.ExposedPorts) != 0 {
					t.Errorf("ExposedPorts = %v", res.Image.Config.ExposedPorts)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := newPlan(t, tt.nixfile, nixfile2llb.ConvertOpt{BuildArgs: tt.buildArgs})
			res, err := plan.Assemble(nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, res)
		})
	}
}

func wantStopSignal(want string) func(t *testing.T, res *nixfile2llb.Result) {
	return func(t *testing.T, res *nixfile2llb.Result) {
		t.Helper()
		if got := res.Image.Config.StopSignal; got != want {
			t.Errorf("StopSignal = %q, want %q", got, want)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

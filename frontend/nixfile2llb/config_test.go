package nixfile2llb_test

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	"github.com/nixfile/nixfile/internal/golden"
	nixllb "github.com/nixfile/nixfile/llb"
)

// configClosure is the closure every golden config is assembled with:
// hello and busybox have a bin directory, glibc is a dependency.
func configClosure(t *testing.T) *nixllb.Closure {
	return closureOf(t, []string{"hello-2.12.1", "busybox-1.36.1"}, []string{"glibc-2.39-52"},
		[]string{"hello-2.12.1", "busybox-1.36.1"})
}

// TestImageConfig assembles Nixfiles with a fixed closure and compares the
// image config with testdata/config/NAME.golden.
func TestImageConfig(t *testing.T) {
	epoch := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	arm64 := &ocispecs.Platform{OS: "linux", Architecture: "arm64"}
	tests := []struct {
		// name is the golden file's name.
		name      string
		nixfile   string
		buildArgs map[string]string
		platform  *ocispecs.Platform
		epoch     *time.Time
		labels    map[string]string // --label
	}{
		{
			name:    "minimal",
			nixfile: "PACKAGES hello busybox\n",
		},
		{
			name:    "no_packages",
			nixfile: "ENV A=b\n",
		},
		{
			name: "env",
			nixfile: "PACKAGES hello busybox\n" +
				"ENV LANG=C.UTF-8 APP_HOME=/srv/app\n" +
				"ENV PATH=$APP_HOME/bin:$PATH\n" +
				"ENV GREETING hello   world\n" +
				"ENV B=$LANG-${UNSET:-none} LANG=C\n",
		},
		{
			name: "entrypoint_cmd_json",
			nixfile: "PACKAGES hello\n" +
				"ARG NAME=world\n" +
				`ENTRYPOINT ["hello", "--greeting", "hi $NAME"]` + "\n" +
				`CMD ["--verbose"]` + "\n",
		},
		{
			name: "entrypoint_cmd_plain",
			nixfile: "PACKAGES hello\n" +
				"ARG NAME=world\n" +
				`ENTRYPOINT hello --greeting "hi $NAME"` + "\n" +
				`CMD a 'b c' $NAME` + "\n",
		},
		{
			name: "entrypoint_cmd_last_wins",
			nixfile: "PACKAGES hello\n" +
				`ENTRYPOINT ["a"]` + "\n" +
				`CMD ["x"]` + "\n" +
				`ENTRYPOINT ["b"]` + "\n" +
				"CMD []\n",
		},
		{
			name:    "workdir_relative_after_absolute",
			nixfile: "PACKAGES hello\nWORKDIR /srv\nWORKDIR app\n",
		},
		{
			name:    "workdir_dotdot",
			nixfile: "PACKAGES hello\nWORKDIR /srv/app\nWORKDIR ../data/./x\n",
		},
		{
			name:    "user",
			nixfile: "PACKAGES hello\nUSER 65534:65534\n",
		},
		{
			name:    "expose",
			nixfile: "PACKAGES hello\nEXPOSE 80 53/udp\nEXPOSE 443/TCP 80\n",
		},
		{
			// A range declares each of its ports, as in a Dockerfile; a
			// port in two ranges is declared once.
			name:    "expose_range",
			nixfile: "PACKAGES hello\nEXPOSE 8000-8003 8003-8004/UDP\nEXPOSE 8002 9000-9000\n",
		},
		{
			// Plain words run without a shell, as CMD's: the "CMD" form.
			name: "healthcheck",
			nixfile: "PACKAGES hello\nARG PORT=8080\n" +
				"HEALTHCHECK --interval=30s --timeout=3s --start-period=1m --start-interval=2s --retries=4 CMD wget -q -O /dev/null \"http://127.0.0.1:$PORT/\"\n",
		},
		{
			name:    "healthcheck_json_flags_zero",
			nixfile: "PACKAGES hello\nHEALTHCHECK --interval=0s --retries=0 CMD [\"test\", \"-f\", \"/tmp/$ready\"]\n",
		},
		{
			// The last HEALTHCHECK wins; NONE turns an image's check off.
			name:    "healthcheck_none_last_wins",
			nixfile: "PACKAGES hello\nHEALTHCHECK CMD [\"true\"]\nHEALTHCHECK NONE\n",
		},
		{
			name: "label",
			nixfile: "PACKAGES hello\n" +
				"ARG VERSION=1.0\n" +
				`LABEL org.opencontainers.image.source="https://example.com/repo" version=$VERSION` + "\n" +
				`LABEL "with space"=x version=2.0` + "\n",
		},
		{
			// --label adds labels, and wins over a LABEL of the same key.
			name:    "label_from_the_build",
			nixfile: "PACKAGES hello\nLABEL version=1.0 kept=yes\n",
			labels:  map[string]string{"version": "2.0", "org.opencontainers.image.revision": "abc123"},
		},
		{
			// --label without any LABEL.
			name:    "label_from_the_build_only",
			nixfile: "PACKAGES hello\n",
			labels:  map[string]string{"org.opencontainers.image.source": "https://example.com/repo"},
		},
		{
			name:    "volume",
			nixfile: "PACKAGES hello\nVOLUME /var/lib/app /x/../y\nVOLUME [\"/json/path\"]\n",
		},
		{
			name:    "stopsignal",
			nixfile: "PACKAGES hello\nSTOPSIGNAL SIGRTMIN+3\n",
		},
		{
			// One ARG line, several names: each default sees the ones
			// before it, as on lines of their own.
			name:    "args_one_line",
			nixfile: "PACKAGES hello\nARG VERSION=24.05 CHANNEL=nixos-${VERSION} UNSET\nLABEL channel=$CHANNEL unset=${UNSET-none}\n",
		},
		{
			name: "args_defaults",
			nixfile: "PACKAGES hello\n" +
				"ARG VERSION=24.05\n" +
				"ARG CHANNEL=nixos-${VERSION}\n" +
				"LABEL channel=$CHANNEL\n",
		},
		{
			name: "args_build_arg",
			nixfile: "PACKAGES hello\n" +
				"ARG VERSION=24.05\n" +
				"ARG CHANNEL=nixos-${VERSION}\n" +
				"LABEL channel=$CHANNEL\n",
			buildArgs: map[string]string{"VERSION": "23.11"},
		},
		{
			// A build arg is a variable only after its ARG, an undeclared
			// one never, and an empty one is taken literally.
			name: "args_scope",
			nixfile: "PACKAGES hello\n" +
				"LABEL before=${EARLY:-unset}\n" +
				"ARG EARLY\n" +
				"ARG EMPTY=default\n" +
				"LABEL after=$EARLY undeclared=${UNDECLARED:-unset} empty=${EMPTY-unset}\n",
			buildArgs: map[string]string{"EARLY": "x", "UNDECLARED": "y", "EMPTY": ""},
		},
		{
			name: "args_automatic",
			nixfile: "PACKAGES hello\n" +
				"LABEL early=${TARGETARCH:-undeclared}\n" +
				"ARG TARGETARCH\n" +
				"ARG NIX_SYSTEM\n" +
				"ARG TARGETPLATFORM\n" +
				"ARG TARGETOS\n" +
				"ARG TARGETVARIANT\n" +
				"LABEL arch=$TARGETARCH system=$NIX_SYSTEM platform=$TARGETPLATFORM os=$TARGETOS variant=${TARGETVARIANT-unset}\n",
		},
		{
			name: "args_automatic_arm64",
			nixfile: "PACKAGES hello\n" +
				"ARG TARGETARCH\n" +
				"ARG NIX_SYSTEM\n" +
				"LABEL arch=$TARGETARCH system=$NIX_SYSTEM\n",
			platform: arm64,
		},
		{
			// The automatic value beats an ARG default; a --build-arg
			// beats both.
			name: "args_automatic_overridden",
			nixfile: "PACKAGES hello\n" +
				"ARG TARGETARCH=amd64\n" +
				"ARG NIX_SYSTEM=x86_64-linux\n" +
				"LABEL arch=$TARGETARCH system=$NIX_SYSTEM\n",
			buildArgs: map[string]string{"NIX_SYSTEM": "custom"},
			platform:  arm64,
		},
		{
			name:    "epoch",
			nixfile: "PACKAGES hello\n",
			epoch:   &epoch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := nixfile2llb.ConvertOpt{BuildArgs: tt.buildArgs, TargetPlatform: tt.platform, Epoch: tt.epoch, Labels: tt.labels}
			plan := newPlan(t, tt.nixfile, opt)
			var closure *nixllb.Closure
			if plan.Stage != nil {
				closure = configClosure(t)
			}
			res, err := plan.Assemble(closure)
			if err != nil {
				t.Fatalf("Assemble: %v", err)
			}
			cfg := res.Image

			switch {
			case tt.epoch == nil && cfg.Created != nil:
				t.Errorf("Created = %v without an epoch, want none", cfg.Created)
			case tt.epoch != nil && (cfg.Created == nil || !cfg.Created.Equal(*tt.epoch)):
				t.Errorf("Created = %v, want the epoch %v", cfg.Created, tt.epoch)
			}
			wantArch := "amd64"
			if tt.platform != nil {
				wantArch = tt.platform.Architecture
			}
			if cfg.OS != "linux" || cfg.Architecture != wantArch {
				t.Errorf("platform %s/%s, want linux/%s", cfg.OS, cfg.Architecture, wantArch)
			}

			got, err := json.MarshalIndent(cfg, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden.Check(t, filepath.Join("testdata", "config", tt.name+".golden"), got)
		})
	}
}

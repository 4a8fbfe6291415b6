package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/nixfile/nixfile/internal/testbed"
)

// checkNixfile runs `docker buildx build --call check,format=json` on a
// context holding nixfile, as a user would (the "# syntax=" line hands the
// build to the frontend built from this tree), and returns the parsed
// result and the exit status.
func checkNixfile(t *testing.T, nixfile string, extra ...string) (*lint.LintResults, int) {
	t.Helper()
	builder := os.Getenv("BUILDX_BUILDER")
	if builder == "" {
		t.Fatal(`BUILDX_BUILDER is not set: eval "$(hack/testbed env)"`)
	}
	dir := writeContext(t, map[string]string{"Nixfile": nixfile})
	// As hack/example: docker's buildx plugin when there is docker, else
	// the bed's buildx binary.
	cmdline := []string{"docker", "buildx"}
	if _, err := exec.LookPath("docker"); err != nil {
		cmdline = []string{"buildx"}
	}
	cmdline = append(cmdline, "build", "--builder", builder, "--progress", "quiet",
		"--call", "check,format=json", "-f", filepath.Join(dir, "Nixfile"))
	cmdline = append(append(cmdline, extra...), dir)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, cmdline[0], cmdline[1:]...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	status := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", strings.Join(cmdline, " "), err)
	}
	var res lint.LintResults
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("%s: exit %d, output is not lint results (%v):\n%s\n%s", strings.Join(cmdline, " "), status, err, stdout.String(), stderr.String())
	}
	return &res, status
}

// ruleLines lists the warnings as "LINE RULE", in the order given; LINE is
// 0 for a warning without a line.
func ruleLines(t *testing.T, res *lint.LintResults) []string {
	t.Helper()
	var out []string
	for _, w := range res.Warnings {
		if w.Location == nil || w.Location.SourceIndex != 0 {
			t.Errorf("%s: location %v, want source 0", w.RuleName, w.Location)
			continue
		}
		line := 0
		if len(w.Location.Ranges) > 0 {
			line = int(w.Location.Ranges[0].Start.Line)
		}
		out = append(out, fmt.Sprintf("%d %s", line, w.RuleName))
	}
	return out
}

func TestCheck(t *testing.T) {
	testbed.Require(t)
	const rev = "0123456789abcdef0123456789abcdef01234567"

	noisy := strings.Join([]string{
		"# syntax=nixfile/nixfile",
		"NIXPKGS github:NixOS/nixpkgs/nixos-24.05",
		"packages hello curl",
		"ROOTFS certs=off",
		"FLAKE github:owner/repo#app",
		"LABEL version=$VERSION",
		"CMD hello && echo done",
		`CMD ["hello"]`,
	}, "\n") + "\n"

	t.Run("warnings", func(t *testing.T) {
		res, status := checkNixfile(t, noisy, "--build-arg", "VERSION=1.0")
		if status != 1 {
			t.Errorf("exit status %d, want 1 for warnings", status)
		}
		want := []string{
			"0 RunsAsRoot",
			"2 UnpinnedPackageSet",
			"3 NetworkToolWithoutCABundle",
			"3 KeywordCase",
			"5 UnpinnedFlake",
			"6 UndefinedVariable",
			"7 DuplicateInstruction",
			"7 ShellFormNeedsShell",
		}
		if got := ruleLines(t, res); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("warnings:\n got %q\nwant %q", got, want)
		}
		for _, w := range res.Warnings {
			if w.Description == "" || w.URL != "docs/checks.md#"+strings.ToLower(w.RuleName) || w.Detail == "" {
				t.Errorf("%s: description %q, url %q, detail %q", w.RuleName, w.Description, w.URL, w.Detail)
			}
			switch w.RuleName {
			case "NetworkToolWithoutCABundle":
				// The package line and the ROOTFS line.
				if r := w.Location.Ranges; len(r) != 2 || r[1].Start.Line != 4 {
					t.Errorf("%s: ranges %v, want lines 3 and 4", w.RuleName, r)
				}
			case "UndefinedVariable":
				// The build argument reached the check.
				if !strings.Contains(w.Detail, "--build-arg VERSION is given") {
					t.Errorf("%s: detail %q", w.RuleName, w.Detail)
				}
			}
		}
		if len(res.Sources) != 1 {
			t.Fatalf("sources: %d, want the Nixfile", len(res.Sources))
		}
		if s := res.Sources[0]; s.Filename != "Nixfile" || s.Language != "Nixfile" || string(s.Data) != noisy {
			t.Errorf("source: %q %q %q", s.Filename, s.Language, s.Data)
		}
		if res.Error != nil {
			t.Errorf("build error %q, want none", res.Error.Message)
		}
	})

	t.Run("skip rules", func(t *testing.T) {
		res, _ := checkNixfile(t, noisy, "--build-arg", "BUILDKIT_DOCKERFILE_CHECK=skip=RunsAsRoot,KeywordCase,UndefinedVariable")
		for _, rl := range ruleLines(t, res) {
			if strings.HasSuffix(rl, " RunsAsRoot") || strings.HasSuffix(rl, " KeywordCase") || strings.HasSuffix(rl, " UndefinedVariable") {
				t.Errorf("skipped rule reported: %s", rl)
			}
		}
		if len(res.Warnings) != 5 {
			t.Errorf("%d warnings, want 5: %q", len(res.Warnings), ruleLines(t, res))
		}
	})

	t.Run("clean", func(t *testing.T) {
		clean := strings.Join([]string{
			"# syntax=nixfile/nixfile",
			"ARG NIXPKGS_REV=" + rev,
			"NIXPKGS github:NixOS/nixpkgs/${NIXPKGS_REV}",
			"PACKAGES hello curl",
			"FLAKE .#app",
			"USER app",
			`CMD ["hello"]`,
		}, "\n") + "\n"
		res, status := checkNixfile(t, clean)
		if len(res.Warnings) != 0 || res.Error != nil {
			t.Errorf("warnings %q, error %v; want none", ruleLines(t, res), res.Error)
		}
		if status != 0 {
			t.Errorf("exit status %d, want 0", status)
		}
	})

	t.Run("syntax error", func(t *testing.T) {
		res, status := checkNixfile(t, "# syntax=nixfile/nixfile\nPACKAGES hello\nPACKGES jq\n")
		if status != 1 {
			t.Errorf("exit status %d, want 1", status)
		}
		e := res.Error
		if e == nil || !strings.Contains(e.Message, `unknown instruction "PACKGES"`) ||
			len(e.Location.Ranges) != 1 || e.Location.Ranges[0].Start.Line != 3 {
			t.Fatalf("build error %+v, want the unknown instruction at line 3", e)
		}
	})

	t.Run("build error", func(t *testing.T) {
		res, status := checkNixfile(t, "# syntax=nixfile/nixfile\nNIXPKGS ./pkgs\nPACKAGES hello\nUSER app\nEXPOSE 99999\n")
		if status != 1 {
			t.Errorf("exit status %d, want 1", status)
		}
		if len(res.Warnings) != 0 {
			t.Errorf("warnings %q, want none", ruleLines(t, res))
		}
		e := res.Error
		if e == nil || !strings.Contains(e.Message, "EXPOSE: invalid port") ||
			len(e.Location.Ranges) != 1 || e.Location.Ranges[0].Start.Line != 5 {
			t.Fatalf("build error %+v, want the EXPOSE error at line 5", e)
		}
	})

	// A nix setting the stage refuses is the build's error, at its line.
	t.Run("refused nix setting", func(t *testing.T) {
		res, status := checkNixfile(t, "# syntax=nixfile/nixfile\nNIXPKGS ./pkgs\nPACKAGES hello\nNIXCONFIG sandbox = true\nUSER app\n")
		if status != 1 {
			t.Errorf("exit status %d, want 1", status)
		}
		e := res.Error
		if e == nil || !strings.Contains(e.Message, "sandbox") ||
			len(e.Location.Ranges) != 1 || e.Location.Ranges[0].Start.Line != 4 {
			t.Fatalf("build error %+v, want the refused setting at line 4", e)
		}
	})
}

package nixfile2llb_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/nixfile/nixfile/frontend/nixfile"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	nixllb "github.com/nixfile/nixfile/llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// fuzzLines are the Nixfile's lines as the parser counts them.
func fuzzLines(data []byte) int {
	s := strings.TrimPrefix(string(data), "\xef\xbb\xbf")
	s = strings.TrimSuffix(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	if s == "" {
		return 0
	}
	return strings.Count(s, "\n") + 1
}

// fuzzArgs reads build args from "NAME=VALUE" lines.
func fuzzArgs(s string) map[string]string {
	args := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			args[k] = v
		}
	}
	return args
}

// fuzzClosure is a closure for a plan: a few packages, with commands that
// clash unless ROOTFS prefer= says which wins, a CA bundle and zoneinfo.
func fuzzClosure(t *testing.T, shape uint8) *nixllb.Closure {
	roots := []string{"hello-2.12.1", "busybox-1.36.1", "coreutils-9.5", "nss-cacert-3.98"}[:1+int(shape%4)]
	c := closureOf(t, roots, []string{"glibc-2.39", "tzdata-2024a"}, roots)
	c.BinEntries = map[string][]string{}
	for i, b := range c.Bins {
		c.BinEntries[b] = []string{nixllb.StorePathName(b)[:3]}
		if i == 0 || shape&0x10 != 0 {
			c.BinEntries[b] = append(c.BinEntries[b], "env") // a clash of env with 0x10
		}
	}
	c.Features = map[string][]string{nixllb.FeatureZoneinfo: {storePath(t, "tzdata-2024a") + "/share/zoneinfo"}}
	if shape&0x20 != 0 {
		c.Features[nixllb.FeatureImageCACert] = []string{"/etc/ssl/certs/ca-bundle.crt"}
	}
	return c
}

// checkConvertError: every error of the converter is located inside the
// file, except the documented ones about build args given on the command
// line (NIXFILE_LAYERS).
func checkConvertError(t *testing.T, phase string, err error, lines int) {
	t.Helper()
	var le *nixfile.LocationError
	if !errors.As(err, &le) {
		if strings.HasPrefix(err.Error(), "build arg "+nixfile2llb.MaxLayersArg+":") {
			return
		}
		t.Fatalf("%s: error %.300q (%T) has no Nixfile line", phase, err, err)
	}
	for _, r := range append([]nixfile.Range{le.Range}, le.Also...) {
		if r.Start.Line < 1 || r.Start.Line > r.End.Line || r.End.Line > lines {
			t.Fatalf("%s: error range %+v outside lines 1..%d: %.300q", phase, r, lines, err)
		}
	}
	if len(err.Error()) > 16<<10 {
		t.Fatalf("%s: error message of %d bytes", phase, len(err.Error()))
	}
}

// FuzzConvert parses a Nixfile, plans it with fuzzed build args and
// assembles it with a fake closure: it never panics, every error names a
// line of the file, and a success gives LLB that marshals and a config
// BuildKit can take, the same each time.
func FuzzConvert(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "convert", "*.nixfile"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no testdata/convert/*.nixfile: %v", err)
	}
	for i, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "", uint8(i))
		f.Add(data, "VERSION=${X:-a b}\nSET=1;__lessThan=(_:_:throw(\"INJ\"+\"ECTED-RAN\"));#\nTOOLS=\nMSG=m", uint8(i+0x31))
	}
	f.Add([]byte("ARG A\nPACKAGES $A\nUSER $A\nSTOPSIGNAL $A\n"), "A=4294967296", uint8(0x80))
	f.Add([]byte("ARG E\nPACKAGES $E\n"), "E=", uint8(1))
	f.Add([]byte("ARG T\nPACKAGES hello\nHEALTHCHECK --interval=$T --retries=$T CMD test $T\nEXPOSE 8000-$T\n"), "T=1s", uint8(3))
	f.Add([]byte("PACKAGES hello\nLAYERS 3\n"), nixfile2llb.MaxLayersArg+"=0", uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, args string, shape uint8) {
		file, err := nixfile.Parse(data)
		if err != nil {
			return // FuzzParse checks the parser's errors
		}
		lines := fuzzLines(data)
		opt := nixfile2llb.ConvertOpt{BuildArgs: fuzzArgs(args)}
		if shape&0x80 != 0 {
			opt.TargetPlatform = &ocispecs.Platform{OS: "linux", Architecture: "arm64"}
		}
		convert := func() (*nixfile2llb.Plan, *nixfile2llb.Result, bool) {
			plan, err := nixfile2llb.NewPlan(context.Background(), file, opt)
			if err != nil {
				checkConvertError(t, "NewPlan", err, lines)
				return nil, nil, false
			}
			var closure *nixllb.Closure
			if plan.Stage != nil {
				closure = fuzzClosure(t, shape)
			}
			res, err := plan.Assemble(closure)
			if err != nil {
				checkConvertError(t, "Assemble", err, lines)
				return nil, nil, false
			}
			return plan, res, true
		}
		plan, res, ok := convert()
		if !ok {
			return
		}
		dt, err := json.Marshal(res.Image)
		if err != nil || len(dt) > nixfile2llb.MaxConfigSize {
			t.Fatalf("image config of %d bytes (%v)", len(dt), err)
		}
		def, err := res.State.Marshal(context.Background(), llb.LinuxAmd64, llb.LocalUniqueID(testUniqueID))
		if err != nil {
			t.Fatalf("the image's LLB does not marshal: %v", err)
		}
		if plan.Stage != nil {
			if _, err := plan.Stage.Meta.Marshal(context.Background(), llb.LinuxAmd64); err != nil {
				t.Fatalf("the nix stage's LLB does not marshal: %v", err)
			}
		}
		// The same input converts to the same bytes.
		_, again, ok := convert()
		if !ok {
			t.Fatal("a second conversion of the same input failed")
		}
		dt2, _ := json.Marshal(again.Image)
		def2, err := again.State.Marshal(context.Background(), llb.LinuxAmd64, llb.LocalUniqueID(testUniqueID))
		if err != nil || string(dt) != string(dt2) || len(def.Def) != len(def2.Def) {
			t.Fatalf("a second conversion differs (%v)", err)
		}
		for i := range def.Def {
			if string(def.Def[i]) != string(def2.Def[i]) {
				t.Fatalf("a second conversion differs at op %d", i)
			}
		}
	})
}

package nixfile2llb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	nixllb "github.com/nixfile/nixfile/llb"
	digest "github.com/opencontainers/go-digest"
	"google.golang.org/protobuf/proto"
)

// definitionBytes is a state's whole definition (ops, metadata, source
// map), marshalled deterministically.
func definitionBytes(t *testing.T, st llb.State) []byte {
	t.Helper()
	def, err := st.Marshal(context.Background(), llb.LinuxAmd64, llb.LocalUniqueID(testUniqueID))
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	dt, err := proto.MarshalOptions{Deterministic: true}.Marshal(def.ToPB())
	if err != nil {
		t.Fatal(err)
	}
	return dt
}

// converted is both phases of a conversion, as bytes.
type converted struct {
	stage  []byte // nil without a nix stage
	image  []byte
	config []byte
}

func convert(t *testing.T, src string, opt nixfile2llb.ConvertOpt, closure *nixllb.Closure) converted {
	t.Helper()
	// A new parse and a new source map each time: nothing may depend on
	// pointers or on state kept between conversions.
	opt.SourceMap = llb.NewSourceMap(nil, "Nixfile", "Nixfile", []byte(src))
	plan := newPlan(t, src, opt)
	var out converted
	if plan.Stage != nil {
		out.stage = definitionBytes(t, plan.Stage.Meta)
	} else {
		closure = nil
	}
	res, err := plan.Assemble(closure)
	if err != nil {
		t.Fatalf("Assemble: %v", err)
	}
	out.image = definitionBytes(t, res.State)
	if out.config, err = json.Marshal(res.Image); err != nil {
		t.Fatal(err)
	}
	return out
}

// The same Nixfile, converted twice, gives the same definitions and config,
// byte for byte.
func TestConvertDeterministic(t *testing.T) {
	tests := []struct {
		name    string
		nixfile string
		opt     nixfile2llb.ConvertOpt
	}{
		{
			name:    "packages",
			nixfile: "PACKAGES hello jq python3Packages.requests\nCMD [\"hello\"]\n",
		},
		{
			name: "everything",
			nixfile: "ARG CHANNEL=nixos-24.05\n" +
				"NIXPKGS ./vendor/nixpkgs\n" +
				"PACKAGES hello busybox\n" +
				"FLAKE .#app github:NixOS/nixpkgs/${CHANNEL}#jq\n" +
				"BUILD ./release.nix server worker\n" +
				"COPY --chmod=0640 --chown=1000:50 config.toml /srv/app/\n" +
				"COPY static a b /srv/app/static/\n" +
				"ENV LANG=C.UTF-8 PATH=/opt/bin:$PATH\n" +
				"LABEL b=2 a=1 c=3\n" +
				"EXPOSE 80 53/udp 443\n" +
				"VOLUME /data /cache\n" +
				"WORKDIR /srv\n" +
				"USER 1000:1000\n" +
				"STOPSIGNAL SIGINT\n",
			opt: nixfile2llb.ConvertOpt{BuildArgs: map[string]string{"CHANNEL": "nixos-23.11", "NIX_IMAGE": "localhost:5000/nix:x"}},
		},
		{
			name:    "no nix stage",
			nixfile: "COPY a /a\nENV A=b\n",
		},
	}
	closure := closureOf(t, []string{"hello-2.12.1", "busybox-1.36.1", "jq-1.7.1"},
		[]string{"glibc-2.39-52", "oniguruma-6.9.9"}, []string{"hello-2.12.1", "busybox-1.36.1", "jq-1.7.1"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Several times, so that a map's random order would show.
			a := convert(t, tt.nixfile, tt.opt, closure)
			for i := 0; i < 5; i++ {
				b := convert(t, tt.nixfile, tt.opt, closure)
				if !bytes.Equal(a.stage, b.stage) {
					t.Fatalf("the nix stage's definition differs between two conversions")
				}
				if !bytes.Equal(a.image, b.image) {
					t.Fatalf("the image's definition differs between two conversions")
				}
				if !bytes.Equal(a.config, b.config) {
					t.Fatalf("the image config differs between two conversions:\n%s\n%s", a.config, b.config)
				}
			}
		})
	}
}

// imageFingerprint is what an assembled state puts in the image, without
// the identity of the nix stage it copies from: every path written, how,
// and in which layer, in order.
func imageFingerprint(t *testing.T, st llb.State) []string {
	t.Helper()
	img := viewImage(t, marshalImage(t, st))
	if len(img.bad) > 0 {
		t.Fatalf("the image is not built on scratch: %q", img.bad)
	}
	layer := map[digest.Digest]int{}
	var out []string
	for _, w := range img.writes {
		if _, ok := layer[w.layer]; !ok {
			layer[w.layer] = len(layer)
		}
		s := fmt.Sprintf("layer %d: %s %s", layer[w.layer], w.origin, w.path)
		if cp := w.copy; cp != nil {
			s += fmt.Sprintf(" (copy of %s, mode %#o, owner %s, time %d)", cp.Src, cp.Mode, owner(cp.Owner), cp.Timestamp)
		}
		out = append(out, s)
	}
	out = append(out, fmt.Sprintf("%d file ops, %d merges", len(img.fileOps), len(img.merges)))
	return out
}

// A nix stage that does not read the build context marshals to the same
// bytes without any option. One that does has a local source, which
// BuildKit stamps with a random local.unique at each Marshal unless the
// source has a session (as the builder's context has) or the Marshal a
// LocalUniqueID: the tests above give one.
func TestMarshalWithoutOptions(t *testing.T) {
	marshalPlain := func(st llb.State) []byte {
		def, err := st.Marshal(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		dt, err := proto.MarshalOptions{Deterministic: true}.Marshal(def.ToPB())
		if err != nil {
			t.Fatal(err)
		}
		return dt
	}
	src := "PACKAGES hello\nFLAKE github:owner/repo#x\n"
	a := marshalPlain(newPlan(t, src, nixfile2llb.ConvertOpt{}).Stage.Meta)
	b := marshalPlain(newPlan(t, src, nixfile2llb.ConvertOpt{}).Stage.Meta)
	if !bytes.Equal(a, b) {
		t.Errorf("the nix stage's definition differs between two conversions")
	}
}

// The order of the names on a PACKAGES line does not change the image,
// given the same closure: its layers and config are the same. The nix
// stage may differ (the names are evaluated in the order written).
func TestPackagesOrder(t *testing.T) {
	tests := []struct {
		name string
		a, b string
	}{
		{
			name: "two names",
			a:    "PACKAGES hello busybox\nCOPY a /a\nCMD [\"hello\"]\n",
			b:    "PACKAGES busybox hello\nCOPY a /a\nCMD [\"hello\"]\n",
		},
		{
			name: "three names and a flake",
			a:    "PACKAGES jq hello busybox\nFLAKE github:owner/repo#x\n",
			b:    "PACKAGES busybox jq hello\nFLAKE github:owner/repo#x\n",
		},
	}
	closure := closureOf(t, []string{"hello-2.12.1", "busybox-1.36.1", "jq-1.7.1"},
		[]string{"glibc-2.39-52"}, []string{"hello-2.12.1", "busybox-1.36.1", "jq-1.7.1"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			planA := newPlan(t, tt.a, nixfile2llb.ConvertOpt{})
			planB := newPlan(t, tt.b, nixfile2llb.ConvertOpt{})
			if bytes.Equal(definitionBytes(t, planA.Stage.Meta), definitionBytes(t, planB.Stage.Meta)) {
				t.Logf("the nix stage is the same whatever the order of the names")
			} else {
				t.Logf("the nix stage differs with the order of the names (build.nix lists them as written); allowed")
			}
			resA, err := planA.Assemble(closure)
			if err != nil {
				t.Fatal(err)
			}
			resB, err := planB.Assemble(closure)
			if err != nil {
				t.Fatal(err)
			}
			cfgA, _ := json.Marshal(resA.Image)
			cfgB, _ := json.Marshal(resB.Image)
			if !bytes.Equal(cfgA, cfgB) {
				t.Errorf("the image config depends on the order of the names:\n%s\n%s", cfgA, cfgB)
			}
			if !bytes.Equal(definitionBytes(t, resA.State), definitionBytes(t, resB.State)) {
				t.Logf("the assembled definitions differ, through the nix stage they copy from; the layers are compared without it")
			}
			fpA, fpB := imageFingerprint(t, resA.State), imageFingerprint(t, resB.State)
			if !reflect.DeepEqual(fpA, fpB) {
				t.Errorf("the image's layers depend on the order of the names:\n%q\n%q", fpA, fpB)
			}
		})
	}
}

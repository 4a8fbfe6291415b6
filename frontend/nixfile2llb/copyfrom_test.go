package nixfile2llb_test

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// COPY --from copies from what LoadFrom gives for the name (a named build
// context, else the image), with paths from its root, absolute or not; a
// Nixfile whose only COPYs are --from reads no build context.
func TestCopyFrom(t *testing.T) {
	const nixfile = "ROOTFS none\nARG SRC=assets\nCOPY --from=$SRC /etc/app.conf ../share/x /srv/\nCOPY --from=alpine:3 / /alpine/\n"
	var asked []string
	opt := nixfile2llb.ConvertOpt{LoadFrom: func(_ context.Context, name string, p ocispecs.Platform) (llb.State, error) {
		asked = append(asked, name+" "+p.Architecture)
		return llb.Image("registry.example/"+name, llb.Platform(p)), nil
	}}
	if nixfile2llb.ReadsContext(parse(t, nixfile), opt) {
		t.Errorf("a Nixfile whose COPYs are all --from reads the build context")
	}
	plan := newPlan(t, nixfile, opt)
	if want := "assets amd64|alpine:3 amd64"; strings.Join(asked, "|") != want {
		t.Errorf("LoadFrom was asked for %q, want %q", strings.Join(asked, "|"), want)
	}
	res, err := plan.Assemble(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := marshal(t, res.State)
	got := map[string]string{} // source path -> the image it is copied from
	for _, d := range g.order {
		op := g.ops[d]
		f := op.GetFile()
		if f == nil {
			continue
		}
		for _, a := range f.Actions {
			cp := a.GetCopy()
			if cp == nil || a.SecondaryInput < 0 {
				continue
			}
			if src := g.op(op.Inputs[a.SecondaryInput]).GetSource(); src != nil && strings.HasPrefix(src.Identifier, "docker-image://") {
				got[cp.Src] = src.Identifier
			}
		}
	}
	want := map[string]string{
		"/etc/app.conf": "docker-image://registry.example/assets:latest",
		"/share/x":      "docker-image://registry.example/assets:latest",
		"/":             "docker-image://registry.example/alpine:3",
	}
	for src, img := range want {
		if got[src] != img {
			t.Errorf("%s is copied from %q, want %q (all: %v)", src, got[src], img, got)
		}
	}
}

// A --from that expands to nothing is an error at its line.
func TestCopyFromNothing(t *testing.T) {
	_, err := nixfile2llb.NewPlan(context.Background(), parse(t, "ARG E\nCOPY --from=$E a /a\n"), nixfile2llb.ConvertOpt{})
	if err == nil || !strings.Contains(err.Error(), "line 2: COPY: --from=$E expands to nothing") {
		t.Errorf("got %v, want an error at line 2", err)
	}
}

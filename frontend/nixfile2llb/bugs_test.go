package nixfile2llb_test

import (
	"context"
	"slices"
	"testing"

	"github.com/nixfile/nixfile/frontend/nixfile2llb"
)

// The tests here guard fixes of bugs found in review: each states the
// behaviour wanted where the converter once did otherwise.

func knownBug(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Errorf("regression: "+format, args...)
}

// $PATH is always set (docs: Variables), also while NewPlan expands the
// Nixfile, before the closure is known.
func TestBugPathUnsetInPlan(t *testing.T) {
	src := "PACKAGES hello\nENV LOGDIR=${PATH:?unset}\n"
	_, err := nixfile2llb.NewPlan(context.Background(), parse(t, src), nixfile2llb.ConvertOpt{})
	if err != nil {
		knownBug(t, "NewPlan expands with an empty $PATH: %v", err)
	}
}

// Assemble given a closure for a plan without a nix stage reports the
// mistake, as it does for the opposite one, rather than panicking.
func TestBugAssembleClosureWithoutStage(t *testing.T) {
	plan := newPlan(t, "COPY a /a\n", nixfile2llb.ConvertOpt{})
	closure := closureOf(t, []string{"hello-2.12.1"}, nil, nil)
	panicked := func() (p any) {
		defer func() { p = recover() }()
		if _, err := plan.Assemble(closure); err == nil {
			t.Errorf("Assemble(closure) succeeded for a plan without a nix stage, want an error")
		}
		return nil
	}()
	if panicked != nil {
		knownBug(t, "Assemble dereferences the nil plan.Stage: %v", panicked)
	}
}

// EXPOSE ports are numbers: 0080 is port 80, as in a Dockerfile.
func TestBugExposeLeadingZeros(t *testing.T) {
	plan := newPlan(t, "EXPOSE 0080 80\n", nixfile2llb.ConvertOpt{})
	res, err := plan.Assemble(nil)
	if err != nil {
		t.Fatal(err)
	}
	var ports []string
	for p := range res.Image.Config.ExposedPorts {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	switch {
	case slices.Equal(ports, []string{"80/tcp"}):
	case slices.Equal(ports, []string{"0080/tcp", "80/tcp"}):
		knownBug(t, "ExposedPorts = %q, want [80/tcp]", ports)
	default:
		t.Errorf("ExposedPorts = %q, want [80/tcp]", ports)
	}
}

// An image config shares nothing with the parsed Nixfile: a caller that
// changes one image (one platform of several) does not change the next.
func TestBugConfigAliasesNixfile(t *testing.T) {
	plan := newPlan(t, "ENTRYPOINT [\"hello\"]\nCMD [\"--help\"]\n", nixfile2llb.ConvertOpt{})
	first, err := plan.Assemble(nil)
	if err != nil {
		t.Fatal(err)
	}
	first.Image.Config.Entrypoint[0] = "changed"
	first.Image.Config.Cmd[0] = "changed"
	second, err := plan.Assemble(nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Image.Config.Entrypoint[0] != "hello" || second.Image.Config.Cmd[0] != "--help" {
		knownBug(t, "the JSON-form ENTRYPOINT and CMD slices are the parsed Nixfile's: got %q %q",
			second.Image.Config.Entrypoint, second.Image.Config.Cmd)
	}
}

// USER root:GROUP gives root a group; the root group itself stays, so
// --chown=root:root still works.
func TestBugUserRootWithGroup(t *testing.T) {
	plan := newPlan(t, "USER root:staff\nCOPY --chown=root:root a /a\n", nixfile2llb.ConvertOpt{})
	if _, err := plan.Assemble(nil); err != nil {
		knownBug(t, "USER root:staff renames group 0 to staff: %v", err)
	}
}

package nixfile2llb_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	nixllb "github.com/nixfile/nixfile/llb"
)

// Assemble reports, for the SBOM, what it writes outside the store: the
// rootfs defaults with their content, and each COPY with its destination
// resolved against the WORKDIR at the COPY.
func TestAssembleReportsFilesOutsideTheStore(t *testing.T) {
	plan := newPlan(t, "WORKDIR /srv\nCOPY a b dir/\nCOPY app.conf /etc/app.conf\n", nixfile2llb.ConvertOpt{})
	res, err := plan.Assemble(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []nixfile2llb.Copied{
		{Instruction: "COPY a b dir/", Where: "line 2", Sources: []string{"a", "b"}, Dest: "/srv/dir/"},
		{Instruction: "COPY app.conf /etc/app.conf", Where: "line 3", Sources: []string{"app.conf"}, Dest: "/etc/app.conf"},
	}
	if !slices.EqualFunc(res.Copies, want, func(a, b nixfile2llb.Copied) bool {
		return a.Instruction == b.Instruction && a.Where == b.Where && slices.Equal(a.Sources, b.Sources) && a.Dest == b.Dest
	}) {
		t.Errorf("Copies = %+v, want %+v", res.Copies, want)
	}
	files := map[string]nixllb.Entry{}
	for _, e := range res.Rootfs {
		files[e.Path] = e
	}
	if e, ok := files["/etc/passwd"]; !ok || e.Kind != nixllb.FileEntry || len(e.Data) == 0 {
		t.Errorf("no /etc/passwd with content among the rootfs entries: %+v", res.Rootfs)
	}
	if e, ok := files["/srv"]; !ok || e.Kind != nixllb.DirEntry {
		t.Errorf("no WORKDIR /srv among the rootfs entries: %+v", res.Rootfs)
	}
}

// NIXFILE_SBOM_BUILD_CLOSURE turns the build closure on or off; another
// value is an error naming it.
func TestSBOMBuildClosureArg(t *testing.T) {
	for v, want := range map[string]bool{"": false, "1": true, "true": true, "0": false} {
		plan := newPlan(t, "PACKAGES hello\n", nixfile2llb.ConvertOpt{BuildArgs: map[string]string{nixllb.SBOMBuildClosureArg: v}})
		st, on, err := plan.MetaStep()
		if err != nil || st == nil || on != want {
			t.Errorf("%s=%q: step %v, build closure %v, error %v; want %v", nixllb.SBOMBuildClosureArg, v, st != nil, on, err, want)
		}
	}
	plan := newPlan(t, "PACKAGES hello\n", nixfile2llb.ConvertOpt{BuildArgs: map[string]string{nixllb.SBOMBuildClosureArg: "yes please"}})
	if _, _, err := plan.MetaStep(); err == nil || !strings.Contains(err.Error(), nixllb.SBOMBuildClosureArg) {
		t.Errorf("got %v, want an error naming %s", err, nixllb.SBOMBuildClosureArg)
	}
}

package nixfile2llb_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/frontend/nixfile2llb"
)

// NIXFILE_STORE gives the nix stage a store cache of its own: the same name
// the same store, another name or none another one.
func TestStoreArg(t *testing.T) {
	storeID := func(t *testing.T, name string) string {
		t.Helper()
		opt := nixfile2llb.ConvertOpt{BuildArgs: map[string]string{}}
		if name != "" {
			opt.BuildArgs[nixfile2llb.StoreArg] = name
		}
		g := marshal(t, newPlan(t, "PACKAGES hello\n", opt).Stage.Meta)
		m := g.execChain(t, g.out)[0].mount("/nix")
		if m == nil || m.CacheOpt == nil {
			t.Fatalf("the nix step has no store cache mount")
		}
		return m.CacheOpt.ID
	}
	shared, a, a2, b := storeID(t, ""), storeID(t, "project-a"), storeID(t, "project-a"), storeID(t, "project-b")
	if a != a2 {
		t.Errorf("the same NIXFILE_STORE gives stores %s and %s, want one", a, a2)
	}
	if a == shared || a == b || b == shared {
		t.Errorf("stores: shared %s, project-a %s, project-b %s: want three", shared, a, b)
	}
	for _, bad := range []string{"a b", strings.Repeat("x", 129), "tab\there"} {
		_, err := nixfile2llb.NewPlan(context.Background(), parse(t, "PACKAGES hello\n"), nixfile2llb.ConvertOpt{BuildArgs: map[string]string{nixfile2llb.StoreArg: bad}})
		if err == nil || !strings.Contains(err.Error(), nixfile2llb.StoreArg) {
			t.Errorf("NIXFILE_STORE=%q gives %v, want an error naming it", bad, err)
		}
	}
}

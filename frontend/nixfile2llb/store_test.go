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
	storeID := func(t *testing.T, name string, args ...string) string {
		t.Helper()
		opt := nixfile2llb.ConvertOpt{BuildArgs: map[string]string{}}
		if name != "" {
			opt.BuildArgs[nixfile2llb.StoreArg] = name
		}
		for i := 0; i+1 < len(args); i += 2 {
			opt.BuildArgs[args[i]] = args[i+1]
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
	// BUILDKIT_CACHE_MOUNT_NS puts the store in a namespace of its own, as
	// it puts a Dockerfile's cache mounts, with or without a name.
	ns, ns2, nsA := storeID(t, "", nixfile2llb.CacheMountNSArg, "ci"), storeID(t, "", nixfile2llb.CacheMountNSArg, "ci"), storeID(t, "project-a", nixfile2llb.CacheMountNSArg, "ci")
	if ns != ns2 || ns == shared || nsA == a || nsA == ns {
		t.Errorf("stores: shared %s, namespace ci %s and %s, project-a %s, project-a in ci %s: want the two in ci the same, the others apart", shared, ns, ns2, a, nsA)
	}
	for _, bad := range []string{"a b", strings.Repeat("x", 129), "tab\there"} {
		_, err := nixfile2llb.NewPlan(context.Background(), parse(t, "PACKAGES hello\n"), nixfile2llb.ConvertOpt{BuildArgs: map[string]string{nixfile2llb.StoreArg: bad}})
		if err == nil || !strings.Contains(err.Error(), nixfile2llb.StoreArg) {
			t.Errorf("NIXFILE_STORE=%q gives %v, want an error naming it", bad, err)
		}
	}
}

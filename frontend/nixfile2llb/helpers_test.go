package nixfile2llb_test

import (
	"context"
	"crypto/sha256"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/nixfile/nixfile/frontend/nixfile"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	"github.com/nixfile/nixfile/internal/llbtest"
	nixllb "github.com/nixfile/nixfile/llb"
	digest "github.com/opencontainers/go-digest"
)

// testUniqueID replaces the random local.unique BuildKit stamps on a local
// source without a session at every Marshal, so that definitions that read
// the build context can be compared byte for byte.
const testUniqueID = "nixfile-unit-test"

// storePath is a valid store path for name: its hash part is derived from
// the name, in nix's base-32 alphabet.
func storePath(t testing.TB, name string) string {
	t.Helper()
	const alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
	sum := sha256.Sum256([]byte(name))
	var h strings.Builder
	for i := 0; i < 32; i++ {
		h.WriteByte(alphabet[sum[i]%32])
	}
	p := nixllb.StoreDir + "/" + h.String() + "-" + name
	if err := nixllb.ValidateStorePath(p); err != nil {
		t.Fatalf("test store path: %v", err)
	}
	return p
}

// closureOf is a hand-made closure: roots, their dependencies, and the
// roots that have a bin directory, sorted as ParseClosure sorts them.
func closureOf(t testing.TB, roots, deps, bins []string) *nixllb.Closure {
	t.Helper()
	c := &nixllb.Closure{Info: map[string]nixllb.PathInfo{}}
	for _, r := range roots {
		c.Roots = append(c.Roots, storePath(t, r))
	}
	for _, p := range append(append([]string(nil), roots...), deps...) {
		c.Paths = append(c.Paths, storePath(t, p))
	}
	for _, b := range bins {
		c.Bins = append(c.Bins, storePath(t, b))
	}
	slices.Sort(c.Roots)
	slices.Sort(c.Paths)
	// Bins are sorted by package name, not by path.
	slices.SortStableFunc(c.Bins, func(a, b string) int {
		return strings.Compare(nixllb.StorePathName(a), nixllb.StorePathName(b))
	})
	return c
}

func parse(t testing.TB, src string) *nixfile.File {
	t.Helper()
	f, err := nixfile.Parse([]byte(src))
	if err != nil {
		t.Fatalf("parsing the Nixfile: %v\n%s", err, src)
	}
	return f
}

func newPlan(t testing.TB, src string, opt nixfile2llb.ConvertOpt) *nixfile2llb.Plan {
	t.Helper()
	plan, err := nixfile2llb.NewPlan(context.Background(), parse(t, src), opt)
	if err != nil {
		t.Fatalf("NewPlan: %v\n%s", err, src)
	}
	return plan
}

// graph is a marshalled definition, decoded as BuildKit's solver reads it.
type graph struct {
	def *llb.Definition
	ops map[digest.Digest]*pb.Op
	// order is the ops' digests as in def.Def, the terminal op excluded.
	order []digest.Digest
	// out is what the terminal op points at: the state's output.
	out *pb.Input
}

func marshal(t testing.TB, st llb.State) *graph {
	t.Helper()
	def, err := st.Marshal(context.Background(), llb.LinuxAmd64, llb.LocalUniqueID(testUniqueID))
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return decode(t, def)
}

func decode(t testing.TB, def *llb.Definition) *graph {
	t.Helper()
	g := &graph{def: def, ops: map[digest.Digest]*pb.Op{}}
	if len(def.Def) == 0 {
		t.Fatal("empty definition")
	}
	for i, op := range llbtest.Ops(t, def) {
		if i == len(def.Def)-1 {
			if len(op.Inputs) != 1 || op.Op.Op != nil {
				t.Fatalf("the last op is not a terminal op: %v", op.Op)
			}
			g.out = op.Inputs[0]
			continue
		}
		g.ops[op.Digest] = op.Op
		g.order = append(g.order, op.Digest)
	}
	if _, ok := g.ops[digest.Digest(g.out.Digest)]; !ok {
		t.Fatalf("the output %s is not in the definition", g.out.Digest)
	}
	return g
}

func (g *graph) op(in *pb.Input) *pb.Op { return g.ops[digest.Digest(in.Digest)] }

// name is an op's llb.customname.
func (g *graph) name(d digest.Digest) string {
	return g.def.Metadata[d].Description["llb.customname"]
}

// ranges are the Nixfile ranges the definition's source map gives an op.
func (g *graph) ranges(d digest.Digest) []*pb.Range {
	if g.def.Source == nil {
		return nil
	}
	var out []*pb.Range
	for _, l := range g.def.Source.Locations[string(d)].GetLocations() {
		out = append(out, l.Ranges...)
	}
	return out
}

func (g *graph) sources(prefix string) []*pb.SourceOp {
	var out []*pb.SourceOp
	for _, d := range g.order {
		if s := g.ops[d].GetSource(); s != nil && strings.HasPrefix(s.Identifier, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// execStep is one exec op of the nix stage.
type execStep struct {
	dgst digest.Digest
	op   *pb.Op
}

func (e execStep) exec() *pb.ExecOp { return e.op.GetExec() }

// mount returns the exec's mount at dest, or nil.
func (e execStep) mount(dest string) *pb.Mount {
	for _, m := range e.exec().Mounts {
		if m.Dest == dest {
			return m
		}
	}
	return nil
}

// mountInput is the op a mount reads, or nil for scratch.
func (g *graph) mountInput(e execStep, m *pb.Mount) (*pb.Op, *pb.Input) {
	if m.Input < 0 {
		return nil, nil
	}
	in := e.op.Inputs[m.Input]
	return g.op(in), in
}

// execChain is the nix stage's exec ops in the order they run: from the op
// the output comes from, back along the root mounts.
func (g *graph) execChain(t testing.TB, from *pb.Input) []execStep {
	t.Helper()
	var chain []execStep
	d := digest.Digest(from.Digest)
	for {
		op := g.ops[d]
		if op == nil || op.GetExec() == nil {
			break
		}
		e := execStep{dgst: d, op: op}
		chain = append([]execStep{e}, chain...)
		root := e.mount("/")
		if root == nil || root.Input < 0 {
			t.Fatalf("exec %v has no root input", e.exec().Meta.Args)
		}
		d = digest.Digest(op.Inputs[root.Input].Digest)
	}
	return chain
}

// stageOutput is, when in is an output of the nix stage's build step, the
// mount it is: /nixfile/closure (the closure the image copies from) or
// /nixfile/out (Meta). It is "" for anything else.
func (g *graph) stageOutput(in *pb.Input) string {
	e := g.op(in).GetExec()
	if e == nil {
		return ""
	}
	args := e.Meta.Args
	// The build script, with the groups it evaluates itself as arguments.
	if len(args) < 2 || args[0] != "/bin/sh" || args[1] != "/nixfile/expr/build.sh" {
		return ""
	}
	for _, m := range e.Mounts {
		if m.Output == in.Index {
			return m.Dest
		}
	}
	return ""
}

func envValue(env []string, k string) (string, bool) {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, k+"="); ok {
			return v, true
		}
	}
	return "", false
}

// Package llbtest reads LLB definitions back in tests.
package llbtest

import (
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// Op is one op of a definition, with its digest (the key of its metadata).
type Op struct {
	*pb.Op
	Digest digest.Digest
}

// Ops decodes every op of def, in its order; a malformed one fails t.
func Ops(t testing.TB, def *llb.Definition) []Op {
	t.Helper()
	ops := make([]Op, 0, len(def.Def))
	for i, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
		ops = append(ops, Op{Op: &op, Digest: digest.FromBytes(dt)})
	}
	return ops
}

package nixfile2llb_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	nixllb "github.com/nixfile/nixfile/llb"
)

// metaFiles are the files a nix stage reports for a closure of n paths,
// each referring to a few earlier ones, as nix 2.28 writes them.
func metaFiles(b *testing.B, n int) map[string][]byte {
	paths := make([]string, n)
	info := map[string]any{}
	for i := range paths {
		paths[i] = storePath(b, fmt.Sprintf("pkg-%05d", i))
		var refs []string
		for _, k := range []int{i / 2, i / 3, i - 1} {
			if k >= 0 && k < i {
				refs = append(refs, paths[k])
			}
		}
		info[paths[i]] = map[string]any{
			"narSize": 1000 + 37*i, "references": refs,
			"narHash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
		}
	}
	pi, err := json.Marshal(info)
	if err != nil {
		b.Fatal(err)
	}
	root := paths[n-1]
	return map[string][]byte{
		nixllb.MetaRoots:    []byte(root + "\n"),
		nixllb.MetaClosure:  []byte(strings.Join(paths, "\n") + "\n"),
		nixllb.MetaPathInfo: pi,
	}
}

// What the frontend does between the nix stage and the solve of the image,
// for a big closure: read the stage's report back, assemble, marshal. A
// no-change rebuild pays it every time.
//
// "archived" is what it reads when the nix stage archived the layers: the
// layer list, and neither path-info nor the closure list.
func BenchmarkAssembleBigClosure(b *testing.B) {
	for _, n := range []int{2000, 5000} {
		for _, archived := range []bool{false, true} {
			b.Run(fmt.Sprintf("%d/archived=%t", n, archived), func(b *testing.B) {
				benchmarkAssemble(b, n, archived)
			})
		}
	}
}

func benchmarkAssemble(b *testing.B, n int, archived bool) {
	files := metaFiles(b, n)
	var opt nixfile2llb.ConvertOpt
	if archived {
		c, err := nixllb.ReadClosure(files)
		if err != nil {
			b.Fatal(err)
		}
		files[nixllb.MetaLayers] = nixllb.FormatLayers(nixllb.ArchiveLayers(c, 0))
		delete(files, nixllb.MetaPathInfo)
		delete(files, nixllb.MetaClosure)
		opt.Archiver = func(context.Context) *nixllb.Archiver {
			return &nixllb.Archiver{Image: llb.Image("localhost:5000/nixfile:dev"), Path: "/frontend"}
		}
	}
	plan := newPlan(b, "PACKAGES app\nROOTFS none\n", opt)
	for b.Loop() {
		c, err := nixllb.ReadClosure(files)
		if err != nil {
			b.Fatal(err)
		}
		res, err := plan.Assemble(c)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := res.State.Marshal(context.Background(), llb.LinuxAmd64); err != nil {
			b.Fatal(err)
		}
	}
}

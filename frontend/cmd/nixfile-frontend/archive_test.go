package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	nixllb "github.com/nixfile/nixfile/llb"
)

// The archive command takes two directories and a budget, and a closure
// the nix stage listed; anything else fails it before an archive is
// written, and no layer list is left.
func TestArchiveClosureRefuses(t *testing.T) {
	dir, meta := t.TempDir(), t.TempDir()
	for _, tt := range []struct {
		args  []string
		files map[string]string
		want  string
	}{
		{args: nil, want: "usage"},
		{args: []string{dir, meta}, want: "usage"},
		{args: []string{dir, meta, "-1"}, want: "not a layer budget"},
		{args: []string{dir, meta, "many"}, want: "not a layer budget"},
		{args: []string{dir, meta, "0"}, want: "no such file"},
		{args: []string{dir, meta, "0"}, files: map[string]string{nixllb.MetaClosure: "../../etc/passwd\n"}, want: "not a nix store path"},
		{args: []string{dir, meta, "0"}, files: map[string]string{}, want: "empty closure"},
	} {
		for _, name := range nixllb.MetaFiles {
			os.Remove(filepath.Join(meta, name))
			if tt.files != nil {
				if err := os.WriteFile(filepath.Join(meta, name), []byte(tt.files[name]), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		err := archiveClosure(tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("archiveClosure(%q) = %v, want an error with %q", tt.args, err, tt.want)
		}
		if tt.files != nil {
			if dt, _ := os.ReadFile(filepath.Join(meta, nixllb.MetaLayers)); len(dt) > 0 {
				t.Errorf("archiveClosure(%q) failed and left a layer list", tt.args)
			}
		}
	}
}

package main

import (
	"strings"
	"testing"
)

// The archive command takes one directory and store paths only: a line
// that is not one fails it before anything is written.
func TestArchiveClosureRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		in   string
		want string
	}{
		{args: nil, want: "usage"},
		{args: []string{dir, "extra"}, want: "usage"},
		{args: []string{dir}, in: "/nix/store/0c6kzph7l0dcbfmjap64f0czdafn3b7x-ok\n../../etc/passwd\n", want: "not a nix store path"},
		{args: []string{dir}, in: "/nix/store/0c6kzph7l0dcbfmjap64f0czdafn3b7x-not-here\n", want: "no such file"},
	} {
		err := archiveClosure(tt.args, strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("archiveClosure(%q, %q) = %v, want an error with %q", tt.args, tt.in, err, tt.want)
		}
	}
	if err := archiveClosure([]string{dir}, strings.NewReader("\n")); err != nil {
		t.Errorf("an empty closure: %v", err)
	}
}

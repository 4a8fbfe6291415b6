package builder

import (
	"maps"
	"testing"
)

func TestParseCatOutput(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  string
		want map[string]string
	}{
		{name: "none", out: "", want: map[string]string{}},
		{name: "files, one empty, one with newlines", out: "nix.log 12\nerror: x\nyz\nevaluating 0\ngroups 4\n1 a\n",
			want: map[string]string{"nix.log": "error: x\nyz\n", "evaluating": "", "groups": "1 a\n"}},
		{name: "wc pads with blanks", out: "groups    2\nab", want: map[string]string{"groups": "ab"}},
		{name: "cut short", out: "nix.log 99\nabc", want: map[string]string{}},
		{name: "garbage", out: "what\n", want: map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseCatOutput([]byte(tc.out)); !maps.Equal(got, tc.want) {
				t.Errorf("parseCatOutput = %q, want %q", got, tc.want)
			}
		})
	}
}

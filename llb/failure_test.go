package nixllb

import (
	"reflect"
	"testing"
)

func TestFailedGroups(t *testing.T) {
	const (
		hello  = "/nix/store/1w2l4619lv46b6d1gz2zmjbp5dwx7k0c-hello.drv"
		broken = "/nix/store/by9wg77zr1zihlp5ma9b36b8wc4qpfw9-broken-1.0.drv"
		app    = "/nix/store/aknjbh7gl4gf0ija4s0kpm47n0j43z3v-app-1.0.drv"
		dep    = "/nix/store/0000000000000000000000000000000a-dep-1.0.drv"
	)
	groups := []byte("0 " + hello + "!out\n1 " + broken + "!out\n2 " + app + "!bin\n")
	tests := []struct {
		name string
		log  string
		want []int
	}{
		{
			name: "a requested derivation's builder failed; the summary names others too",
			log: "building '" + broken + "'...\nerror: builder for '" + broken + "' failed with exit code 3\n" +
				"error: build of '" + hello + "', '" + broken + "' failed\n",
			want: []int{1},
		},
		{
			name: "a dependency failed: nix names the requested derivation that needed it",
			log: "error: builder for '" + dep + "' failed with exit code 1\n" +
				"error: 1 dependencies of derivation '" + app + "' failed to build\n",
			want: []int{2},
		},
		{
			name: "only the summary names anything",
			log:  "error: build of '" + hello + "!out' failed\n",
			want: []int{0},
		},
		{
			name: "nothing named",
			log:  "error: out of disk space\n",
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FailedGroups(groups, tc.log); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("FailedGroups = %v, want %v", got, tc.want)
			}
		})
	}
}

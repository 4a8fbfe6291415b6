package expand

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/frontend/nixfile"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

func expandText(t *testing.T, src string, args map[string]string) *Result {
	t.Helper()
	f, err := nixfile.Parse([]byte(src))
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	return Nixfile(f, Options{BuildArgs: args, Platform: ocispecs.Platform{OS: "linux", Architecture: "arm64"}, Path: "/bin"})
}

// The scope of each line: build args beat automatic values, which beat
// defaults; ENV from its pair on; a bare ARG is defined but has no value.
func TestScope(t *testing.T) {
	r := expandText(t, "ARG A=1\nARG TARGETARCH=x\nARG B\nARG C=$A$B\nENV D=$C E=$D\nLABEL l=$A/$TARGETARCH/$B/$C/$D/$E/$PATH\n",
		map[string]string{"A": "2"})
	want := map[string]string{"A": "2", "TARGETARCH": "arm64", "C": "2"}
	if !reflect.DeepEqual(r.Args, want) {
		t.Errorf("Args = %v, want %v", r.Args, want)
	}
	label := r.Lines[5]
	if got := label.Pairs; len(got) != 1 || got[0].Value != "2/arm64//2/2/2//bin" {
		t.Errorf("LABEL = %v", got)
	}
	if !reflect.DeepEqual(label.Scope, []string{"PATH", "A", "TARGETARCH", "B", "C", "D", "E"}) {
		t.Errorf("scope = %v", label.Scope)
	}
	if len(label.Undefined) != 0 {
		t.Errorf("undefined = %v, want none (B is declared)", label.Undefined)
	}
	if label.Known || !label.ReadsPath {
		t.Errorf("known %t, reads PATH %t: want false, true", label.Known, label.ReadsPath)
	}
}

// Undefined variables are each reported once a line, in the order written,
// from every word the build expands, JSON forms of COPY and VOLUME
// included; what is quoted, escaped or in an exec form is not a reference.
func TestUndefined(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want []string
	}{
		{src: "LABEL a=${X:-$Y} b=$X", want: []string{"X", "Y"}},
		{src: "COPY [\"'$U'\", \"/d/$V\"]", want: []string{"U", "V"}},
		{src: "VOLUME [\"/it's/$U\"]", want: []string{"U"}},
		{src: "COPY --chmod=$M --chown=$O a /b", want: []string{"M", "O"}},
		{src: "LABEL a='$U' b=\\$V c=\"$W\"", want: []string{"W"}},
		{src: "ENTRYPOINT [\"$U\"]", want: nil},
		{src: "CMD echo $HOME", want: []string{"HOME"}},
		{src: "LABEL v=$V\nARG V", want: []string{"V"}},
	} {
		r := expandText(t, tc.src, nil)
		if got := r.Lines[0].Undefined; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: undefined %v, want %v", tc.src, got, tc.want)
		}
	}
}

// The JSON forms' strings are one word each, their quotes kept.
func TestJSONWords(t *testing.T) {
	r := expandText(t, "ARG X=x\nCOPY [\"'a $X'\", \"b\\\\c\", \"/d/\"]\nVOLUME [\"/it's/$X\", \"/a b\"]\nCMD [\"$X\"]\n", nil)
	if got, want := r.Lines[1].Words, []string{"'a x'", `b\c`}; !reflect.DeepEqual(got, want) {
		t.Errorf("COPY sources = %q, want %q", got, want)
	}
	if got, want := r.Lines[2].Words, []string{"/it's/x", "/a b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("VOLUME = %q, want %q", got, want)
	}
	if got, want := r.Lines[3].Words, []string{"$X"}; !reflect.DeepEqual(got, want) {
		t.Errorf("CMD = %q, want %q", got, want)
	}
}

// A line that does not expand has its error, located; the lines after it
// are expanded still. A default that a build arg replaces fails nothing.
func TestErrors(t *testing.T) {
	r := expandText(t, "ARG A=${\nARG B=${\nLABEL x=${\nLABEL y=$A$B$C\nARG N\nLABEL n=$N\n", map[string]string{"A": "a", "N": "\x00"})
	if r.Lines[0].Err != nil {
		t.Errorf("a replaced default failed: %v", r.Lines[0].Err)
	}
	for i, want := range map[int]string{1: "line 2: ARG: expanding ${", 2: "line 3: LABEL: expanding ${"} {
		if err := r.Lines[i].Err; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("line %d: %v, want %q", i+1, err, want)
		}
	}
	if err := r.Err(); err == nil || !strings.HasPrefix(err.Error(), "line 2:") {
		t.Errorf("Err = %v, want line 2's", err)
	}
	if got := r.Lines[3].Undefined; !reflect.DeepEqual(got, []string{"C"}) {
		t.Errorf("line 4 undefined %v, want [C]", got)
	}
	if err := r.Lines[5].Err; err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("a NUL from a build arg: %v", err)
	}
}

// Past MaxExpandedSize the pass stops, at the line that passes it.
func TestMaxExpandedSize(t *testing.T) {
	big := strings.Repeat("x", MaxExpandedSize/4)
	r := expandText(t, "ARG B\nLABEL a=$B$B b=$B$B c=$B\nLABEL d=$B\n", map[string]string{"B": big})
	if len(r.Lines) != 2 || r.Lines[1].Err == nil || !strings.Contains(r.Lines[1].Err.Error(), "expand to more than 16 MiB") {
		t.Errorf("%d lines, line 2: %v; want the pass to stop at line 2", len(r.Lines), r.Lines[len(r.Lines)-1].Err)
	}
}

package nixfile

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Input past a limit, and a NUL byte, are errors at the line that passes
// it; input at a limit parses.
func TestParseLimits(t *testing.T) {
	longLine := "LABEL a=" + strings.Repeat("x", MaxLineLength-len("LABEL a="))
	tests := []struct {
		name     string
		data     string
		wantLine int
		wantMsg  string // "" when it must parse
	}{
		{name: "file at the limit", data: "PACKAGES hello\n" + strings.Repeat("# comment\n", MaxFileSize/10)[:MaxFileSize-len("PACKAGES hello\n")-1] + "\n"},
		{name: "file over the limit", data: strings.Repeat("# comment\n", MaxFileSize/10+1), wantLine: MaxFileSize/10 + 1, wantMsg: "larger than 1 MiB"},
		{name: "line at the limit", data: "PACKAGES hello\n" + longLine + "\n"},
		{name: "line over the limit", data: "PACKAGES hello\n" + longLine + "x\n", wantLine: 2, wantMsg: "more than 64 KiB"},
		{name: "a comment over the limit", data: "# " + strings.Repeat("x", MaxLineLength) + "\nPACKAGES hello\n", wantLine: 1, wantMsg: "more than 64 KiB"},
		{
			name:     "instruction over the limit by continuations",
			data:     "PACKAGES hello\nLABEL \\\n" + strings.Repeat("a="+strings.Repeat("x", 1000)+" \\\n", 70) + "b=c\n",
			wantLine: 2, wantMsg: "instruction is",
		},
		{name: "instructions at the limit", data: strings.Repeat("ENV A=1\n", MaxInstructions)},
		{name: "instructions over the limit", data: strings.Repeat("ENV A=1\n", MaxInstructions+1), wantLine: MaxInstructions + 1, wantMsg: "more than 10000 instructions"},
		{name: "continuation lines at the limit", data: "PACKAGES \\\n" + strings.Repeat("a \\\n", MaxInstructionLines-2) + "b\n"},
		{name: "continuation lines over the limit", data: "ENV A=1\nPACKAGES \\\n" + strings.Repeat("\\\n", MaxInstructionLines-1) + "b\n", wantLine: 2, wantMsg: "spans 1001 lines"},
		{name: "comments in a continuation count", data: "PACKAGES a \\\n" + strings.Repeat("# c\n", MaxInstructionLines) + "b\n", wantLine: 1, wantMsg: "more than 1000"},
		{name: "words at the limit", data: "PACKAGES" + strings.Repeat(" a", MaxWords) + "\n"},
		{name: "words over the limit", data: "ENV A=1\nPACKAGES" + strings.Repeat(" a", MaxWords+1) + "\n", wantLine: 2, wantMsg: "10001 words"},
		{name: "JSON strings over the limit", data: `CMD [` + strings.Repeat(`"a",`, MaxWords) + `"a"]` + "\n", wantLine: 1, wantMsg: "10001 strings"},
		{name: "a NUL in a name", data: "PACKAGES hello\nPACKAGES curl\x00evil\n", wantLine: 2, wantMsg: "NUL byte"},
		{name: "a NUL in a comment", data: "# \x00\nPACKAGES hello\n", wantLine: 1, wantMsg: "NUL byte"},
		{name: "a NUL after a CRLF", data: "PACKAGES a\r\n\r\nENV A=\x00\r\n", wantLine: 3, wantMsg: "NUL byte"},
		{name: "a NUL in a JSON string", data: `ENTRYPOINT ["a\u0000b"]` + "\n", wantLine: 1, wantMsg: "NUL byte"},
		{name: "a NUL in a COPY JSON path", data: `COPY ["a\u0000", "/b"]` + "\n", wantLine: 1, wantMsg: "NUL byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse([]byte(tt.data))
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse succeeded with %d instructions, want an error containing %q", len(f.Instructions), tt.wantMsg)
			}
			var le *LocationError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a *LocationError", err)
			}
			if le.Range.Start.Line != tt.wantLine {
				t.Errorf("error at line %d, want %d: %.200v", le.Range.Start.Line, tt.wantLine, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %.300q does not contain %q", err, tt.wantMsg)
			}
		})
	}
}

// Blanks inside ${...} do not split a word, as in a shell: ${X:-a b} is one
// expansion (the converter's lexer splits what it expands to, where a
// shell would).
func TestSplitWordsBraces(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "default with a blank", in: "a=${X:-a b} c=d", want: []string{"a=${X:-a b}", "c=d"}},
		{name: "error message", in: "v=${X:?X must be set}", want: []string{"v=${X:?X must be set}"}},
		{name: "nested", in: "${A:-${B:-x y} z} w", want: []string{"${A:-${B:-x y} z}", "w"}},
		{name: "in double quotes", in: `"${X:-a b}" c`, want: []string{`"${X:-a b}"`, "c"}},
		{name: "quotes inside", in: `${X:-"a b"} c`, want: []string{`${X:-"a b"}`, "c"}},
		{name: "a quote of the braces' own", in: `${X:-"}"} c`, want: []string{`${X:-"}"}`, "c"}},
		{name: "single quotes: no expansion", in: `'${X:-a' b}`, want: []string{`'${X:-a'`, "b}"}},
		{name: "escaped dollar", in: `\${X:-a b}`, want: []string{`\${X:-a`, "b}"}},
		{name: "plain braces", in: "{a b}", want: []string{"{a", "b}"}},
		{name: "a closing brace alone", in: "a} b", want: []string{"a}", "b"}},
		{name: "unclosed", in: "${X:-a b", want: []string{"${X:-a b"}},
		{name: "dollar without brace", in: "$X a", want: []string{"$X", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitWords(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("splitWords(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// A message that quotes a huge value is cut, so that it fits BuildKit's
// messages and reaches the user.
func TestLocationErrorLength(t *testing.T) {
	tests := []struct {
		name    string
		msg     string
		wantLen int
	}{
		{name: "short", msg: "bad", wantLen: len("line 3: bad")},
		{name: "huge", msg: strings.Repeat("x", 10<<20), wantLen: len("line 3: ") + maxErrorLength + len("... (10481664 more bytes)")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := errorAt(Range{Start: Position{Line: 3}}, "%s", tt.msg)
			if got := len(err.Error()); got != tt.wantLen {
				t.Errorf("len(Error()) = %d, want %d", got, tt.wantLen)
			}
		})
	}
}

package nixfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/internal/golden"
)

// dump renders a parsed File as text, one line per instruction: its range,
// its keyword and its typed fields, every string quoted with %q.
func dump(f *File) string {
	var b strings.Builder
	if f.SyntaxRange != nil {
		fmt.Fprintf(&b, "%s syntax %q\n", fmtRange(*f.SyntaxRange), f.Syntax)
	} else if f.Syntax != "" {
		fmt.Fprintf(&b, "?:? syntax %q (no SyntaxRange)\n", f.Syntax)
	}
	if f.CheckRange != nil {
		fmt.Fprintf(&b, "%s check %q\n", fmtRange(*f.CheckRange), f.Check)
	}
	for _, in := range f.Instructions {
		fmt.Fprintf(&b, "%s %s %s\n", fmtRange(Location(in)), KeywordOf(in), fields(in))
	}
	return b.String()
}

func fmtRange(r Range) string {
	return fmt.Sprintf("%d:%d-%d:%d", r.Start.Line, r.Start.Character, r.End.Line, r.End.Character)
}

func fields(in Instruction) string {
	switch in := in.(type) {
	case *Arg:
		def := "<none>"
		if in.Default != nil {
			def = fmt.Sprintf("%q", *in.Default)
		}
		return fmt.Sprintf("Name=%q Default=%s", in.Name, def)
	case *Nixpkgs:
		return fmt.Sprintf("Source=%q", in.Source)
	case *Packages:
		return fmt.Sprintf("Attrs=%q", in.Attrs)
	case *Flake:
		return fmt.Sprintf("Refs=%q", in.Refs)
	case *Build:
		return fmt.Sprintf("File=%q Attrs=%q", in.File, in.Attrs)
	case *Copy:
		out := fmt.Sprintf("JSON=%t Chmod=%q Chown=%q Sources=%q Dest=%q", in.JSON, in.Chmod, in.Chown, in.Sources, in.Dest)
		if in.From != "" {
			out += fmt.Sprintf(" From=%q", in.From)
		}
		if len(in.Excludes) > 0 || in.Link {
			out += fmt.Sprintf(" Excludes=%q Link=%t", in.Excludes, in.Link)
		}
		return out
	case *Env:
		return "Vars=" + fmtKeyValues(in.Vars)
	case *Label:
		return "Labels=" + fmtKeyValues(in.Labels)
	case *Entrypoint:
		return fmt.Sprintf("JSON=%t Args=%q", in.JSON, in.Args)
	case *Cmd:
		return fmt.Sprintf("JSON=%t Args=%q", in.JSON, in.Args)
	case *Workdir:
		return fmt.Sprintf("Path=%q", in.Path)
	case *User:
		return fmt.Sprintf("User=%q", in.User)
	case *Expose:
		return fmt.Sprintf("Ports=%q", in.Ports)
	case *Volume:
		return fmt.Sprintf("JSON=%t Paths=%q", in.JSON, in.Paths)
	case *StopSignal:
		return fmt.Sprintf("Signal=%q", in.Signal)
	case *Healthcheck:
		return fmt.Sprintf("None=%t Flags=%s JSON=%t Args=%q", in.None, fmtKeyValues(in.Flags), in.JSON, in.Args)
	case *Layers:
		return fmt.Sprintf("Max=%q", in.Max)
	case *NixConfig:
		return fmt.Sprintf("Name=%q Value=%q", in.Name, in.Value)
	case *Rootfs:
		return fmt.Sprintf("Settings=%q", in.Settings)
	}
	return fmt.Sprintf("UNKNOWN TYPE %T %+v", in, in)
}

func fmtKeyValues(kvs []KeyValue) string {
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		parts[i] = fmt.Sprintf("%q=%q", kv.Key, kv.Value)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func parseInputs(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "parse", "*.nixfile"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("want at least 8 testdata/parse/*.nixfile, found %d", len(files))
	}
	return files
}

func TestParseGolden(t *testing.T) {
	for _, file := range parseInputs(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".nixfile")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := dump(f)
			goldenPath := strings.TrimSuffix(file, ".nixfile") + ".golden"
			golden.Check(t, goldenPath, []byte(got))
			// Parsing is deterministic and CRLF line ends change nothing.
			crlf := bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
			f2, err := Parse(crlf)
			if err != nil {
				t.Fatalf("Parse with CRLF line ends: %v", err)
			}
			if got2 := dump(f2); got2 != got {
				t.Errorf("CRLF line ends give a different parse:\n--- CRLF\n%s--- LF\n%s", got2, got)
			}
		})
	}
}

// The golden inputs together use every keyword.
func TestParseGoldenCoversEveryKeyword(t *testing.T) {
	seen := map[string]bool{}
	for _, file := range parseInputs(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, in := range f.Instructions {
			seen[KeywordOf(in)] = true
		}
	}
	for _, k := range Keywords() {
		if !seen[k] {
			t.Errorf("no testdata/parse/*.nixfile uses %s", k)
		}
	}
}

func TestKeywordsSorted(t *testing.T) {
	k := Keywords()
	if !sort.StringsAreSorted(k) {
		t.Errorf("Keywords() is not sorted: %q", k)
	}
	if len(k) != 19 {
		t.Errorf("Keywords() has %d keywords, want 19: %q", len(k), k)
	}
}

func TestParseSmall(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string // dump of the result
	}{
		{name: "empty", input: "", want: ""},
		{name: "only newline", input: "\n", want: ""},
		{name: "only comments and blanks", input: "# a\n\n   \n# b\n", want: ""},
		{name: "no trailing newline", input: "PACKAGES hello", want: "1:0-1:14 PACKAGES Attrs=[\"hello\"]\n"},
		{name: "byte order mark", input: "\xef\xbb\xbf# syntax=x/y\nPACKAGES hello\n",
			want: "1:0-1:12 syntax \"x/y\"\n2:0-2:14 PACKAGES Attrs=[\"hello\"]\n"},
		{name: "CRLF", input: "PACKAGES a \\\r\n  b\r\nUSER x\r\n",
			want: "1:0-2:3 PACKAGES Attrs=[\"a\" \"b\"]\n3:0-3:6 USER User=\"x\"\n"},
		{name: "syntax after a blank line is a comment", input: "\n\n# syntax=a/b\nPACKAGES x\n",
			want: "4:0-4:10 PACKAGES Attrs=[\"x\"]\n"},
		{name: "syntax after an instruction is a comment", input: "PACKAGES x\n# syntax=a/b\n",
			want: "1:0-1:10 PACKAGES Attrs=[\"x\"]\n"},
		{name: "a blank line ends the directives", input: "# escape=\\\n\n# syntax=a/b\nPACKAGES x\n",
			want: "4:0-4:10 PACKAGES Attrs=[\"x\"]\n"},
		{name: "an unknown directive is a comment and ends the directives", input: "# foo=bar\n# syntax=a/b\nPACKAGES x\n",
			want: "3:0-3:10 PACKAGES Attrs=[\"x\"]\n"},
		{name: "escape is a directive, ignored", input: "# escape=`\n  # Syntax = a/b \nPACKAGES x`\n",
			want: "2:0-2:17 syntax \"a/b\"\n3:0-3:11 PACKAGES Attrs=[\"x`\"]\n"},
		{name: "check directive, the first counts", input: "# check=skip=RunsAsRoot;error=true\n#syntax=a/b\n# CHECK = skip=all\nPACKAGES x\n",
			want: "2:0-2:11 syntax \"a/b\"\n1:0-1:34 check \"skip=RunsAsRoot;error=true\"\n4:0-4:10 PACKAGES Attrs=[\"x\"]\n"},
		{name: "check after an instruction is a comment", input: "PACKAGES x\n# check=error=true\n",
			want: "1:0-1:10 PACKAGES Attrs=[\"x\"]\n"},
		{name: "syntax after a plain comment is a comment", input: "# hello\n# syntax=a/b\nPACKAGES x\n",
			want: "3:0-3:10 PACKAGES Attrs=[\"x\"]\n"},
		{name: "continued pieces are joined without a space", input: "PACKAGES hel\\\nlo\n",
			want: "1:0-2:2 PACKAGES Attrs=[\"hello\"]\n"},
		{name: "blanks before the backslash are kept", input: "LABEL a=b \\\nc=d\n",
			want: "1:0-2:3 LABEL Labels=[\"a\"=\"b\" \"c\"=\"d\"]\n"},
		{name: "blanks starting a continued line are kept", input: "LABEL a=b\\\n  c=d\n",
			want: "1:0-2:5 LABEL Labels=[\"a\"=\"b\" \"c\"=\"d\"]\n"},
		{name: "blank lines inside a continuation are skipped", input: "PACKAGES a \\\n\n   \nPACKAGES b\nUSER x\n",
			want: "1:0-4:10 PACKAGES Attrs=[\"a\" \"PACKAGES\" \"b\"]\n5:0-5:6 USER User=\"x\"\n"},
		{name: "blank and comment lines inside a continuation", input: "ENV A=1 \\\n\n# c\n\n  B=2\n\nUSER x\n",
			want: "1:0-5:5 ENV Vars=[\"A\"=\"1\" \"B\"=\"2\"]\n7:0-7:6 USER User=\"x\"\n"},
		{name: "an escaped backslash at the end is not a continuation", input: "ENV A=x\\\\\nUSER u\n",
			want: "1:0-1:9 ENV Vars=[\"A\"=\"x\\\\\\\\\"]\n2:0-2:6 USER User=\"u\"\n"},
		{name: "an odd number of backslashes is a continuation", input: "PACKAGES x\\\\\\\nUSER u\n",
			want: "1:0-2:6 PACKAGES Attrs=[\"x\\\\\\\\USER\" \"u\"]\n"},
		{name: "a lone backslash before an instruction", input: "\\\n\nPACKAGES a\n",
			want: "3:0-3:10 PACKAGES Attrs=[\"a\"]\n"},
		{name: "ENV old form keeps the value's spacing", input: "ENV A  b   c \t d  \n",
			want: "1:0-1:18 ENV Vars=[\"A\"=\"b   c \\t d\"]\n"},
		{name: "ENV old form keeps quotes for expansion", input: "ENV A \"b  c\"   'd'\n",
			want: "1:0-1:18 ENV Vars=[\"A\"=\"\\\"b  c\\\"   'd'\"]\n"},
		{name: "VOLUME JSON strings are one path each", input: "VOLUME [\"/a b\", \"$X\"]\nVOLUME /c \"/d e\"\n",
			want: "1:0-1:21 VOLUME JSON=true Paths=[\"/a b\" \"$X\"]\n2:0-2:16 VOLUME JSON=false Paths=[\"/c\" \"\\\"/d e\\\"\"]\n"},
		{name: "closed quotes with escapes", input: "CMD \"a\\\"b\" 'c\\'\n",
			want: "1:0-1:15 CMD JSON=false Args=[\"\\\"a\\\\\\\"b\\\"\" \"'c\\\\'\"]\n"},
		{name: "keyword followed by tab", input: "PACKAGES\thello\n", want: "1:0-1:14 PACKAGES Attrs=[\"hello\"]\n"},
		{name: "ARG with empty default", input: "ARG A=\n", want: "1:0-1:6 ARG Name=\"A\" Default=\"\"\n"},
		{name: "ARG default with equals", input: "ARG A=b=c\n", want: "1:0-1:9 ARG Name=\"A\" Default=\"b=c\"\n"},
		{name: "BUILD with file only", input: "BUILD x.nix\n", want: "1:0-1:11 BUILD File=\"x.nix\" Attrs=[]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse([]byte(tt.input))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.input, err)
			}
			if got := dump(f); got != tt.want {
				t.Errorf("Parse(%q):\n got: %q\nwant: %q", tt.input, got, tt.want)
			}
		})
	}
}

// Original is the logical line as a Dockerfile joins it: the first line
// without its leading blanks, each continued line's text before the
// backslash kept as is (trailing blanks included) and the next line appended
// as is, comment and blank lines inside it left out, the end trimmed.
func TestParseOriginal(t *testing.T) {
	input := "  PACKAGES \\\n  hello \\\n# comment\n\n    jq   \n"
	f, err := Parse([]byte(input))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Instructions) != 1 {
		t.Fatalf("got %d instructions, want 1", len(f.Instructions))
	}
	in := f.Instructions[0]
	if got, want := in.base().Original, "PACKAGES   hello     jq"; got != want {
		t.Errorf("Original = %q, want %q", got, want)
	}
	if got, want := Location(in), (Range{Start: Position{Line: 1}, End: Position{Line: 5, Character: 9}}); got != want {
		t.Errorf("Location = %+v, want %+v", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		wantLine int    // LocationError.Range.Start.Line
		wantMsg  string // a substring of the message
	}{
		{name: "unknown instruction near PACKAGES", input: "PACKGES hello\n", wantLine: 1, wantMsg: `unknown instruction "PACKGES" (did you mean PACKAGES?)`},
		{name: "unknown instruction lower case", input: "ARG A\n\npackges hello\n", wantLine: 3, wantMsg: "did you mean PACKAGES?"},
		{name: "alias FROM", input: "FROM nixos/nix\n", wantLine: 1, wantMsg: "did you mean NIXPKGS?"},
		{name: "alias RUN", input: "RUN make\n", wantLine: 1, wantMsg: "did you mean BUILD?"},
		{name: "SHELL, a Dockerfile instruction with no use here", input: "PACKAGES a\nSHELL [\"/bin/bash\", \"-c\"]\n", wantLine: 2, wantMsg: `unknown instruction "SHELL": a Nixfile has no SHELL: nothing runs in the image while it is built`},
		{name: "MAINTAINER", input: "maintainer me\n", wantLine: 1, wantMsg: "LABEL org.opencontainers.image.authors=NAME"},
		{name: "ONBUILD", input: "ONBUILD COPY a b\n", wantLine: 1, wantMsg: "a Nixfile has no ONBUILD"},
		{name: "COPY heredoc", input: "PACKAGES a\nCOPY --chmod=644 <<EOF /etc/motd\nhello\nEOF\n", wantLine: 2, wantMsg: "COPY: <<EOF: a Nixfile has no heredocs"},
		{name: "COPY heredoc with a dash", input: "COPY <<-\"END\" /etc/motd\n\thello\nEND\n", wantLine: 1, wantMsg: "a Nixfile has no heredocs"},
		{name: "unknown instruction without suggestion", input: "XYZZYXYZZY a\n", wantLine: 1, wantMsg: `unknown instruction "XYZZYXYZZY"`},
		{name: "missing arguments PACKAGES", input: "PACKAGES\n", wantLine: 1, wantMsg: "PACKAGES: PACKAGES attr..."},
		{name: "missing arguments with trailing space", input: "# c\nCOPY   \n", wantLine: 2, wantMsg: "COPY: COPY [--from=NAME] [--chmod=MODE]"},
		{name: "missing arguments ENTRYPOINT", input: "ENTRYPOINT\n", wantLine: 1, wantMsg: "ENTRYPOINT: ENTRYPOINT ["},
		{name: "a blank line does not end a continuation", input: "PACKAGES a\nENV \\\n\n", wantLine: 2, wantMsg: "the file ends inside a line continuation"},
		{name: "blank, comment and backslash lines then the end", input: "PACKAGES a\nENV \\\n  \\\n # c\n\\\n\n\n", wantLine: 2, wantMsg: "the file ends inside a line continuation"},
		{name: "CMD unterminated double quote", input: "CMD \"abc\n", wantLine: 1, wantMsg: `CMD: unterminated " quote`},
		{name: "PACKAGES unterminated single quote", input: "PACKAGES 'hello\n", wantLine: 1, wantMsg: `PACKAGES: unterminated ' quote`},
		{name: "unterminated quote escaped closing quote", input: "ARG A\n\nENV B=\"x\\\"\n", wantLine: 3, wantMsg: `ENV: unterminated " quote`},
		{name: "unterminated quote in ENV old form", input: "ENV A \"b c\n", wantLine: 1, wantMsg: "unterminated"},
		{name: "unterminated quote in WORKDIR", input: "WORKDIR \"/a b\n", wantLine: 1, wantMsg: "WORKDIR: unterminated"},
		{name: "unterminated quote in NIXPKGS", input: "NIXPKGS 'github:a/b\n", wantLine: 1, wantMsg: "NIXPKGS: unterminated"},
		{name: "unterminated quote in COPY flag", input: "COPY --chown=\"a b c\n", wantLine: 1, wantMsg: "COPY: unterminated"},
		{name: "unterminated quote across continuation", input: "USER x\nPACKAGES a \\\n  'b c\n", wantLine: 2, wantMsg: "PACKAGES: unterminated ' quote"},
		{name: "unterminated quote it's", input: "LABEL a=it's\n", wantLine: 1, wantMsg: "unterminated"},
		{name: "ENTRYPOINT bad JSON", input: "ENTRYPOINT [\"/bin/app\",]\n", wantLine: 1, wantMsg: "invalid JSON"},
		{name: "ENTRYPOINT unterminated JSON", input: "ENTRYPOINT [\"/bin/app\"\n", wantLine: 1, wantMsg: "invalid JSON"},
		{name: "CMD bad JSON", input: "PACKAGES x\nCMD [\"a\" \"b\"]\n", wantLine: 2, wantMsg: "invalid JSON"},
		{name: "CMD JSON numbers", input: "CMD [1, 2]\n", wantLine: 1, wantMsg: "every element must be a string"},
		{name: "CMD JSON single quotes", input: "CMD ['a']\n", wantLine: 1, wantMsg: "CMD: invalid JSON"},
		{name: "VOLUME bad JSON", input: "VOLUME [/data]\n", wantLine: 1, wantMsg: "VOLUME: invalid JSON"},
		{name: "COPY unknown flag", input: "COPY --form=build /a /b\n", wantLine: 1, wantMsg: "unknown flag --form=build (allowed: --from, --chmod, --chown, --exclude, --link)"},
		{name: "COPY flags are case sensitive", input: "COPY --CHMOD=0644 /a /b\n", wantLine: 1, wantMsg: "unknown flag --CHMOD=0644"},
		{name: "COPY flag without value", input: "COPY --chmod /a /b\n", wantLine: 1, wantMsg: "flag --chmod needs a value"},
		{name: "COPY flag with empty value", input: "COPY --chown= /a /b\n", wantLine: 1, wantMsg: "flag --chown needs a value"},
		{name: "COPY flag twice", input: "COPY --chmod=1 --chmod=2 /a /b\n", wantLine: 1, wantMsg: "flag --chmod given twice"},
		{name: "COPY --link with a value that is not a bool", input: "COPY --link=yes /a /b\n", wantLine: 1, wantMsg: `flag --link is true or false, got "yes"`},
		{name: "COPY --exclude without a value", input: "COPY --exclude /a /b\n", wantLine: 1, wantMsg: "flag --exclude needs a value"},
		{name: "COPY one word", input: "COPY /a\n", wantLine: 1, wantMsg: "COPY: COPY [--from=NAME] [--chmod=MODE]"},
		{name: "COPY JSON with one path", input: "COPY [\"/a\"]\n", wantLine: 1, wantMsg: "COPY: COPY [--from=NAME] [--chmod=MODE]"},
		{name: "COPY bad JSON", input: "PACKAGES a\nCOPY [\"a\", b]\n", wantLine: 2, wantMsg: "COPY: invalid JSON array"},
		{name: "COPY JSON with an unknown flag", input: "COPY --parents [\"a\", \"b\"]\n", wantLine: 1, wantMsg: "unknown flag --parents"},
		{name: "COPY only flags and one word", input: "COPY --chmod=0755 /a\n", wantLine: 1, wantMsg: "COPY: COPY [--from=NAME] [--chmod=MODE]"},
		{name: "HEALTHCHECK without CMD", input: "HEALTHCHECK --interval=5s\n", wantLine: 1, wantMsg: "HEALTHCHECK: give CMD and a command, or NONE"},
		{name: "HEALTHCHECK another word than CMD", input: "HEALTHCHECK curl -f http://localhost/\n", wantLine: 1, wantMsg: "give CMD and a command, or NONE"},
		{name: "HEALTHCHECK CMD without a command", input: "PACKAGES a\nHEALTHCHECK --retries=2 CMD\n", wantLine: 2, wantMsg: "HEALTHCHECK: CMD needs a command"},
		{name: "HEALTHCHECK CMD with an empty array", input: "HEALTHCHECK CMD []\n", wantLine: 1, wantMsg: "CMD needs a command"},
		{name: "HEALTHCHECK NONE with a flag", input: "HEALTHCHECK --interval=5s NONE\n", wantLine: 1, wantMsg: "NONE takes no flags"},
		{name: "HEALTHCHECK NONE with a word after it", input: "HEALTHCHECK NONE x\n", wantLine: 1, wantMsg: "give CMD and a command, or NONE"},
		{name: "HEALTHCHECK unknown flag", input: "HEALTHCHECK --start_period=1s CMD true\n", wantLine: 1, wantMsg: "unknown flag --start_period=1s (allowed: --interval, --timeout, --start-period, --start-interval, --retries)"},
		{name: "HEALTHCHECK bad JSON", input: "HEALTHCHECK CMD [\"a\",]\n", wantLine: 1, wantMsg: "HEALTHCHECK: invalid JSON"},
		{name: "HEALTHCHECK unterminated quote", input: "HEALTHCHECK CMD wget 'http://x\n", wantLine: 1, wantMsg: "HEALTHCHECK: unterminated ' quote"},
		{name: "flag on an instruction without flags", input: "PACKAGES --impure hello\n", wantLine: 1, wantMsg: "PACKAGES: takes no flags, got --impure"},
		{name: "ARG name starts with a digit", input: "ARG 1ABC=x\n", wantLine: 1, wantMsg: `ARG: invalid name "1ABC"`},
		{name: "ARG name with a dash", input: "ARG my-arg\n", wantLine: 1, wantMsg: `invalid name "my-arg"`},
		{name: "ARG empty name", input: "ARG =x\n", wantLine: 1, wantMsg: `invalid name ""`},
		{name: "ARG two names, the second invalid", input: "ARG A=1 \\\n  2B=3\n", wantLine: 1, wantMsg: `ARG: invalid name "2B"`},
		{name: "ARG two names and a flag", input: "ARG A --b=1\n", wantLine: 1, wantMsg: "ARG: takes no flags, got --b=1"},
		{name: "trailing backslash on the last line", input: "PACKAGES a \\\n", wantLine: 1, wantMsg: "ends with a line continuation"},
		{name: "trailing backslash after continued lines", input: "ARG A\nPACKAGES a \\\n  b \\\n  c \\", wantLine: 2, wantMsg: "ends with a line continuation"},
		{name: "trailing backslash alone", input: "PACKAGES a\n\\\n", wantLine: 2, wantMsg: "ends with a line continuation"},
		{name: "continuation then only comments", input: "PACKAGES a \\\n# comment\n", wantLine: 1, wantMsg: "line continuation"},
		{name: "NIXPKGS with 3 words", input: "NIXPKGS https://example.com/n.tar.gz sha256:abc extra\n", wantLine: 1, wantMsg: "NIXPKGS: takes a source"},
		{name: "USER with 2 words", input: "USER a b\n", wantLine: 1, wantMsg: "USER: takes exactly one argument"},
		{name: "STOPSIGNAL with 2 words", input: "STOPSIGNAL SIGTERM now\n", wantLine: 1, wantMsg: "STOPSIGNAL: takes exactly one argument"},
		{name: "ENV legacy form without value", input: "ENV FOO\n", wantLine: 1, wantMsg: "FOO has no value"},
		{name: "ENV pair without key", input: "ENV A=1 =2\n", wantLine: 1, wantMsg: `"=2" is not KEY=VALUE`},
		{name: "LABEL without equals", input: "LABEL a b\n", wantLine: 1, wantMsg: `"a" is not KEY=VALUE`},
		{name: "error line is the first line of a continued instruction", input: "\n\nCMD [\"a\", \\\n  oops]\n", wantLine: 3, wantMsg: "invalid JSON"},
		{name: "first error wins", input: "PACKAGES a\nBOGUS\nALSOBOGUS\n", wantLine: 2, wantMsg: `"BOGUS"`},
		{name: "CRLF line numbers", input: "PACKAGES a\r\n\r\nPACKGES b\r\n", wantLine: 3, wantMsg: "did you mean PACKAGES?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse([]byte(tt.input))
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want an error; got:\n%s", tt.input, dump(f))
			}
			if f != nil {
				t.Errorf("Parse(%q) returned a File with its error", tt.input)
			}
			var le *LocationError
			if !errors.As(err, &le) {
				t.Fatalf("Parse(%q) error %v (%T) is not a *LocationError", tt.input, err, err)
			}
			if le.Range.Start.Line != tt.wantLine {
				t.Errorf("Parse(%q) error on line %d, want %d: %v", tt.input, le.Range.Start.Line, tt.wantLine, err)
			}
			if le.Range.End.Line < le.Range.Start.Line {
				t.Errorf("Parse(%q) error range %+v ends before it starts", tt.input, le.Range)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Parse(%q) error %q does not contain %q", tt.input, err.Error(), tt.wantMsg)
			}
			if prefix := fmt.Sprintf("line %d: ", tt.wantLine); !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("Parse(%q) error %q does not start with %q", tt.input, err.Error(), prefix)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		word string
		want string
	}{
		{word: "PACKGES", want: "PACKAGES"},
		{word: "packge", want: "PACKAGES"},
		{word: "PKGS", want: "PACKAGES"},
		{word: "add", want: "COPY"},
		{word: "ENTRYPIONT", want: "ENTRYPOINT"},
		{word: "CMDD", want: "CMD"},
		{word: "HEALTHCHEK", want: "HEALTHCHECK"},
		{word: "MAINTAINER", want: ""},
		{word: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.word, func(t *testing.T) {
			if got := suggest(tt.word); got != tt.want {
				t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
			}
		})
	}
}

func TestWithLocation(t *testing.T) {
	in := &Packages{Base: Base{Keyword: "PACKAGES", Range: Range{Start: Position{Line: 7}, End: Position{Line: 8, Character: 3}}}}
	if WithLocation(nil, in) != nil {
		t.Error("WithLocation(nil) is not nil")
	}
	base := errors.New("boom")
	err := WithLocation(base, in)
	var le *LocationError
	if !errors.As(err, &le) || le.Range != Location(in) {
		t.Fatalf("WithLocation gave %#v, want a *LocationError at %+v", err, Location(in))
	}
	if !errors.Is(err, base) {
		t.Error("WithLocation does not wrap the error")
	}
	if got, want := err.Error(), "line 7: boom"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	other := &Packages{Base: Base{Range: Range{Start: Position{Line: 1}}}}
	if again := WithLocation(fmt.Errorf("wrapped: %w", err), other); !errors.As(again, &le) || le.Range.Start.Line != 7 {
		t.Errorf("WithLocation replaced an existing location: %v", again)
	}
}

// testLines splits data into lines as Parse counts them, without sharing its
// code: a UTF-8 byte order mark dropped, CRLF read as LF and a final newline
// not starting a line.
func testLines(data []byte) []string {
	s := strings.TrimPrefix(string(data), "\xef\xbb\xbf")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func FuzzParse(f *testing.F) {
	for _, file := range parseInputs(f) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"", "\n", "\\", "\\\n", "PACKAGES a \\\r\n b\r\n", "\xef\xbb\xbfPACKAGES a", "# syntax=x\n",
		"PACKAGES a \\\n# c\n", "CMD [\"a\"", "COPY --chmod=1 --chown=2 a b", "ENV A B C", "\r\r\n\n",
	} {
		f.Add([]byte(s))
	}
	known := map[string]bool{}
	for _, k := range Keywords() {
		known[k] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := testLines(data)
		n := len(lines)
		file, err := Parse(data)
		if err != nil {
			if file != nil {
				t.Errorf("Parse returned a File with its error %v", err)
			}
			var le *LocationError
			if !errors.As(err, &le) {
				t.Fatalf("error %v (%T) is not a *LocationError", err, err)
			}
			if le.Range.Start.Line < 1 || le.Range.Start.Line > n {
				t.Fatalf("error on line %d, outside 1..%d: %v", le.Range.Start.Line, n, err)
			}
			if le.Range.End.Line < le.Range.Start.Line || le.Range.End.Line > n {
				t.Fatalf("error range %+v outside %d..%d: %v", le.Range, le.Range.Start.Line, n, err)
			}
			return
		}
		if file.SyntaxRange != nil {
			if l := file.SyntaxRange.Start.Line; l < 1 || l > n || file.SyntaxRange.End.Line != l {
				t.Fatalf("syntax directive range %+v outside 1..%d", *file.SyntaxRange, n)
			}
		}
		prevEnd, prev := 0, Instruction(nil)
		for i, in := range file.Instructions {
			r := Location(in)
			if r.Start.Line < 1 || r.Start.Line > r.End.Line || r.End.Line > n {
				t.Fatalf("instruction %d (%s) has range %+v, outside 1..%d", i, KeywordOf(in), r, n)
			}
			// The names of one ARG line are instructions of that line.
			sameArgLine := prev != nil && KeywordOf(in) == "ARG" && KeywordOf(prev) == "ARG" && Location(prev) == r
			prev = in
			if r.Start.Line <= prevEnd && !sameArgLine {
				t.Fatalf("instruction %d (%s) starts on line %d, not after the previous one's end, line %d", i, KeywordOf(in), r.Start.Line, prevEnd)
			}
			prevEnd = r.End.Line
			if first := strings.TrimSpace(lines[r.Start.Line-1]); first == "" || strings.HasPrefix(first, "#") {
				t.Fatalf("instruction %d (%s) starts on line %d, a blank or comment line %q", i, KeywordOf(in), r.Start.Line, first)
			}
			if r.End.Character != len(lines[r.End.Line-1]) {
				t.Fatalf("instruction %d (%s) ends at character %d of line %d, which has %d bytes", i, KeywordOf(in), r.End.Character, r.End.Line, len(lines[r.End.Line-1]))
			}
			if !known[KeywordOf(in)] {
				t.Fatalf("instruction %d has unknown keyword %q", i, KeywordOf(in))
			}
		}
		// No line with content is lost: every line that is not blank, a
		// comment or a lone continuation is in some instruction.
		covered := make([]bool, n+1)
		for _, in := range file.Instructions {
			for l := Location(in).Start.Line; l <= Location(in).End.Line; l++ {
				covered[l] = true
			}
		}
		for i, line := range lines {
			s := strings.TrimSpace(line)
			if s != "" && !strings.HasPrefix(s, "#") && s != `\` && !covered[i+1] {
				t.Fatalf("line %d %q is in no instruction:\n%s", i+1, line, dump(file))
			}
		}
		// Parsing is a function of the input.
		again, err := Parse(data)
		if err != nil {
			t.Fatalf("second Parse failed: %v", err)
		}
		if a, b := dump(file), dump(again); a != b {
			t.Fatalf("Parse is not deterministic:\n%s\n%s", a, b)
		}
	})
}

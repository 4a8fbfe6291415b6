package nixfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Parse reads a Nixfile into a File. The first error found is returned as a
// *LocationError naming the line.
//
// Lines are joined as in a Dockerfile: a line whose last non-blank character
// is an unescaped backslash continues on the next line; the text before the
// backslash is kept as is (trailing blanks included) and the next line is
// appended as is, so no space is inserted. Comment lines and blank lines
// inside a continuation are skipped.
func Parse(data []byte) (*File, error) {
	lines := splitLines(data)
	if err := checkLimits(data, lines); err != nil {
		return nil, err
	}
	f := &File{}
	var (
		text       strings.Builder // the logical line being read
		start      int             // its first line with text, 1-based; 0 before it
		first      int             // the first line of the continuation being read, 0 if none
		directives = true          // still in the leading parser directives
	)
	for i, raw := range lines {
		n := i + 1
		line := strings.TrimRightFunc(raw, unicode.IsSpace)
		trimmed := strings.TrimLeftFunc(line, unicode.IsSpace)
		if directives {
			// Parser directives are the first lines of the file, each a known
			// "# key=value"; any other line, a blank one included, ends them
			// and is read as usual.
			if k, v, ok := directive(trimmed); ok {
				rng := &Range{Start: Position{Line: n}, End: Position{Line: n, Character: len(raw)}}
				switch {
				case k == "syntax" && f.Syntax == "":
					f.Syntax, f.SyntaxRange = v, rng
				case k == "check" && f.CheckRange == nil:
					f.Check, f.CheckRange = v, rng
				}
				continue // escape is accepted and ignored: the escape character is always \
			}
			directives = false
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue // blank and comment lines, also inside a continued line, as in a Dockerfile
		}
		piece := line
		if start == 0 {
			piece = trimmed
		}
		body, continued := cutContinuation(piece)
		if first == 0 {
			first = n
		}
		if start == 0 && strings.TrimSpace(body) != "" {
			start = n
		}
		if start != 0 {
			text.WriteString(body)
		}
		if continued {
			if n == len(lines) {
				return nil, errorAt(Range{Start: Position{Line: first}, End: Position{Line: n, Character: len(raw)}},
					"the last line ends with a line continuation (\\)")
			}
			continue
		}
		rng := Range{Start: Position{Line: start}, End: Position{Line: n, Character: len(raw)}}
		if len(f.Instructions) == MaxInstructions {
			return nil, errorAt(rng, "the Nixfile has more than %d instructions", MaxInstructions)
		}
		if n-first >= MaxInstructionLines {
			return nil, errorAt(rng, "the instruction spans %d lines, more than %d", n-first+1, MaxInstructionLines)
		}
		if text.Len() > MaxLineLength {
			return nil, errorAt(rng, "the instruction is %d bytes long, more than %d KiB", text.Len(), MaxLineLength>>10)
		}
		ins, err := parseLine(strings.TrimSpace(text.String()), rng)
		if err != nil {
			return nil, err
		}
		f.Instructions = append(f.Instructions, ins...)
		text.Reset()
		start, first = 0, 0
	}
	if first != 0 { // a continued line followed only by comments and blank lines
		n := len(lines)
		return nil, errorAt(Range{Start: Position{Line: first}, End: Position{Line: n, Character: len(lines[n-1])}},
			"the file ends inside a line continuation (\\)")
	}
	return f, nil
}

// Limits on a Nixfile, generous for any real one, so that a hostile one
// costs the frontend little. Each is an error at the line that passes it.
const (
	// MaxFileSize is the most bytes a Nixfile has.
	MaxFileSize = 1 << 20
	// MaxLineLength is the most bytes of a line, and of an instruction
	// with its continuation lines joined.
	MaxLineLength = 64 << 10
	// MaxInstructionLines is the most lines one instruction spans, with
	// its continuations and the blank and comment lines among them.
	MaxInstructionLines = 1000
	// MaxInstructions is the most instructions a Nixfile has.
	MaxInstructions = 10000
	// MaxWords is the most words of an instruction, as written and after
	// expansion.
	MaxWords = 10000
)

// checkLimits checks the file's size, its lines' lengths and that it has
// no NUL byte (no text has one, and a name with one is cut short).
func checkLimits(data []byte, lines []string) error {
	lineOf := func(offset int) int { return bytes.Count(data[:offset], []byte("\n")) + 1 }
	at := func(n int) Range {
		n = max(1, min(n, len(lines)))
		return Range{Start: Position{Line: n}, End: Position{Line: n, Character: len(lines[n-1])}}
	}
	if len(data) > MaxFileSize {
		return errorAt(at(lineOf(MaxFileSize)), "the Nixfile is larger than %d MiB", MaxFileSize>>20)
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return errorAt(at(lineOf(i)), "the line has a NUL byte")
	}
	for i, l := range lines {
		if len(l) > MaxLineLength {
			return errorAt(at(i+1), "the line is %d bytes long, more than %d KiB", len(l), MaxLineLength>>10)
		}
	}
	return nil
}

// cutContinuation removes the continuation backslash that ends line, if there
// is one: an odd number of backslashes ends in one, an even number is escaped
// backslashes.
func cutContinuation(line string) (string, bool) {
	n := len(line) - len(strings.TrimRight(line, `\`))
	if n%2 == 0 {
		return line, false
	}
	return line[:len(line)-1], true
}

func splitLines(data []byte) []string {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

var directiveRe = regexp.MustCompile(`^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`)

// directive recognises a parser directive: "# syntax=REF", "# escape=C" or
// "# check=OPTIONS". Any other "# key=value" is an ordinary comment.
func directive(line string) (key, value string, ok bool) {
	m := directiveRe.FindStringSubmatch(line)
	if m == nil {
		return "", "", false
	}
	switch k := strings.ToLower(m[1]); k {
	case "syntax", "escape", "check":
		return k, m[2], true
	}
	return "", "", false
}

var argNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// parseLine parses a logical line: one instruction, or for an ARG that
// names several arguments (ARG A=1 B=2), one Arg each, in order, as a
// Dockerfile's ARG declares them; each has the whole line as its Original.
func parseLine(text string, rng Range) ([]Instruction, error) {
	word, rest := cutKeyword(text)
	if strings.EqualFold(word, "ARG") {
		if words, err := splitWords(rest); err == nil && len(words) > 1 && len(words) <= MaxWords {
			ins := make([]Instruction, 0, len(words))
			for _, w := range words {
				in, err := parseInstruction(word+" "+w, rng)
				if err != nil {
					return nil, err
				}
				in.base().Original = text
				ins = append(ins, in)
			}
			return ins, nil
		}
	}
	in, err := parseInstruction(text, rng)
	if err != nil {
		return nil, err
	}
	return []Instruction{in}, nil
}

// cutKeyword splits a logical line into its first word and the rest,
// blanks trimmed.
func cutKeyword(text string) (word, rest string) {
	if i := strings.IndexFunc(text, unicode.IsSpace); i >= 0 {
		return text[:i], strings.TrimSpace(text[i:])
	}
	return text, ""
}

func parseInstruction(text string, rng Range) (Instruction, error) {
	word, rest := cutKeyword(text)
	kw := strings.ToUpper(word)
	base := Base{Keyword: kw, Original: text, Range: rng}
	errf := func(format string, a ...any) error { return errorAt(rng, "%s: "+format, append([]any{kw}, a...)...) }

	spec, known := keywords[kw]
	if !known {
		msg := fmt.Sprintf("unknown instruction %q", word)
		if why, ok := dockerfileOnly[kw]; ok {
			return nil, errorAt(rng, "%s: a Nixfile has no %s: %s", msg, kw, why)
		}
		if s := suggest(kw); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		return nil, errorAt(rng, "%s", msg)
	}
	if rest == "" {
		return nil, errf("%s", spec.usage)
	}

	switch kw {
	case "ENTRYPOINT", "CMD", "VOLUME":
		// An argument starting with [ is a JSON array of strings: each is one
		// argument or path, never split.
		if strings.HasPrefix(rest, "[") {
			args, err := parseJSONArray(rest)
			if err != nil {
				return nil, errf("%v", err)
			}
			switch kw {
			case "ENTRYPOINT":
				return &Entrypoint{Base: base, Args: args, JSON: true}, nil
			case "CMD":
				return &Cmd{Base: base, Args: args, JSON: true}, nil
			default:
				return &Volume{Base: base, Paths: args, JSON: true}, nil
			}
		}
	}

	if kw == "COPY" {
		// As in a Dockerfile, the paths may be a JSON array after the
		// flags: each string is one path, spaces and quotes included.
		if flagText, array, ok := cutJSONPaths(rest); ok {
			flags, extra, err := parseFlagText(flagText, spec)
			if err != nil {
				return nil, errf("%v", err)
			}
			paths, err := parseJSONArray(array)
			if err != nil {
				return nil, errf("%v", err)
			}
			if len(extra) > 0 || len(paths) < 2 {
				return nil, errf("%s", spec.usage)
			}
			return &Copy{Base: base, From: flag(flags, "from"), Chmod: flag(flags, "chmod"), Chown: flag(flags, "chown"), Link: flag(flags, "link") == "true",
				Excludes: flags["exclude"], Sources: paths[:len(paths)-1], Dest: paths[len(paths)-1], JSON: true}, nil
		}
	}

	if kw == "HEALTHCHECK" {
		return parseHealthcheck(base, rest, spec, errf)
	}

	if kw == "NIXCONFIG" {
		// One nix.conf line: the value is the rest of the line, as nix
		// reads it (a list setting's items are blank-separated).
		name, value, ok := strings.Cut(rest, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || strings.ContainsFunc(name, unicode.IsSpace) {
			return nil, errf("give one setting as name = value: %s", spec.usage)
		}
		return &NixConfig{Base: base, Name: name, Value: value}, nil
	}

	words, err := splitWords(rest)
	if err != nil {
		return nil, errf("%v", err)
	}
	if len(words) > MaxWords {
		return nil, errf("%d words, more than %d", len(words), MaxWords)
	}
	switch kw {
	case "ENTRYPOINT":
		// Plain words are split like a shell would split them but run
		// without a shell: a Nix closure need not contain one.
		return &Entrypoint{Base: base, Args: words}, nil
	case "CMD":
		return &Cmd{Base: base, Args: words}, nil
	case "NIXPKGS":
		if len(words) > 2 {
			return nil, errf("takes a source and, for a tarball URL, an optional sha256:HASH: %s", spec.usage)
		}
		return &Nixpkgs{Base: base, Source: rest}, nil
	case "STOPSIGNAL", "WORKDIR", "USER", "LAYERS":
		// One value; spaces are kept for WORKDIR (a path may have them).
		if kw != "WORKDIR" && len(words) != 1 {
			return nil, errf("takes exactly one argument: %s", spec.usage)
		}
		switch kw {
		case "STOPSIGNAL":
			return &StopSignal{Base: base, Signal: rest}, nil
		case "LAYERS":
			return &Layers{Base: base, Max: rest}, nil
		case "WORKDIR":
			return &Workdir{Base: base, Path: rest}, nil
		default:
			return &User{Base: base, User: rest}, nil
		}
	}

	flags, words, err := parseFlags(words, spec)
	if err != nil {
		return nil, errf("%v", err)
	}
	switch kw {
	case "ARG":
		if len(words) != 1 { // parseLine gives each name of a line its own ARG
			return nil, errf("%s", spec.usage)
		}
		name, def, hasDef := strings.Cut(words[0], "=")
		if !argNameRe.MatchString(name) {
			return nil, errf("invalid name %q: use letters, digits and _", name)
		}
		a := &Arg{Base: base, Name: name}
		if hasDef {
			a.Default = &def
		}
		return a, nil
	case "PACKAGES":
		return &Packages{Base: base, Attrs: words}, nil
	case "FLAKE":
		return &Flake{Base: base, Refs: words}, nil
	case "BUILD":
		return &Build{Base: base, File: words[0], Attrs: words[1:]}, nil
	case "COPY":
		if len(words) < 2 {
			return nil, errf("%s", spec.usage)
		}
		for _, w := range words[:len(words)-1] {
			// A Dockerfile's heredoc: its lines would be read as
			// instructions, and fail there with a puzzling error.
			if strings.HasPrefix(w, "<<") {
				return nil, errf("%s: a Nixfile has no heredocs: put the file in the build context and COPY it from there", w)
			}
		}
		return &Copy{Base: base, From: flag(flags, "from"), Chmod: flag(flags, "chmod"), Chown: flag(flags, "chown"), Link: flag(flags, "link") == "true",
			Excludes: flags["exclude"], Sources: words[:len(words)-1], Dest: words[len(words)-1]}, nil
	case "ENV":
		if !strings.Contains(words[0], "=") {
			// The old form, ENV KEY VALUE: the value is the rest of the
			// line after the key, its spacing kept, as in a Dockerfile.
			// (words[0] is the start of rest as is: splitting only drops
			// the blanks between words.)
			value := strings.TrimLeftFunc(rest[len(words[0]):], unicode.IsSpace)
			if value == "" {
				return nil, errf("%s has no value: write %s=VALUE", words[0], words[0])
			}
			return &Env{Base: base, Vars: []KeyValue{{Key: words[0], Value: value}}}, nil
		}
		pairs, err := parseKeyValues(words)
		if err != nil {
			return nil, errf("%v", err)
		}
		return &Env{Base: base, Vars: pairs}, nil
	case "LABEL":
		pairs, err := parseKeyValues(words)
		if err != nil {
			return nil, errf("%v", err)
		}
		return &Label{Base: base, Labels: pairs}, nil
	case "EXPOSE":
		return &Expose{Base: base, Ports: words}, nil
	case "ROOTFS":
		return &Rootfs{Base: base, Settings: words}, nil
	case "VOLUME":
		return &Volume{Base: base, Paths: words}, nil
	}
	return nil, errf("not implemented") // unreachable: every keyword is handled above
}

// parseHealthcheck reads HEALTHCHECK's flags, then CMD and its command (a
// JSON array, or plain words run without a shell, as CMD's), or NONE.
func parseHealthcheck(base Base, rest string, spec keywordSpec, errf func(string, ...any) error) (Instruction, error) {
	flagText, s := cutLeadingFlags(rest)
	flags, _, err := parseFlagText(flagText, spec)
	if err != nil {
		return nil, errf("%v", err)
	}
	typ, cmd := s, ""
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		typ, cmd = s[:i], strings.TrimSpace(s[i:])
	}
	switch {
	case strings.EqualFold(typ, "NONE") && cmd == "":
		if len(flags) > 0 {
			return nil, errf("NONE takes no flags: it turns the image's health check off")
		}
		return &Healthcheck{Base: base, None: true}, nil
	case !strings.EqualFold(typ, "CMD"):
		return nil, errf("give CMD and a command, or NONE: %s", spec.usage)
	case cmd == "":
		return nil, errf("CMD needs a command: %s", spec.usage)
	}
	h := &Healthcheck{Base: base}
	for _, name := range spec.flags {
		if v := flag(flags, name); v != "" {
			h.Flags = append(h.Flags, KeyValue{Key: name, Value: v})
		}
	}
	if strings.HasPrefix(cmd, "[") {
		if h.Args, err = parseJSONArray(cmd); err != nil {
			return nil, errf("%v", err)
		}
		if len(h.Args) == 0 {
			return nil, errf("CMD needs a command: %s", spec.usage)
		}
		h.JSON = true
		return h, nil
	}
	if h.Args, err = splitWords(cmd); err != nil {
		return nil, errf("%v", err)
	}
	if len(h.Args) > MaxWords {
		return nil, errf("%d words, more than %d", len(h.Args), MaxWords)
	}
	return h, nil
}

// cutJSONPaths splits COPY's arguments into its leading --flags and a JSON
// array, if what follows the flags is one.
func cutJSONPaths(rest string) (flags, array string, ok bool) {
	flags, array = cutLeadingFlags(rest)
	if !strings.HasPrefix(array, "[") {
		return "", "", false
	}
	return flags, array, true
}

// cutLeadingFlags splits rest into its leading --flag words, as written,
// and what follows them.
func cutLeadingFlags(rest string) (flags, after string) {
	s := rest
	for strings.HasPrefix(s, "--") {
		i := strings.IndexFunc(s, unicode.IsSpace)
		if i < 0 {
			return rest, ""
		}
		s = strings.TrimLeftFunc(s[i:], unicode.IsSpace)
	}
	return strings.TrimSpace(rest[:len(rest)-len(s)]), s
}

// parseJSONArray reads the JSON form of ENTRYPOINT, CMD, VOLUME and COPY.
func parseJSONArray(rest string) ([]string, error) {
	var args []string
	if err := json.Unmarshal([]byte(rest), &args); err != nil {
		return nil, fmt.Errorf("invalid JSON array %s: %v", rest, jsonErr(err))
	}
	if len(args) > MaxWords {
		return nil, fmt.Errorf("%d strings, more than %d", len(args), MaxWords)
	}
	for _, a := range args {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, fmt.Errorf("%q has a NUL byte", a)
		}
	}
	return args, nil
}

func jsonErr(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return se.Error()
	case errors.As(err, &te):
		return "every element must be a string"
	}
	return err.Error()
}

// parseFlagText splits the text of a line's leading flags (cut from the
// rest by cutLeadingFlags or cutJSONPaths) into words and parses them as
// parseFlags does.
func parseFlagText(text string, spec keywordSpec) (map[string][]string, []string, error) {
	words, err := splitWords(text)
	if err != nil {
		return nil, nil, err
	}
	return parseFlags(words, spec)
}

// parseFlags takes the leading --name=value words: each flag once, but
// for the keyword's repeatable ones, which may come again; a bool flag may
// be given without a value, meaning true.
func parseFlags(words []string, spec keywordSpec) (map[string][]string, []string, error) {
	flags := map[string][]string{}
	for len(words) > 0 && strings.HasPrefix(words[0], "--") {
		name, value, ok := strings.Cut(strings.TrimPrefix(words[0], "--"), "=")
		if !slices.Contains(spec.flags, name) {
			if len(spec.flags) == 0 {
				return nil, nil, fmt.Errorf("takes no flags, got %s", words[0])
			}
			return nil, nil, fmt.Errorf("unknown flag %s (allowed: --%s)", words[0], strings.Join(spec.flags, ", --"))
		}
		switch {
		case slices.Contains(spec.bools, name):
			if !ok {
				value = "true"
			} else if value != "true" && value != "false" {
				return nil, nil, fmt.Errorf("flag --%s is true or false, got %q", name, value)
			}
		case !ok || value == "":
			return nil, nil, fmt.Errorf("flag --%s needs a value (--%s=VALUE)", name, name)
		}
		if _, dup := flags[name]; dup && !slices.Contains(spec.repeatable, name) {
			return nil, nil, fmt.Errorf("flag --%s given twice", name)
		}
		flags[name] = append(flags[name], value)
		words = words[1:]
	}
	return flags, words, nil
}

// flag is a flag's value, or "" when it was not given.
func flag(flags map[string][]string, name string) string {
	if v := flags[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// parseKeyValues reads KEY=VALUE pairs.
func parseKeyValues(words []string) ([]KeyValue, error) {
	var out []KeyValue
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", w)
		}
		out = append(out, KeyValue{Key: k, Value: v})
	}
	return out, nil
}

// splitWords splits on unquoted whitespace, keeping quotes and backslashes in
// the words: the converter expands and unquotes each word like a shell does.
// Whitespace inside ${...} does not split, as a shell reads ${X:-a b} as
// one expansion. A quote left open is an error, as it is to the shell lexer.
func splitWords(s string) ([]string, error) {
	var (
		words  []string
		quote  rune
		braces []rune // the quote each open ${ was in, innermost last
		begin  = -1   // where the current word starts, -1 between words
	)
	// Words are byte ranges of s, so they keep its bytes exactly, invalid
	// UTF-8 included.
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case quote == 0 && len(braces) == 0 && unicode.IsSpace(r):
			if begin >= 0 {
				words = append(words, s[begin:i])
				begin = -1
			}
			i += size
			continue
		case r == '\\' && quote != '\'' && i+size < len(s):
			_, next := utf8.DecodeRuneInString(s[i+size:])
			size += next
		case r == '$' && quote != '\'' && strings.HasPrefix(s[i+size:], "{"):
			braces = append(braces, quote)
			quote = 0 // a ${...} in double quotes reads its own quotes
			size++
		case r == '}' && quote == 0 && len(braces) > 0:
			quote = braces[len(braces)-1]
			braces = braces[:len(braces)-1]
		case quote == 0 && (r == '"' || r == '\''):
			quote = r
		case r == quote:
			quote = 0
		}
		if begin < 0 {
			begin = i
		}
		i += size
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %s", quote, s)
	}
	if begin >= 0 {
		words = append(words, s[begin:])
	}
	return words, nil
}

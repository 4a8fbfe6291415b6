package nixfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Parse reads a Nixfile into a File. The first error found is returned as a
// *LocationError naming the line.
func Parse(data []byte) (*File, error) {
	lines := splitLines(data)
	f := &File{}
	var (
		cur        []string // physical lines of the logical line being read
		start      int      // its first line, 1-based
		directives = true   // still in the leading # directive lines
	)
	flush := func(end int) error {
		if len(cur) == 0 {
			return nil
		}
		text := strings.Join(cur, " ")
		cur = nil
		rng := Range{Start: Position{Line: start}, End: Position{Line: end, Character: len(lines[end-1])}}
		in, err := parseInstruction(text, rng)
		if err != nil {
			return err
		}
		f.Instructions = append(f.Instructions, in)
		return nil
	}
	for i, raw := range lines {
		n := i + 1
		line := strings.TrimRightFunc(raw, unicode.IsSpace)
		trimmed := strings.TrimLeftFunc(line, unicode.IsSpace)
		if directives && len(cur) == 0 {
			if k, v, ok := directive(trimmed); ok {
				if k == "syntax" && f.Syntax == "" {
					f.Syntax = v
					f.SyntaxRange = &Range{Start: Position{Line: n}, End: Position{Line: n, Character: len(raw)}}
				}
				continue
			}
			if trimmed != "" {
				directives = false
			}
		}
		if strings.HasPrefix(trimmed, "#") {
			continue // comments, also inside a continued line, as in a Dockerfile
		}
		if trimmed == "" && len(cur) == 0 {
			continue
		}
		if len(cur) == 0 {
			start = n
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			if s := strings.TrimSpace(body); s != "" {
				cur = append(cur, s)
			}
			if n == len(lines) {
				return nil, errorAt(Range{Start: Position{Line: start}, End: Position{Line: n, Character: len(raw)}},
					"the last line ends with a line continuation (\\)")
			}
			continue
		}
		if s := strings.TrimSpace(line); s != "" {
			cur = append(cur, s)
		}
		if err := flush(n); err != nil {
			return nil, err
		}
	}
	if len(cur) > 0 { // a continued line followed only by comments
		n := len(lines)
		return nil, errorAt(Range{Start: Position{Line: start}, End: Position{Line: n, Character: len(lines[n-1])}},
			"the file ends inside a line continuation (\\)")
	}
	return f, nil
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

// directive recognises a parser directive such as "# syntax=REF".
func directive(line string) (key, value string, ok bool) {
	m := directiveRe.FindStringSubmatch(line)
	if m == nil {
		return "", "", false
	}
	return strings.ToLower(m[1]), m[2], true
}

var argNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func parseInstruction(text string, rng Range) (Instruction, error) {
	word, rest := text, ""
	if i := strings.IndexFunc(text, unicode.IsSpace); i >= 0 {
		word, rest = text[:i], strings.TrimSpace(text[i:])
	}
	kw := strings.ToUpper(word)
	base := Base{Keyword: kw, Original: text, Range: rng}
	errf := func(format string, a ...any) error { return errorAt(rng, "%s: "+format, append([]any{kw}, a...)...) }

	spec, known := keywords[kw]
	if !known {
		msg := fmt.Sprintf("unknown instruction %q", word)
		if s := suggest(kw); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		return nil, errorAt(rng, "%s", msg)
	}
	if rest == "" {
		return nil, errf("%s", spec.usage)
	}

	switch kw {
	case "ENTRYPOINT", "CMD":
		args, isJSON, err := parseCommand(rest)
		if err != nil {
			return nil, errf("%v", err)
		}
		if kw == "ENTRYPOINT" {
			return &Entrypoint{Base: base, Args: args, JSON: isJSON}, nil
		}
		return &Cmd{Base: base, Args: args, JSON: isJSON}, nil
	case "NIXPKGS":
		if n := len(splitWords(rest)); n > 2 {
			return nil, errf("takes a source and, for a tarball URL, an optional sha256:HASH: %s", spec.usage)
		}
		return &Nixpkgs{Base: base, Source: rest}, nil
	case "STOPSIGNAL", "WORKDIR", "USER":
		// One value; spaces are kept for WORKDIR (a path may have them).
		if kw != "WORKDIR" && len(splitWords(rest)) != 1 {
			return nil, errf("takes exactly one argument: %s", spec.usage)
		}
		switch kw {
		case "STOPSIGNAL":
			return &StopSignal{Base: base, Signal: rest}, nil
		case "WORKDIR":
			return &Workdir{Base: base, Path: rest}, nil
		default:
			return &User{Base: base, User: rest}, nil
		}
	}

	words := splitWords(rest)
	flags, words, err := parseFlags(words, spec.flags)
	if err != nil {
		return nil, errf("%v", err)
	}
	switch kw {
	case "ARG":
		if len(words) != 1 {
			return nil, errf("takes one NAME[=default] (write one ARG line per argument)")
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
		return &Copy{Base: base, Chmod: flags["chmod"], Chown: flags["chown"],
			Sources: words[:len(words)-1], Dest: words[len(words)-1]}, nil
	case "ENV", "LABEL":
		pairs, err := parseKeyValues(words, kw == "ENV")
		if err != nil {
			return nil, errf("%v", err)
		}
		if kw == "ENV" {
			return &Env{Base: base, Vars: pairs}, nil
		}
		return &Label{Base: base, Labels: pairs}, nil
	case "EXPOSE":
		return &Expose{Base: base, Ports: words}, nil
	case "VOLUME":
		if strings.HasPrefix(rest, "[") {
			var paths []string
			if err := json.Unmarshal([]byte(rest), &paths); err != nil {
				return nil, errf("invalid JSON array: %v", jsonErr(err))
			}
			words = paths
		}
		return &Volume{Base: base, Paths: words}, nil
	}
	return nil, errf("not implemented") // unreachable: every keyword is handled above
}

// parseCommand reads the JSON array form (exec form) or plain words. Plain
// words are split like a shell would split them but run without a shell: a
// Nix closure need not contain one.
func parseCommand(rest string) (args []string, isJSON bool, err error) {
	if strings.HasPrefix(rest, "[") {
		if err := json.Unmarshal([]byte(rest), &args); err != nil {
			return nil, true, fmt.Errorf("invalid JSON array %s: %v", rest, jsonErr(err))
		}
		return args, true, nil
	}
	return splitWords(rest), false, nil
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

// parseFlags takes the leading --name=value words.
func parseFlags(words []string, allowed []string) (map[string]string, []string, error) {
	flags := map[string]string{}
	for len(words) > 0 && strings.HasPrefix(words[0], "--") {
		name, value, ok := strings.Cut(strings.TrimPrefix(words[0], "--"), "=")
		known := false
		for _, a := range allowed {
			known = known || a == name
		}
		if !known {
			if len(allowed) == 0 {
				return nil, nil, fmt.Errorf("takes no flags, got %s", words[0])
			}
			return nil, nil, fmt.Errorf("unknown flag %s (allowed: --%s)", words[0], strings.Join(allowed, ", --"))
		}
		if !ok || value == "" {
			return nil, nil, fmt.Errorf("flag --%s needs a value: --%s=...", name, name)
		}
		if _, dup := flags[name]; dup {
			return nil, nil, fmt.Errorf("flag --%s given twice", name)
		}
		flags[name] = value
		words = words[1:]
	}
	return flags, words, nil
}

// parseKeyValues reads KEY=VALUE pairs; ENV also takes the old "KEY VALUE" form.
func parseKeyValues(words []string, legacy bool) ([]KeyValue, error) {
	if legacy && len(words) > 0 && !strings.Contains(words[0], "=") {
		if len(words) < 2 {
			return nil, fmt.Errorf("%s has no value: write %s=VALUE", words[0], words[0])
		}
		return []KeyValue{{Key: words[0], Value: strings.Join(words[1:], " ")}}, nil
	}
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
func splitWords(s string) []string {
	var (
		words []string
		cur   strings.Builder
		quote rune
		in    bool
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == 0 && unicode.IsSpace(r):
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
			continue
		case r == '\\' && quote != '\'' && i+1 < len(rs):
			cur.WriteRune(r)
			i++
			r = rs[i]
		case quote == 0 && (r == '"' || r == '\''):
			quote = r
		case r == quote:
			quote = 0
		}
		cur.WriteRune(r)
		in = true
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

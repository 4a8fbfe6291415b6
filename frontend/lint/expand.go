package lint

import (
	"errors"
	"strings"
	"unicode"
)

// This file reads words as the converter expands them: with BuildKit's
// shell lexer (frontend/dockerfile/shell, escape character \), which this
// package does not import. It follows that lexer's rules for quotes,
// escapes and ${...} forms, so that a check sees the references the build
// sees and no others: \$X and '$X' are not references, "$X" is.

// val is a variable's value. known is false when the value depends on what
// a check cannot see: the target platform, the image's PATH, a pattern
// substitution.
type val struct {
	s     string
	known bool
}

// entry is a name in scope: declared by ARG or set by ENV. set is false
// for an ARG with neither default nor build argument: the name is declared
// (not a mistake), but ${NAME-x} gives x.
type entry struct {
	v   val
	set bool
}

// scope is the variables in force at a line.
type scope struct {
	vars map[string]entry
	keys []string // in the order they came into scope, for suggestions
}

func newScope() *scope { return &scope{vars: map[string]entry{}} }

func (s *scope) put(k string, e entry) {
	if _, ok := s.vars[k]; !ok {
		s.keys = append(s.keys, k)
	}
	s.vars[k] = e
}

// set gives k a value.
func (s *scope) set(k string, v val) { s.put(k, entry{v: v, set: true}) }

// declare brings k into scope without a value, unless it has one.
func (s *scope) declare(k string) {
	if _, ok := s.vars[k]; !ok {
		s.put(k, entry{v: val{known: true}})
	}
}

// expansion is what the lexer makes of one word.
type expansion struct {
	// value is the word as one value (ProcessWord); words is the word
	// split into fields (ProcessWords).
	value string
	words []string
	// known is false when a value above depends on an unknown value.
	known bool
	// ok is false for a syntax error (an unterminated quote or ${): the
	// build fails on it, and the values are meaningless.
	ok bool
	// unset are the names referenced that are not in scope, in order.
	unset []string
}

// expand expands word in sc.
func expand(word string, sc *scope) expansion {
	l := &lexer{src: []rune(word), sc: sc, known: true}
	v, ws, err := l.stopOn(eof)
	return expansion{value: v, words: ws, known: l.known && err == nil, ok: err == nil, unset: l.unset}
}

const eof rune = -1

var errSyntax = errors.New("syntax error")

type lexer struct {
	src   []rune
	pos   int
	sc    *scope
	known bool
	unset []string
}

func (l *lexer) peek() rune {
	if l.pos >= len(l.src) {
		return eof
	}
	return l.src[l.pos]
}

func (l *lexer) next() rune {
	r := l.peek()
	if r != eof {
		l.pos++
	}
	return r
}

// fields splits a word the way the lexer does: blanks in the values of
// unquoted variables and in unquoted text separate fields; quoted text and
// escaped characters never do.
type fields struct {
	buf    strings.Builder
	words  []string
	inWord bool
}

func (w *fields) addChar(ch rune) {
	if unicode.IsSpace(ch) {
		if w.inWord && w.buf.Len() != 0 {
			w.words = append(w.words, w.buf.String())
			w.buf.Reset()
			w.inWord = false
		}
		return
	}
	w.addRawChar(ch)
}

func (w *fields) addRawChar(ch rune) { w.buf.WriteRune(ch); w.inWord = true }

func (w *fields) addString(s string) {
	for _, ch := range s {
		w.addChar(ch)
	}
}

func (w *fields) addRawString(s string) { w.buf.WriteString(s); w.inWord = true }

func (w *fields) get() []string {
	if w.buf.Len() > 0 {
		w.words = append(w.words, w.buf.String())
		w.buf.Reset()
		w.inWord = false
	}
	return w.words
}

// stopOn reads up to stop (eof: to the end).
func (l *lexer) stopOn(stop rune) (string, []string, error) {
	var (
		result strings.Builder
		w      fields
	)
loop:
	for l.peek() != eof {
		ch := l.peek()
		if stop != eof && ch == stop {
			l.next()
			return result.String(), w.get(), nil
		}
		switch ch {
		case '$':
			s, err := l.dollar()
			if err != nil {
				return "", nil, err
			}
			result.WriteString(s)
			w.addString(s)
		case '\'':
			s, err := l.singleQuote()
			if err != nil {
				return "", nil, err
			}
			result.WriteString(s)
			w.addRawString(s)
		case '"':
			s, err := l.doubleQuote()
			if err != nil {
				return "", nil, err
			}
			result.WriteString(s)
			w.addRawString(s)
		case '<':
			s := l.possibleHeredoc()
			result.WriteString(s)
			w.addRawString(s)
		default:
			ch = l.next()
			if ch == '\\' {
				// An escaped character is literal; a \ at the end is dropped.
				if ch = l.next(); ch == eof {
					break loop
				}
				w.addRawChar(ch)
			} else {
				w.addChar(ch)
			}
			result.WriteRune(ch)
		}
	}
	if stop != eof {
		return "", nil, errSyntax
	}
	return result.String(), w.get(), nil
}

// possibleHeredoc keeps "<<" and the blanks after it together, as the
// lexer does.
func (l *lexer) possibleHeredoc() string {
	l.next()
	if l.peek() != '<' {
		return "<"
	}
	l.next()
	var b strings.Builder
	b.WriteString("<<")
	for l.peek() == ' ' || l.peek() == '\t' {
		b.WriteRune(l.next())
	}
	return b.String()
}

func (l *lexer) singleQuote() (string, error) {
	l.next()
	var b strings.Builder
	for {
		switch ch := l.next(); ch {
		case eof:
			return "", errSyntax
		case '\'':
			return b.String(), nil
		default:
			b.WriteRune(ch)
		}
	}
}

func (l *lexer) doubleQuote() (string, error) {
	l.next()
	var b strings.Builder
	for {
		switch l.peek() {
		case eof:
			return "", errSyntax
		case '"':
			l.next()
			return b.String(), nil
		case '$':
			s, err := l.dollar()
			if err != nil {
				return "", err
			}
			b.WriteString(s)
		default:
			ch := l.next()
			if ch == '\\' {
				// Inside double quotes \ escapes only ", $ and \.
				switch l.peek() {
				case eof:
					continue
				case '"', '$', '\\':
					ch = l.next()
				}
			}
			b.WriteRune(ch)
		}
	}
}

// lookup reads a variable, noting a name that is not in scope.
func (l *lexer) lookup(name string) (val, bool) {
	if !isIdentifier(name) {
		// $1, $@, $$...: never set in a Nixfile; not a name to declare.
		return val{known: true}, false
	}
	e, ok := l.sc.vars[name]
	if !ok {
		l.unset = append(l.unset, name)
		return val{known: true}, false
	}
	return e.v, e.set
}

// use takes a value into the result.
func (l *lexer) use(v val) string {
	l.known = l.known && v.known
	return v.s
}

func (l *lexer) dollar() (string, error) {
	l.next()
	if l.peek() != '{' {
		name := l.name()
		if name == "" {
			return "$", nil
		}
		v, _ := l.lookup(name)
		return l.use(v), nil
	}
	l.next()
	switch l.peek() {
	case eof, '{', '}', ':':
		return "", errSyntax
	}
	name := l.name()
	ch := l.next()
	nullIsUnset := false
	switch ch {
	case '}':
		v, _ := l.lookup(name)
		return l.use(v), nil
	case ':':
		nullIsUnset = true
		ch = l.next()
		fallthrough
	case '+', '-', '?', '#', '%':
		if nullIsUnset && (ch == '#' || ch == '%') {
			return "", errSyntax
		}
		v, set := l.lookup(name)
		// The word is always read (so its references count), but only
		// some branches use it.
		before := l.known
		l.known = true
		word, _, err := l.stopOn('}')
		wordKnown := l.known
		l.known = before
		if err != nil {
			return "", err
		}
		if !v.known {
			l.known = false
			return "", nil
		}
		empty := !set || (nullIsUnset && v.s == "")
		switch ch {
		case '-':
			if empty {
				return l.use(val{word, wordKnown}), nil
			}
			return v.s, nil
		case '+':
			if empty {
				return "", nil
			}
			return l.use(val{word, wordKnown}), nil
		case '?', '#', '%':
			// An error at build time, or a pattern: not evaluated here.
			l.known = false
			return "", nil
		}
		return "", errSyntax
	case '/':
		l.lookup(name)
		if l.peek() == '/' {
			l.next()
		}
		if _, _, err := l.stopOn('/'); err != nil {
			return "", err
		}
		if _, _, err := l.stopOn('}'); err != nil {
			return "", err
		}
		l.known = false
		return "", nil
	}
	return "", errSyntax
}

// name reads a variable name: letters, digits and _, or digits, or one
// special parameter character.
func (l *lexer) name() string {
	var b strings.Builder
	for l.peek() != eof {
		ch := l.peek()
		if b.Len() == 0 && unicode.IsDigit(ch) {
			for l.peek() != eof && unicode.IsDigit(l.peek()) {
				b.WriteRune(l.next())
			}
			return b.String()
		}
		if b.Len() == 0 && strings.ContainsRune("@*#?-$!0", ch) {
			return string(l.next())
		}
		if !unicode.IsLetter(ch) && !unicode.IsDigit(ch) && ch != '_' {
			break
		}
		b.WriteRune(l.next())
	}
	return b.String()
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	r := []rune(s)[0]
	return unicode.IsLetter(r) || r == '_'
}

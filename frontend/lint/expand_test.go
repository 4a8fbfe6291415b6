package lint

import (
	"slices"
	"testing"
)

func TestExpand(t *testing.T) {
	sc := newScope()
	sc.set("A", val{s: "x y", known: true})
	sc.set("EMPTY", val{known: true})
	sc.set("PLAT", val{})
	sc.declare("DECL")
	tests := []struct {
		name  string
		word  string
		value string
		words []string
		known bool
		ok    bool
		unset []string
	}{
		{name: "plain", word: "abc", value: "abc", words: []string{"abc"}, known: true, ok: true},
		{name: "variable splits", word: "$A", value: "x y", words: []string{"x", "y"}, known: true, ok: true},
		{name: "braces", word: "${A}z", value: "x yz", words: []string{"x", "yz"}, known: true, ok: true},
		{name: "double quotes keep one word", word: `"$A"`, value: "x y", words: []string{"x y"}, known: true, ok: true},
		{name: "single quotes are literal", word: `'$B'`, value: "$B", words: []string{"$B"}, known: true, ok: true},
		{name: "escaped dollar is literal", word: `\$B`, value: "$B", words: []string{"$B"}, known: true, ok: true},
		{name: "escaped dollar in double quotes", word: `"\$B"`, value: "$B", words: []string{"$B"}, known: true, ok: true},
		{name: "escaped backslash then variable", word: `\\$B`, value: `\`, words: []string{`\`}, known: true, ok: true, unset: []string{"B"}},
		{name: "undefined", word: "a$B", value: "a", words: []string{"a"}, known: true, ok: true, unset: []string{"B"}},
		{name: "undefined in braces", word: "${B}", known: true, ok: true, unset: []string{"B"}},
		{name: "declared without value", word: "${DECL-d}", value: "d", words: []string{"d"}, known: true, ok: true},
		{name: "default used", word: "${B:-def}", value: "def", words: []string{"def"}, known: true, ok: true, unset: []string{"B"}},
		{name: "default for empty", word: "${EMPTY:-def}", value: "def", words: []string{"def"}, known: true, ok: true},
		{name: "dash keeps empty", word: "${EMPTY-def}", known: true, ok: true},
		{name: "default not used", word: "${A:-$B}", value: "x y", words: []string{"x", "y"}, known: true, ok: true, unset: []string{"B"}},
		{name: "alternative", word: "${A:+alt}", value: "alt", words: []string{"alt"}, known: true, ok: true},
		{name: "unknown value", word: "v-$PLAT", value: "v-", words: []string{"v-"}, known: false, ok: true},
		{name: "pattern is not evaluated", word: "${A%y}", known: false, ok: true},
		{name: "replacement is not evaluated", word: "${A/x/$C}", known: false, ok: true, unset: []string{"C"}},
		{name: "lone dollar", word: "a$", value: "a$", words: []string{"a$"}, known: true, ok: true},
		{name: "command substitution is literal", word: "$(date)", value: "$(date)", words: []string{"$(date)"}, known: true, ok: true},
		{name: "special parameter", word: "$1$@", known: true, ok: true},
		{name: "unterminated brace", word: "${A", known: false, ok: false},
		{name: "unterminated quote", word: `"abc`, known: false, ok: false},
		{name: "bad substitution", word: "${}", known: false, ok: false},
		{name: "each name once per reference", word: "$B$B", known: true, ok: true, unset: []string{"B", "B"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := expand(tc.word, sc)
			if e.ok != tc.ok || e.known != tc.known {
				t.Fatalf("expand(%q): ok %v known %v, want ok %v known %v", tc.word, e.ok, e.known, tc.ok, tc.known)
			}
			if !tc.ok {
				return
			}
			if tc.known && (e.value != tc.value || !slices.Equal(e.words, tc.words)) {
				t.Errorf("expand(%q) = %q %q, want %q %q", tc.word, e.value, e.words, tc.value, tc.words)
			}
			if !slices.Equal(e.unset, tc.unset) {
				t.Errorf("expand(%q) unset %q, want %q", tc.word, e.unset, tc.unset)
			}
		})
	}
}

package lint

import (
	"slices"
	"sort"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// The expander must read words as the converter's lexer does; only this
// test imports that lexer, to compare the two.
func TestExpandMatchesBuildKit(t *testing.T) {
	vars := map[string]string{"A": "x y", "EMPTY": "", "V": "1.2.3", "P": "/bin"}
	sc := newScope()
	for _, k := range []string{"A", "EMPTY", "V", "P"} {
		sc.set(k, val{s: vars[k], known: true})
	}
	words := []string{
		"abc", "$A", "${A}", "a${A}b", `"$A"`, `'$A'`, `\$A`, `"\$A"`, `\\$A`, `"\\$A"`,
		"$B", "${B}", "${B:-d}", "${B-d}", "${EMPTY:-d}", "${EMPTY-d}", "${A:+alt}", "${B:+alt}",
		"${A+alt}", "${EMPTY+alt}", "${B:-$C}", "${A:-$C}", `"${B:-a b}"`, "${B:-'q r'}",
		`"a'b"`, `'a"b'`, `a\ b`, `"a\b"`, "a$", "$", "$(x)", "`x`", "$1", "$@x", "$$",
		"${A", `"abc`, "'abc", "${}", "${:x}", "${A:x}", "${A?}", "${B?msg}",
		"nixpkgs/$V", "github:NixOS/nixpkgs/${V}", "--chown=$B:$C", "$P:$PATH2",
		"é$A", "$Aé", "${A%y}", "${A#x}", "<<EOF", "a<b", `\`, `a\`,
	}
	lex := shell.NewLex('\\')
	for _, w := range words {
		t.Run(w, func(t *testing.T) {
			got := expand(w, sc)
			res, err := lex.ProcessWordWithMatches(w, envGetter(vars))
			wordsBK, errWords := lex.ProcessWords(w, envGetter(vars))
			if (err == nil) != got.ok && !(got.ok && !got.known) {
				t.Fatalf("ok %v, BuildKit error %v", got.ok, err)
			}
			if err != nil || !got.known {
				return
			}
			if got.value != res.Result {
				t.Errorf("value %q, BuildKit %q", got.value, res.Result)
			}
			if errWords == nil && !slices.Equal(got.words, wordsBK) && !(len(got.words) == 0 && len(wordsBK) == 0) {
				t.Errorf("words %q, BuildKit %q", got.words, wordsBK)
			}
			var unmatched []string
			for k := range res.Unmatched {
				if isIdentifier(k) {
					unmatched = append(unmatched, k)
				}
			}
			sort.Strings(unmatched)
			mine := slices.Clone(got.unset)
			sort.Strings(mine)
			mine = slices.Compact(mine)
			if !slices.Equal(mine, unmatched) {
				t.Errorf("unset %q, BuildKit %q", mine, unmatched)
			}
		})
	}
}

type envGetter map[string]string

func (e envGetter) Get(k string) (string, bool) { v, ok := e[k]; return v, ok }
func (e envGetter) Keys() []string {
	var out []string
	for k := range e {
		out = append(out, k)
	}
	return out
}

package nixllb

import (
	"regexp"
	"strings"
	"testing"
)

// The official nixos/nix image has nix, bash, coreutils, gnutar, gzip,
// gnugrep, which, curl, less, wget, man, cacert and findutils, and nothing
// else: the nix stage's scripts must do with those (the Debian test image
// has more, so only this test catches a slip).
func TestScriptsUseOnlyTheOfficialImagesTools(t *testing.T) {
	allowed := map[string]bool{
		// shell builtins and keywords
		"set": true, "export": true, "if": true, "then": true, "else": true, "fi": true, "for": true,
		"do": true, "done": true, "while": true, "read": true, "case": true, "esac": true, "return": true,
		"wait": true, "echo": true, "printf": true, "break": true, "logged": true, "limited": true, "[": true, "!": true,
		"sh": true, ":": true, "exit": true, "continue": true,
		// coreutils, grep, nix
		"rm": true, "mkfifo": true, "tee": true, "sort": true, "cut": true, "ls": true, "cat": true,
		"mkdir": true, "cp": true, "grep": true, "timeout": true, "uname": true,
		"nix": true, "nix-build": true, "nix-instantiate": true, "nix-store": true,
	}
	// The first word of each command: after a newline, ;, |, &&, ||, $( or
	// a keyword that starts a command list.
	cmdRe := regexp.MustCompile(`(?m)(?:^|;|\||&&|\|\||\$\(|\bthen|\bdo|\belse)\s*([A-Za-z_\[!:][A-Za-z0-9_.-]*)`)
	// Lines of nix.conf settings inside NIX_CONFIG are not commands.
	setting := regexp.MustCompile(`(?m)^[a-z-]+ = .*$`)
	for name, script := range map[string]string{"build": buildScript, "meta": metaScript} {
		code := setting.ReplaceAllString(script, "")
		for _, m := range cmdRe.FindAllStringSubmatch(code, -1) {
			w := m[1]
			if strings.Contains(w, "=") || strings.HasSuffix(w, ")") {
				continue
			}
			if !allowed[w] && !strings.HasPrefix(w, "NIX_CONFIG") && w != "out" && w != "all" && w != "drvs" && w != "roots" && w != "paths" && w != "st" && w != "nl" && w != "tab" &&
				w != "foreign" && w != "building" && w != "needs" {
				t.Errorf("the %s script runs %q, which the official nix image may not have", name, w)
			}
		}
		for _, banned := range []string{"sed ", "awk ", "perl ", "python", "xargs "} {
			if strings.Contains(script, banned) {
				t.Errorf("the %s script uses %q", name, strings.TrimSpace(banned))
			}
		}
	}
}

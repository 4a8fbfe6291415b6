package lint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strings"
	"unicode"

	"github.com/nixfile/nixfile/frontend/expand"
	"github.com/nixfile/nixfile/frontend/nixfile"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	nixllb "github.com/nixfile/nixfile/llb"
)

// rules are every rule, in the order of docs/checks.md.
var rules = []*Rule{
	{
		Name:        "UnpinnedPackageSet",
		Description: "NIXPKGS should name a fixed revision of the package set",
		Check:       checkUnpinnedPackageSet,
	},
	{
		Name:        "UnpinnedFlake",
		Description: "FLAKE references outside the build context should name a fixed revision",
		Check:       checkUnpinnedFlake,
	},
	{
		Name:        "RunsAsRoot",
		Description: "The image should run as a user other than root",
		Check:       checkRunsAsRoot,
	},
	{
		Name:        "NetworkToolWithoutCABundle",
		Description: "An image with a network tool needs the CA bundle that ROOTFS certs=off or ROOTFS none leaves out",
		Check:       checkNetworkToolWithoutCABundle,
	},
	{
		Name:        "UndefinedVariable",
		Description: "Variables should be defined by an ARG or ENV line above their use",
		Check:       checkUndefinedVariable,
	},
	{
		Name:        "DuplicateInstruction",
		Description: "An instruction that a later one replaces has no effect",
		Check:       checkDuplicateInstruction,
	},
	{
		Name:        "ShellFormNeedsShell",
		Description: "ENTRYPOINT, CMD and HEALTHCHECK CMD in plain form run without a shell: shell syntax in them is passed as arguments",
		Check:       checkShellFormNeedsShell,
	},
	{
		Name:        "EmptyImage",
		Description: "A Nixfile should put something in the image: PACKAGES, FLAKE, BUILD or COPY",
		Check:       checkEmptyImage,
	},
	{
		Name:        "KeywordCase",
		Description: "Keywords should all be written in the same case, upper case unless most are lower case",
		Check:       checkKeywordCase,
	},
	{
		Name:        "SecretsUsedInArgOrEnv",
		Description: "Secrets should not be passed in ARG or ENV: they end up in the image or the build's records",
		Check:       checkSecretsUsedInArgOrEnv,
	},
}

func init() {
	for _, r := range rules {
		r.Doc = doc(r.Name)
	}
}

// fromRaw notes the text a value was expanded from, when it had variables.
func fromRaw(value, raw string) string {
	if strings.Contains(raw, "$") && raw != value {
		return fmt.Sprintf("%s (from %s)", value, raw)
	}
	return value
}

func checkUnpinnedPackageSet(c *Input) []Warning {
	var set *step
	var readers []nixfile.Instruction // the lines that read the package set
	for _, st := range c.steps {
		switch in := st.in.(type) {
		case *nixfile.Nixpkgs:
			if set == nil {
				set = st
			}
		case *nixfile.Packages, *nixfile.Build:
			readers = append(readers, in)
		}
	}
	if set == nil {
		if len(readers) == 0 {
			return nil // only FLAKE or COPY: the package set is not read
		}
		return []Warning{{
			Message: fmt.Sprintf("No NIXPKGS, so %s reads the nix image's <nixpkgs>, which changes with the nix image; "+
				"pin a revision: NIXPKGS github:NixOS/nixpkgs/<40-hex rev>", nixfile.KeywordOf(readers[0])),
			Ranges: at(readers[0]),
		}}
	}
	if !set.known {
		return nil
	}
	problem, fix := nixpkgsPin(set.words)
	if problem == "" {
		return nil
	}
	src := fromRaw(strings.Join(set.words, " "), set.in.(*nixfile.Nixpkgs).Source)
	return []Warning{{
		Message: fmt.Sprintf("NIXPKGS %s %s; pin it: NIXPKGS %s", src, problem, fix),
		Ranges:  at(set.in),
	}}
}

func checkUnpinnedFlake(c *Input) []Warning {
	var out []Warning
	for _, st := range c.steps {
		if _, ok := st.in.(*nixfile.Flake); !ok || !st.known {
			continue
		}
		for _, w := range st.words {
			if ref, problem, fix := flakeWordPin(w); problem != "" {
				out = append(out, Warning{
					Message: fmt.Sprintf("FLAKE %s %s; pin it: %s", ref, problem, fix),
					Ranges:  at(st.in),
				})
			}
		}
	}
	return out
}

func checkRunsAsRoot(c *Input) []Warning {
	var user *step
	for _, st := range c.steps {
		if _, ok := st.in.(*nixfile.User); ok {
			user = st
		}
	}
	if user == nil {
		return []Warning{{Message: "No USER, so the image runs as root; run it as an unprivileged user: USER app (the image gets the account)"}}
	}
	if !user.known || len(user.words) != 1 {
		return nil
	}
	u, _, _ := strings.Cut(user.words[0], ":")
	if u != "root" && u != "0" {
		return nil
	}
	return []Warning{{
		Message: fmt.Sprintf("USER %s runs the image as root; run it as an unprivileged user: USER app (the image gets the account)",
			fromRaw(user.words[0], user.in.(*nixfile.User).User)),
		Ranges: at(user.in),
	}}
}

// networkTools match the last name of an attribute path (after any output
// name) of a program that makes TLS connections. docs/checks.md lists them.
var networkTools = regexp.MustCompile(`^(` + strings.Join([]string{
	`curl(Minimal|Full|HTTP3)?`, `wget2?`, `httpie`, `xh`, `aria2`,
	`git(Minimal|Full|-lfs)?`, `openssl(_[0-9_]+)?`, `gnutls`,
	`python[0-9]*(Full|Minimal)?`, `nodejs(-slim)?(_[0-9]+)?`, `deno`, `bun`, `go(_[0-9_]+)?`, `ruby(_[0-9_]+)?`,
	`nix`, `cachix`, `awscli2?`, `google-cloud-sdk`, `azure-cli`, `kubectl`, `kubernetes-helm`,
	`terraform`, `opentofu`, `gh`, `skopeo`, `crane`, `oras`, `rclone`,
}, "|") + `)$`)

// outputNames are the usual names of a package's outputs.
var outputNames = map[string]bool{"out": true, "bin": true, "dev": true, "lib": true, "man": true, "doc": true, "info": true, "devdoc": true, "debug": true}

// networkTool returns the package name an attribute path names if it is a
// network tool, else "".
func networkTool(attr string) string {
	names, err := nixllb.ParseAttrPath(attr)
	if err != nil || len(names) == 0 {
		return "" // the build reports it
	}
	for len(names) > 1 && outputNames[names[len(names)-1]] {
		names = names[:len(names)-1]
	}
	if last := names[len(names)-1]; networkTools.MatchString(last) {
		return last
	}
	return ""
}

// caVars point programs at a CA bundle: setting one handles certificates.
var caVars = map[string]bool{"SSL_CERT_FILE": true, "NIX_SSL_CERT_FILE": true, "SSL_CERT_DIR": true}

func checkNetworkToolWithoutCABundle(c *Input) []Warning {
	steps := c.steps
	var (
		certsOff bool
		offWord  string
		offAt    nixfile.Instruction
	)
	for _, st := range steps {
		switch in := st.in.(type) {
		case *nixfile.Rootfs:
			if !st.known {
				return nil
			}
			// As the build reads it; the word to blame is the last that
			// turned the bundle off.
			after, err := nixfile2llb.CertsAfter(!certsOff, st.words)
			if err != nil {
				return nil // the build reports it
			}
			for i, on := range after {
				k, _, _ := strings.Cut(st.words[i], "=")
				if !on && (k == "none" || k == "certs") {
					offWord, offAt = st.words[i], in
				}
				certsOff = !on
			}
		case *nixfile.Env:
			for _, kv := range in.Vars {
				if caVars[kv.Key] {
					return nil
				}
			}
		}
	}
	if !certsOff {
		return nil
	}
	var out []Warning
	for _, st := range steps {
		if !st.known {
			continue
		}
		var tools []string
		switch st.in.(type) {
		case *nixfile.Packages:
			for _, w := range st.words {
				if t := networkTool(w); t != "" {
					tools = append(tools, t)
				}
			}
		case *nixfile.Flake:
			for _, w := range st.words {
				if _, frag, ok := strings.Cut(w, "#"); ok && frag != "" {
					if t := networkTool(frag); t != "" {
						tools = append(tools, t)
					}
				}
			}
		}
		if len(tools) == 0 {
			continue
		}
		verb := "makes"
		if len(tools) > 1 {
			verb = "make"
		}
		out = append(out, Warning{
			Message: fmt.Sprintf("%s %s TLS connections, but ROOTFS %s (line %d) leaves the image without a CA bundle, "+
				"so certificates cannot be verified; keep the bundle (ROOTFS certs=on), or set SSL_CERT_FILE to a bundle you COPY in",
				andList(tools), verb, offWord, line(offAt)),
			Ranges: at(st.in, offAt),
		})
	}
	return out
}

func andList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func checkUndefinedVariable(c *Input) []Warning {
	// Where each name is first defined, for "defined too late".
	definedAt := map[string]nixfile.Instruction{}
	for _, in := range c.File.Instructions {
		switch in := in.(type) {
		case *nixfile.Arg:
			if definedAt[in.Name] == nil {
				definedAt[in.Name] = in
			}
		case *nixfile.Env:
			for _, kv := range in.Vars {
				if definedAt[kv.Key] == nil {
					definedAt[kv.Key] = in
				}
			}
		}
	}
	var out []Warning
	for _, st := range c.steps {
		for _, name := range st.Undefined {
			msg := fmt.Sprintf("Usage of undefined variable '$%s'", name)
			if def := definedAt[name]; def != nil {
				msg += fmt.Sprintf(" (%s %s is on line %d, after this use: variables are defined from their line on)",
					nixfile.KeywordOf(def), name, line(def))
			} else if expand.IsAutomatic(name) {
				msg += fmt.Sprintf(" (an automatic build argument has a value only after ARG %s)", name)
			} else if _, ok := c.BuildArgs[name]; ok {
				msg += fmt.Sprintf(" (--build-arg %s is given, but only an ARG %s line above makes it a variable)", name, name)
			} else if s := suggest(name, st.Scope); s != "" {
				msg += fmt.Sprintf(" (did you mean $%s?)", s)
			}
			switch kw := nixfile.KeywordOf(st.in); kw {
			case "CMD", "ENTRYPOINT":
				msg += fmt.Sprintf("; %s is expanded when the image is built, not when it runs", kw)
			}
			out = append(out, Warning{Message: msg, Ranges: at(st.in)})
		}
	}
	return out
}

// suggest returns the name of names closest to name: the same but for
// case, or at most two edits away.
func suggest(name string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		d := nixfile.EditDistance(name, n)
		if strings.EqualFold(name, n) {
			d = 0
		}
		if d < bestDist && d < len(name) {
			best, bestDist = n, d
		}
	}
	return best
}

// lastWins are the instructions of which only the last counts.
var lastWins = map[string]bool{"ENTRYPOINT": true, "CMD": true, "USER": true, "STOPSIGNAL": true, "HEALTHCHECK": true}

func checkDuplicateInstruction(c *Input) []Warning {
	var out []Warning
	// ENTRYPOINT, CMD, USER, STOPSIGNAL, HEALTHCHECK: each replaces the one
	// before. The warning is at the one that has no effect, as BuildKit's
	// MultipleInstructionsDisallowed is.
	prev := map[string]nixfile.Instruction{}
	for _, in := range c.File.Instructions {
		kw := nixfile.KeywordOf(in)
		if !lastWins[kw] {
			continue
		}
		if p := prev[kw]; p != nil {
			out = append(out, Warning{
				Message: fmt.Sprintf("Only the last %s counts: the %s on line %d replaces this one", kw, kw, line(in)),
				Ranges:  at(p),
			})
		}
		prev[kw] = in
	}
	// WORKDIR: a relative WORKDIR builds on the one before, and COPY puts a
	// relative destination under it, so a WORKDIR has no effect only when
	// an absolute WORKDIR comes before anything used it.
	var (
		wd   *step
		used bool
	)
	for _, st := range c.steps {
		switch st.in.(type) {
		case *nixfile.Copy:
			if !st.known || len(st.words) != 1 || !path.IsAbs(st.words[0]) {
				used = true
			}
		case *nixfile.Workdir:
			abs := st.known && len(st.words) == 1 && path.IsAbs(st.words[0])
			if wd != nil && !used && abs {
				out = append(out, Warning{
					Message: fmt.Sprintf("WORKDIR %s has no effect: WORKDIR %s on line %d replaces it before a COPY or a relative WORKDIR uses it",
						wd.in.(*nixfile.Workdir).Path, st.in.(*nixfile.Workdir).Path, line(st.in)),
					Ranges: at(wd.in),
				})
			}
			wd, used = st, false
		}
	}
	return out
}

var (
	// envAssignRe is a shell's VAR=value before a command.
	envAssignRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
	// shellOpRe is an operator or redirection: &&, ||, |, ;, &, >, >>, 2>&1, <.
	shellOpRe = regexp.MustCompile(`[0-9]*[|;&<>]+[0-9]*`)
)

// shellSyntax returns the first shell syntax in raw plain-form words, and
// whether it is a variable assignment.
func shellSyntax(words []string) (string, bool) {
	for i, w := range words {
		if i == 0 && envAssignRe.MatchString(w) {
			return w, true
		}
		masked, subst := scanShell(w)
		if subst != "" {
			return subst, false
		}
		if m := shellOpRe.FindString(masked); m != "" {
			return m, false
		}
		if strings.HasPrefix(masked, "#") {
			return "#", false // a comment, to a shell
		}
	}
	return "", false
}

// scanShell reads a raw word as a shell would: it returns the word with
// every quoted or escaped character replaced by a letter, and a command
// substitution ($( or `) found outside single quotes.
func scanShell(w string) (masked, subst string) {
	var b strings.Builder
	rs := []rune(w)
	var quote rune
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			}
			b.WriteRune('a')
		case r == '\\' && i+1 < len(rs):
			i++
			b.WriteString("aa")
		case r == '`' && subst == "":
			subst = "`"
			b.WriteRune('a')
		case r == '$' && i+1 < len(rs) && rs[i+1] == '(' && subst == "":
			subst = "$("
			b.WriteRune('a')
		case quote == '"':
			if r == '"' {
				quote = 0
			}
			b.WriteRune('a')
		case r == '"' || r == '\'':
			quote = r
			b.WriteRune('a')
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), subst
}

func checkShellFormNeedsShell(c *Input) []Warning {
	var out []Warning
	for _, in := range c.File.Instructions {
		var args []string
		switch in := in.(type) {
		case *nixfile.Cmd:
			if in.JSON {
				continue
			}
			args = in.Args
		case *nixfile.Entrypoint:
			if in.JSON {
				continue
			}
			args = in.Args
		case *nixfile.Healthcheck:
			if in.JSON || in.None {
				continue
			}
			args = in.Args
		default:
			continue
		}
		tok, assign := shellSyntax(args)
		if tok == "" {
			continue
		}
		kw := nixfile.KeywordOf(in)
		suggestion := fmt.Sprintf(`%s ["sh", "-c", %s]`, kw, jsonString(argsText(in)))
		if _, ok := in.(*nixfile.Healthcheck); ok {
			// HEALTHCHECK [flags] CMD ["sh", "-c", "command"]
			if m := healthcheckCmdRe.FindStringSubmatch(nixfile.OriginalOf(in)); m != nil {
				suggestion = fmt.Sprintf(`%s ["sh", "-c", %s]`, strings.Join(strings.Fields(m[1]), " "), jsonString(m[2]))
			}
		}
		var msg string
		if assign {
			name, value, _ := strings.Cut(tok, "=")
			msg = fmt.Sprintf("%s runs without a shell: %s is taken as the program to run, not as a variable assignment; "+
				"set the variable with ENV %s=%s, or, for a shell, install one and write %s", kw, tok, name, value, suggestion)
		} else {
			msg = fmt.Sprintf("%s runs without a shell: %q is passed to the program as a literal argument, not read as shell syntax; "+
				"for a shell, install one and write %s, or quote %q to mean it literally", kw, tok, suggestion, tok)
		}
		out = append(out, Warning{Message: msg, Ranges: at(in)})
	}
	return out
}

// healthcheckCmdRe splits a plain HEALTHCHECK line into what comes up to
// CMD (the keyword and flags) and the command.
var healthcheckCmdRe = regexp.MustCompile(`(?is)^(\S+\s+(?:--\S+\s+)*CMD)\s+(.*?)\s*$`)

// argsText is the text of an instruction after its keyword.
func argsText(in nixfile.Instruction) string {
	o := nixfile.OriginalOf(in)
	if i := strings.IndexFunc(o, unicode.IsSpace); i >= 0 {
		return strings.TrimSpace(o[i:])
	}
	return ""
}

// jsonString quotes s as a JSON string, leaving & < > as they are.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func checkEmptyImage(c *Input) []Warning {
	for _, in := range c.File.Instructions {
		switch in.(type) {
		case *nixfile.Packages, *nixfile.Flake, *nixfile.Build, *nixfile.Copy:
			return nil
		}
	}
	return []Warning{{Message: "The image is empty: without PACKAGES, FLAKE, BUILD or COPY it has nothing to run"}}
}

// written is an instruction's keyword as written.
func written(in nixfile.Instruction) string {
	o := nixfile.OriginalOf(in)
	if i := strings.IndexFunc(o, unicode.IsSpace); i >= 0 {
		return o[:i]
	}
	return o
}

func checkKeywordCase(c *Input) []Warning {
	// As BuildKit's ConsistentInstructionCasing: keywords that are all
	// upper or all lower case vote; upper case wins a tie.
	var upper, lower int
	for _, in := range c.File.Instructions {
		switch w := written(in); w {
		case strings.ToUpper(w):
			upper++
		case strings.ToLower(w):
			lower++
		}
	}
	want, wantName := strings.ToUpper, "upper"
	if lower > upper {
		want, wantName = strings.ToLower, "lower"
	}
	var out []Warning
	for _, in := range c.File.Instructions {
		w := written(in)
		if w == "" || w == want(w) {
			continue
		}
		out = append(out, Warning{
			Message: fmt.Sprintf("Keyword '%s' should be %s case like the other keywords: %s", w, wantName, want(w)),
			Ranges:  at(in),
		})
	}
	return out
}

var (
	// secretRe and publicRe are BuildKit's SecretsUsedInArgOrEnv patterns:
	// a secret word as the whole name, or as its first or last part.
	secretRe = regexp.MustCompile(`(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)`)
	publicRe = regexp.MustCompile(`(?i)(?:_|^)(?:public|file|version)(?:_|$)`)
)

func isSecretName(name string) bool { return secretRe.MatchString(name) && !publicRe.MatchString(name) }

func checkSecretsUsedInArgOrEnv(c *Input) []Warning {
	var out []Warning
	for _, in := range c.File.Instructions {
		switch in := in.(type) {
		case *nixfile.Arg:
			if isSecretName(in.Name) {
				out = append(out, Warning{
					Message: fmt.Sprintf("ARG %s looks like a secret: build arguments are recorded in the build's provenance; "+
						"give nix its credentials as build secrets (--secret, see --call outline) and the container its secrets when it runs", in.Name),
					Ranges: at(in),
				})
			}
		case *nixfile.Env:
			for _, kv := range in.Vars {
				if isSecretName(kv.Key) {
					out = append(out, Warning{
						Message: fmt.Sprintf("ENV %s looks like a secret: ENV is stored in the image config, readable by anyone who can pull the image; "+
							"give secrets to the container when it runs (docker run -e, a mounted file)", kv.Key),
						Ranges: at(in),
					})
				}
			}
		}
	}
	return out
}

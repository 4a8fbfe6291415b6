package nixllb

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
)

// The nix stage evaluates one generated expression (build.nix). Each group of
// installables (one Nixfile line) is an attribute of it, so the stage can
// evaluate a line on its own and fail with a message that names it. "all" is
// every group's outputs together, for `nix-build build.nix -A all` by hand;
// the build step realises the groups' derivations itself. build.nix holds
// only data, each value a quoted Nix string: what it does with them is
// helpers.nix, a file of this package mounted beside it.

// helpersFile is helpers.nix's name beside build.nix.
const helpersFile = "helpers.nix"

//go:embed helpers.nix
var helpersExpr []byte

// SourceKind says where a package set comes from.
type SourceKind int

const (
	// NixPath is a <name> on the nix image's NIX_PATH, <nixpkgs> by default.
	NixPath SourceKind = iota
	// FlakeRef is a flake reference; its legacyPackages.<system> is the set.
	FlakeRef
	// ContextDir is a directory of the build context, imported with the system.
	ContextDir
	// Tarball is an https tarball URL, with an optional sha256.
	Tarball
	// ContextFlake is a flake directory of the build context; its
	// legacyPackages.<system> is the set.
	ContextFlake
)

// PackageSet is what PACKAGES attribute paths are looked up in.
type PackageSet struct {
	Kind   SourceKind
	Ref    string // NIX_PATH name, flake ref, context-relative dir or URL
	SHA256 string // Tarball only, optional
}

// ReadsContext reports whether the set is read from the build context.
func (s *PackageSet) ReadsContext() bool {
	return s != nil && (s.Kind == ContextDir || s.Kind == ContextFlake)
}

// InstallableKind says what an Installable names.
type InstallableKind int

const (
	// Attr is an attribute path in the package set.
	Attr InstallableKind = iota
	// FlakeOutput is an output of a flake.
	FlakeOutput
	// File is a .nix file of the build context, or attributes of it.
	File
	// ContextFlakeOutput is an output of a flake directory of the build
	// context.
	ContextFlakeOutput
)

// Installable is one thing to build.
type Installable struct {
	Kind InstallableKind
	// Attr is the attribute path: in the package set (Attr), the flake's
	// fragment (FlakeOutput, ContextFlakeOutput; empty means the default
	// package), or in the file's value (File; empty means the whole value).
	Attr []string
	// Flake is the flake reference (FlakeOutput).
	Flake string
	// Path is the file (File) or the flake's directory
	// (ContextFlakeOutput), relative to the build context.
	Path string
	// Name is the installable as the Nixfile names it, for progress lines;
	// empty is its attribute path.
	Name string
}

// ReadsContext reports whether the installable is read from the build
// context.
func (i Installable) ReadsContext() bool { return i.Kind == File || i.Kind == ContextFlakeOutput }

// ContextMount is where the build context is mounted in the nix stage.
const ContextMount = "/nixfile/context"

// contextFlakeRef is a flake reference nix reads inside the stage for a
// directory of the build context.
func contextFlakeRef(rel string) string {
	rel = strings.TrimPrefix(rel, "./")
	if rel == "." || rel == "" {
		return "path:" + ContextMount
	}
	return "path:" + ContextMount + "/" + rel
}

// FormatAttrPath joins an attribute path, quoting names that need it.
func FormatAttrPath(path []string) string {
	parts := make([]string, len(path))
	for i, p := range path {
		if isBareAttr(p) {
			parts[i] = p
		} else {
			parts[i] = nixString(p)
		}
	}
	return strings.Join(parts, ".")
}

func isBareAttr(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '\''):
		default:
			return false
		}
	}
	return true
}

// ParseAttrPath splits "a.b.\"c.d\"" into [a b c.d].
func ParseAttrPath(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	if strings.IndexByte(s, 0) >= 0 {
		// Nix strings end at a NUL: "a\x00b" would name a.
		return nil, fmt.Errorf("invalid attribute path %q: a name has a NUL byte", s)
	}
	var (
		out   []string
		cur   strings.Builder
		inStr bool
		quote bool // the current part was quoted
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr && c == '\\' && i+1 < len(s):
			i++
			// As in a Nix string: \n, \r and \t are control characters
			// (FormatAttrPath writes them so), any other \c is c.
			switch e := s[i]; e {
			case 'n':
				cur.WriteByte('\n')
			case 'r':
				cur.WriteByte('\r')
			case 't':
				cur.WriteByte('\t')
			default:
				cur.WriteByte(e)
			}
		case c == '"':
			inStr = !inStr
			quote = true
		case !inStr && c == '.':
			if cur.Len() == 0 && !quote {
				return nil, fmt.Errorf("invalid attribute path %q: empty name", s)
			}
			out = append(out, cur.String())
			cur.Reset()
			quote = false
		default:
			cur.WriteByte(c)
		}
	}
	if inStr {
		return nil, fmt.Errorf("invalid attribute path %q: unterminated quote", s)
	}
	if cur.Len() == 0 && !quote {
		return nil, fmt.Errorf("invalid attribute path %q: empty name", s)
	}
	return append(out, cur.String()), nil
}

// nixString quotes s as a Nix string literal. Nix has no way to write a NUL
// in a string (its strings end at one), so a NUL becomes U+FFFD: the
// converter rejects NULs first, this only keeps one from cutting a name.
func nixString(s string) string {
	return `"` + nixStringEscaper.Replace(s) + `"`
}

var nixStringEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "\x00", "\uFFFD")

// nixPathNameRe is what Nix's lexer reads between < and > (its PATH_CHARs,
// separated by /): <nixpkgs>, <nixpkgs/lib>.
var nixPathNameRe = regexp.MustCompile(`^[a-zA-Z0-9._+-]+(/[a-zA-Z0-9._+-]+)*$`)

// ValidateNixPathName checks the name of a NIX_PATH entry, as in <name>,
// against Nix's grammar, so that it is one <...> path and nothing else,
// below its entry: a part . or .. is refused, since <nixpkgs/../run/...>
// reaches any file of the nix stage's container, a mounted secret among
// them, whose lines nix prints when they do not parse as Nix.
func ValidateNixPathName(name string) error {
	if !nixPathNameRe.MatchString(name) {
		return fmt.Errorf("invalid NIX_PATH entry <%s>: a name has only letters, digits and . _ - + (and / between names)", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "." || part == ".." {
			return fmt.Errorf("invalid NIX_PATH entry <%s>: %s would leave the entry (a name names an entry and what is below it)", name, part)
		}
	}
	return nil
}

// ValidateRef checks a flake reference or URL before it reaches nix: one
// word of printable ASCII without the characters that no URL or flake
// reference has (", <, >, \, `, {, }, |, ^). It is quoted as a Nix
// string anyway; this makes a bad value an error at its line rather than
// something nix reads as it will.
//
// A reference that nix would read from the nix stage's own filesystem
// (file:, path:, git+file:, tarball+file: and every other ...+file:) is
// refused as well: it would copy files of the container, such as the
// secrets mounted there, into the store cache that every build on the
// daemon shares and can read. The build context is reached as ./dir or
// path:./dir, which the frontend maps to where the stage mounts it.
func ValidateRef(ref string) error {
	if ref == "" {
		return fmt.Errorf("empty reference")
	}
	if scheme, _, ok := strings.Cut(strings.ToLower(ref), ":"); ok && (scheme == "file" || scheme == "path" || strings.HasSuffix(scheme, "+file")) {
		return fmt.Errorf("%s reads files of the nix stage's container, not of the build context; give a directory of the build context as ./dir (path:./dir for a flake) or a remote reference", ref)
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		switch {
		case c <= ' ' || c >= 0x7f:
			return fmt.Errorf("invalid reference %q: blanks, control characters and non-ASCII bytes are not allowed in a flake reference or URL (percent-encode them)", ref)
		case strings.IndexByte("\"<>\\`{}|^", c) >= 0:
			return fmt.Errorf("invalid reference %q: %c is not allowed in a flake reference or URL", ref, c)
		}
	}
	return nil
}

func nixList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = nixString(s)
	}
	return "[ " + strings.Join(q, " ") + " ]"
}

// Group is the installables of one Nixfile line.
type Group struct {
	// Where names the group in error messages, e.g. "line 3".
	Where        string
	Installables []Installable
}

// Expr returns the generated build.nix for a package set and groups. It
// is deterministic: the same input gives the same bytes.
func Expr(system string, set *PackageSet, groups []Group) string {
	var b strings.Builder
	b.WriteString("# Generated by nixfile: the installables of a Nixfile, one attribute a line.\n")
	b.WriteString("let\n")
	fmt.Fprintf(&b, "  system = %s;\n", nixString(system))
	b.WriteString("  inherit (import ./" + helpersFile + " { inherit system pkgs; }) callSet outputsAt fileOutputs flakeOutputs;\n")
	fmt.Fprintf(&b, "  pkgs = %s;\n", packageSetExpr(set))
	b.WriteString("in rec {\n")
	b.WriteString("  inherit pkgs;\n")
	b.WriteString("  groups = {\n")
	for i, g := range groups {
		var items []string
		for _, in := range g.Installables {
			items = append(items, installableExpr(g.Where, in))
		}
		fmt.Fprintf(&b, "    g%d = builtins.concatLists [\n", i)
		for _, it := range items {
			fmt.Fprintf(&b, "      (%s)\n", it)
		}
		b.WriteString("    ];\n")
	}
	b.WriteString("  };\n")
	b.WriteString("  all = builtins.concatLists (builtins.attrValues groups);\n")
	b.WriteString("}\n")
	return b.String()
}

// GroupAttr is the attribute of build.nix that holds group i.
func GroupAttr(i int) string { return fmt.Sprintf("groups.g%d", i) }

func packageSetExpr(set *PackageSet) string {
	if set == nil {
		set = &PackageSet{Kind: NixPath, Ref: "nixpkgs"}
	}
	switch set.Kind {
	case FlakeRef:
		return fmt.Sprintf("let f = builtins.getFlake %s; in f.legacyPackages.${system} or f.packages.${system} or (throw (%s))",
			nixString(set.Ref), nixString("nixfile: the flake "+set.Ref+" has no legacyPackages or packages for ")+" + system")
	case ContextDir:
		return fmt.Sprintf("callSet %s", contextPath(set.Ref))
	case ContextFlake:
		return packageSetExpr(&PackageSet{Kind: FlakeRef, Ref: contextFlakeRef(set.Ref)})
	case Tarball:
		args := "url = " + nixString(set.Ref) + ";"
		if set.SHA256 != "" {
			args += " sha256 = " + nixString(set.SHA256) + ";"
		}
		return fmt.Sprintf("callSet (builtins.fetchTarball { %s })", args)
	}
	return "callSet " + nixPathExpr(set.Ref)
}

// nixPathExpr is <name>, or, for a name that Nix's grammar would not read
// as one <...> path (resolve rejects those), what <name> means spelt with
// the name as a string: never Nix code made of the name.
func nixPathExpr(name string) string {
	if ValidateNixPathName(name) == nil {
		return "<" + name + ">"
	}
	return "(builtins.findFile builtins.nixPath " + nixString(name) + ")"
}

// contextPath is a Nix path expression for a file of the build context.
func contextPath(rel string) string {
	rel = strings.TrimPrefix(rel, "./")
	if rel == "." || rel == "" {
		return "(/. + " + nixString(ContextMount) + ")"
	}
	return "(/. + " + nixString(ContextMount+"/"+rel) + ")"
}

func installableExpr(where string, in Installable) string {
	w := nixString(where)
	attr := nixList(in.Attr)
	switch in.Kind {
	case FlakeOutput:
		return fmt.Sprintf("flakeOutputs %s %s %s", w, nixString(in.Flake), attr)
	case ContextFlakeOutput:
		return fmt.Sprintf("flakeOutputs %s %s %s", w, nixString(contextFlakeRef(in.Path)), attr)
	case File:
		return fmt.Sprintf("fileOutputs %s %s %s", w, contextPath(in.Path), attr)
	}
	return fmt.Sprintf("outputsAt %s %s pkgs %s", w, nixString("the package set"), attr)
}

// Package nixfile parses a Nixfile into a typed syntax tree that keeps the
// lines each instruction came from. It uses only the standard library, so it
// is fast to test and to fuzz; expanding build args is the converter's job.
package nixfile

// Position is a place in the Nixfile: Line is 1-based, Character 0-based.
type Position struct {
	Line      int
	Character int
}

// Range is the span of an instruction, across continued lines.
type Range struct {
	Start Position
	End   Position
}

// File is a parsed Nixfile.
type File struct {
	// Syntax is the frontend image named by a "# syntax=" line among the
	// leading parser directives.
	Syntax      string
	SyntaxRange *Range
	// Check is the value of a "# check=" line among the leading parser
	// directives (which checks to skip, whether a warning fails the
	// build), as a Dockerfile's; CheckRange is nil without one.
	Check        string
	CheckRange   *Range
	Instructions []Instruction
}

// Instruction is one logical line of a Nixfile.
type Instruction interface {
	base() *Base
}

// Base holds what every instruction has.
type Base struct {
	Keyword string // upper case
	// Original is the logical line, continued lines joined as a Dockerfile
	// joins them: the text before each line's continuation backslash as is,
	// followed by the next line, with comment and blank lines left out.
	Original string
	Range    Range
}

func (b *Base) base() *Base { return b }

// Location returns where an instruction is in the Nixfile.
func Location(in Instruction) Range { return in.base().Range }

// KeywordOf returns an instruction's keyword, upper case.
func KeywordOf(in Instruction) string { return in.base().Keyword }

// OriginalOf returns an instruction's logical line as written.
func OriginalOf(in Instruction) string { return in.base().Original }

// Words below are raw: quotes, backslashes and $VARIABLES are still in them.

// Arg is ARG NAME[=default].
type Arg struct {
	Base
	Name    string
	Default *string
}

// Nixpkgs is NIXPKGS <source>: the package set PACKAGES reads.
type Nixpkgs struct {
	Base
	Source string
}

// Packages is PACKAGES attr...: attribute paths in the package set.
type Packages struct {
	Base
	Attrs []string
}

// Flake is FLAKE ref#output...
type Flake struct {
	Base
	Refs []string
}

// Build is BUILD file.nix [attr...].
type Build struct {
	Base
	File  string
	Attrs []string
}

// Copy is COPY [--chmod=] [--chown=] src... dest, or the same with
// ["src", ..., "dest"].
type Copy struct {
	Base
	// From is --from: a named build context or an image to copy from
	// instead of the build context.
	From  string
	Chmod string
	Chown string
	// Excludes are the --exclude patterns, as written.
	Excludes []string
	// Link is --link: accepted for Dockerfiles' sake (see the docs).
	Link    bool
	Sources []string
	Dest    string
	JSON    bool // the paths were a JSON array: each string is one path
}

// KeyValue is one KEY=VALUE of ENV or LABEL.
type KeyValue struct {
	Key   string
	Value string
}

// Env is ENV KEY=VALUE...
type Env struct {
	Base
	Vars []KeyValue
}

// Label is LABEL KEY=VALUE...
type Label struct {
	Base
	Labels []KeyValue
}

// Entrypoint is ENTRYPOINT ["exec", "form"] or plain words.
type Entrypoint struct {
	Base
	Args []string
	JSON bool // the args were a JSON array: taken literally, never expanded
}

// Cmd is CMD ["exec", "form"] or plain words.
type Cmd struct {
	Base
	Args []string
	JSON bool
}

// Workdir is WORKDIR /path.
type Workdir struct {
	Base
	Path string
}

// User is USER name[:group] or uid[:gid].
type User struct {
	Base
	User string
}

// Expose is EXPOSE port[/proto]...
type Expose struct {
	Base
	Ports []string
}

// Volume is VOLUME /path... or a JSON array.
type Volume struct {
	Base
	Paths []string
	JSON  bool // the paths were a JSON array: each string is one path
}

// Healthcheck is HEALTHCHECK [--flag=value...] CMD ["exec", "form"] or
// plain words, or HEALTHCHECK NONE.
type Healthcheck struct {
	Base
	// None is HEALTHCHECK NONE: the image's health check is off.
	None bool
	// Flags are the flags given, in the order of the keyword's flags.
	Flags []KeyValue
	Args  []string
	JSON  bool // the command was a JSON array: taken literally
}

// StopSignal is STOPSIGNAL signal.
type StopSignal struct {
	Base
	Signal string
}

// Rootfs is ROOTFS none | key=value...: which of the files an image gets
// besides its closure (users, /tmp, CA bundle, /bin links, /etc data).
type Rootfs struct {
	Base
	Settings []string
}

// NixConfig is NIXCONFIG name = value: a nix.conf setting for the nix
// stage. Value is the rest of the line after "=", blanks trimmed.
type NixConfig struct {
	Base
	Name  string
	Value string
}

// Layers is LAYERS n: the most layers the closure takes.
type Layers struct {
	Base
	Max string
}

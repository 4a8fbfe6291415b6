package nixfile2llb

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/buildkit/client/llb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/patternmatcher"
	"github.com/nixfile/nixfile/frontend/expand"
	"github.com/nixfile/nixfile/frontend/nixfile"
	nixllb "github.com/nixfile/nixfile/llb"
)

// resolved is a Nixfile with its build args expanded and every value
// checked: what both phases of the conversion read.
type resolved struct {
	packageSet     *nixllb.PackageSet
	packageSetLine *nixfile.Range
	groups         []group
	copies         []copyOp
	config         imageConfig
	rootfs         rootfsOptions
	maxLayers      int // 0: nixllb.DefaultMaxLayers
	// nixSettings are NIXCONFIG's, then the NIX_CONFIG build arg's.
	nixSettings []nixllb.NixSetting
	// rootfsInstr and userInstr are the last ROOTFS and USER, for errors.
	rootfsInstr nixfile.Instruction
	userInstr   nixfile.Instruction
	// argValues are the values the ARGs got.
	argValues map[string]string
	// readsPath is true when a word reads $PATH, which Assemble knows
	// better than the plan.
	readsPath bool
	// configLines are the instructions that set the image config, with
	// about how many bytes each adds to it, to blame for a config too large.
	configLines []sizedLine
}

type sizedLine struct {
	instr nixfile.Instruction
	size  int
}

type group struct {
	nixllb.Group
	rng nixfile.Range
}

type copyOp struct {
	sources []string
	dest    string
	mode    *int
	chown   *chown
	rng     nixfile.Range
	text    string
	workdir string // WORKDIR at the COPY: a relative dest is under it
	instr   nixfile.Instruction
	// excludes are the --exclude patterns, matched as a Dockerfile's
	// COPY --exclude matches them (under each source).
	excludes []string
	// from is --from: the named build context or image the sources are
	// in, instead of the build context; fromState is it, loaded.
	from      string
	fromState *llb.State
}

type chown struct {
	user, group string
}

// imageConfig is the image config a Nixfile asks for, in Nixfile order.
type imageConfig struct {
	env        []nixfile.KeyValue
	entrypoint []string
	cmd        []string
	hasEntry   bool
	hasCmd     bool
	workdir    string
	user       string
	ports      []string
	labels     []nixfile.KeyValue
	volumes    []string
	stopSignal string
	// healthcheck is the last HEALTHCHECK's; nil without one.
	healthcheck *dockerspec.HealthcheckConfig
}

// resolve checks every value of a Nixfile expanded for the given build
// args (see package expand), and reads them into what the conversion uses.
func resolve(f *nixfile.File, opt ConvertOpt, x *expand.Result) (*resolved, error) {
	r := &resolved{rootfs: defaultRootfs(), argValues: x.Args}
	exposed, exposedPorts := 0, map[string]bool{} // EXPOSE's
	for _, l := range x.Lines {
		if l.Err != nil {
			return nil, l.Err
		}
		in := l.In
		errAt := func(format string, a ...any) error {
			return nixfile.WithLocation(fmt.Errorf(nixfile.KeywordOf(in)+": "+format, a...), in)
		}
		rng := l.Range()
		r.readsPath = r.readsPath || l.ReadsPath
		switch in := in.(type) {
		case *nixfile.Nixpkgs:
			if r.packageSet != nil {
				return nil, errAt("the package set is already given on line %d; a Nixfile has one NIXPKGS", r.packageSetLine.Start.Line)
			}
			set, err := ParsePackageSet(l.Words)
			if err != nil {
				return nil, errAt("%v", err)
			}
			r.packageSet, r.packageSetLine = set, &rng
		case *nixfile.Packages:
			if len(l.Words) == 0 {
				return nil, errAt("needs at least one package, and %s expands to none", strings.Join(in.Attrs, " "))
			}
			g := group{rng: rng, Group: nixllb.Group{Where: where(rng)}}
			for _, w := range l.Words {
				p, err := nixllb.ParseAttrPath(w)
				if err != nil {
					return nil, errAt("%v", err)
				}
				in := nixllb.Installable{Kind: nixllb.Attr, Attr: p}
				in.Name = installableName(in)
				g.Installables = append(g.Installables, in)
			}
			r.groups = append(r.groups, g)
		case *nixfile.Flake:
			if len(l.Words) == 0 {
				return nil, errAt("needs at least one flake output, and %s expands to none", strings.Join(in.Refs, " "))
			}
			g := group{rng: rng, Group: nixllb.Group{Where: where(rng)}}
			for _, w := range l.Words {
				it, err := ParseFlakeInstallable(w)
				if err != nil {
					return nil, errAt("%v", err)
				}
				g.Installables = append(g.Installables, it)
			}
			r.groups = append(r.groups, g)
		case *nixfile.Build:
			rel, err := contextRelative(l.Value)
			if err != nil {
				return nil, errAt("%v", err)
			}
			g := group{rng: rng, Group: nixllb.Group{Where: where(rng)}}
			attrs := [][]string{nil}
			if len(l.Words) > 0 {
				attrs = attrs[:0]
			}
			for _, a := range l.Words {
				p, err := nixllb.ParseAttrPath(a)
				if err != nil {
					return nil, errAt("%v", err)
				}
				attrs = append(attrs, p)
			}
			for _, p := range attrs {
				in := nixllb.Installable{Kind: nixllb.File, Path: rel, Attr: p}
				in.Name = installableName(in)
				g.Installables = append(g.Installables, in)
			}
			r.groups = append(r.groups, g)
		case *nixfile.Copy:
			c := copyOp{rng: rng, text: in.Original, workdir: r.config.workdir, instr: in, dest: l.Value, from: l.From}
			if in.From != "" && c.from == "" {
				return nil, errAt("--from=%s expands to nothing: give a named build context or an image", in.From)
			}
			for _, v := range l.Words {
				rel, err := contextRelative(v)
				if c.from != "" {
					// In another context or an image, a path is from its
					// root, absolute or not, as a Dockerfile's COPY --from.
					rel, err = rootRelative(v)
				}
				if err != nil {
					return nil, errAt("%v", err)
				}
				c.sources = append(c.sources, rel)
			}
			if in.Chmod != "" {
				m, err := strconv.ParseUint(l.Chmod, 8, 32)
				if err != nil || m > 0o7777 {
					return nil, errAt("invalid --chmod=%s: give an octal mode such as 0755", l.Chmod)
				}
				mode := int(m)
				c.mode = &mode
			}
			if in.Chown != "" {
				u, g, _ := strings.Cut(l.Chown, ":")
				if u == "" {
					return nil, errAt("invalid --chown=%s: give USER[:GROUP]", in.Chown)
				}
				for _, id := range []string{u, g} {
					if err := checkID(id); err != nil {
						return nil, errAt("invalid --chown=%s: %v", l.Chown, err)
					}
				}
				c.chown = &chown{user: u, group: g}
			}
			for _, e := range l.Excludes {
				if e == "" {
					continue // --exclude=$UNSET excludes nothing
				}
				if _, err := patternmatcher.New([]string{e}); err != nil {
					return nil, errAt("invalid --exclude=%s: %v", e, err)
				}
				c.excludes = append(c.excludes, e)
			}
			if len(c.excludes) > 0 && nixllb.CapsOf(opt.LLBCaps).NoCopyPatterns {
				return nil, errAt("--exclude needs a BuildKit whose copies take exclude patterns (the file.copy.includeexcludepatterns capability), and this one's do not: upgrade it, or leave --exclude out")
			}
			r.copies = append(r.copies, c)
		case *nixfile.Env:
			r.config.env = append(r.config.env, l.Pairs...)
		case *nixfile.Label:
			r.config.labels = append(r.config.labels, l.Pairs...)
		case *nixfile.Entrypoint:
			r.config.entrypoint, r.config.hasEntry = l.Words, true
		case *nixfile.Cmd:
			r.config.cmd, r.config.hasCmd = l.Words, true
		case *nixfile.Workdir:
			v := l.Value
			if !path.IsAbs(v) {
				v = path.Join("/", r.config.workdir, v)
			}
			r.config.workdir = path.Clean(v)
		case *nixfile.User:
			r.userInstr = in
			// The accounts are made when the image is: check them now,
			// before the nix stage runs.
			if _, err := accounts(l.Value); err != nil {
				return nil, nixfile.WithLocation(err, in)
			}
			r.config.user = l.Value
		case *nixfile.NixConfig:
			s := nixllb.NixSetting{Name: in.Name, Value: l.Value}
			if err := nixllb.CheckNixSetting(s); err != nil {
				return nil, errAt("%v", err)
			}
			r.nixSettings = append(r.nixSettings, s)
		case *nixfile.Layers:
			n, err := parseMaxLayers(l.Value)
			if err != nil {
				return nil, errAt("%v", err)
			}
			r.maxLayers = n
		case *nixfile.Rootfs:
			if err := r.rootfs.apply(l.Words); err != nil {
				return nil, errAt("%v", err)
			}
			r.rootfsInstr = in
		case *nixfile.Expose:
			for _, p := range l.Words {
				pr, err := parsePorts(p)
				if err != nil {
					return nil, errAt("%v", err)
				}
				// Bounded: ranges on many words would otherwise make the
				// frontend list billions of ports.
				if exposed += pr.last - pr.first + 1; exposed > maxExposedPorts {
					return nil, errAt("more than %d ports declared in all (every port of every protocol is %d)", maxExposedPorts, 3*65535)
				}
				for n := pr.first; n <= pr.last; n++ {
					if port := strconv.Itoa(n) + "/" + pr.proto; !exposedPorts[port] {
						exposedPorts[port] = true
						r.config.ports = append(r.config.ports, port)
					}
				}
			}
		case *nixfile.Volume:
			for _, p := range l.Words {
				if !path.IsAbs(p) {
					return nil, errAt("volume %q must be an absolute path", p)
				}
				r.config.volumes = append(r.config.volumes, path.Clean(p))
			}
		case *nixfile.StopSignal:
			sig, err := parseSignal(l.Value)
			if err != nil {
				return nil, errAt("%v", err)
			}
			r.config.stopSignal = sig
		case *nixfile.Healthcheck:
			hc, err := healthcheckOf(l)
			if err != nil {
				return nil, errAt("%v", err)
			}
			r.config.healthcheck = hc
		}
		switch in.(type) {
		case *nixfile.Env, *nixfile.Label, *nixfile.Entrypoint, *nixfile.Cmd, *nixfile.Workdir,
			*nixfile.User, *nixfile.Expose, *nixfile.Volume, *nixfile.StopSignal, *nixfile.Healthcheck:
			r.configLines = append(r.configLines, sizedLine{instr: in, size: l.Size})
		}
	}
	// COPY --chown names the accounts of the last USER: check them before
	// the nix stage runs, as Assemble will.
	accts, err := accounts(r.config.user)
	if err != nil {
		return nil, nixfile.WithLocation(err, r.userInstr)
	}
	for _, c := range r.copies {
		if c.chown == nil {
			continue
		}
		if _, err := accts.lookupID(c.chown.user, false); err != nil {
			return nil, nixfile.WithLocation(fmt.Errorf("COPY --chown: %w", err), c.instr)
		}
		if c.chown.group != "" {
			if _, err := accts.lookupID(c.chown.group, true); err != nil {
				return nil, nixfile.WithLocation(fmt.Errorf("COPY --chown: %w", err), c.instr)
			}
		}
	}
	if v, ok := opt.BuildArgs[MaxLayersArg]; ok && v != "" {
		n, err := parseMaxLayers(v)
		if err != nil {
			return nil, fmt.Errorf("build arg %s: %w", MaxLayersArg, err)
		}
		r.maxLayers = n
	}
	if v := opt.BuildArgs[NixConfigArg]; v != "" {
		settings, err := nixllb.ParseNixSettings(v)
		if err != nil {
			return nil, fmt.Errorf("build arg %s: %w", NixConfigArg, err)
		}
		r.nixSettings = append(r.nixSettings, settings...)
	}
	return r, nil
}

// NixConfigArg is the build arg of nix settings for the nix stage: nix.conf
// lines, as NIXCONFIG takes them, applied after the Nixfile's.
const NixConfigArg = "NIX_CONFIG"

// MaxLayersArg is the build arg that sets the closure's layer budget, over
// a LAYERS line.
const MaxLayersArg = "NIXFILE_LAYERS"

// maxLayersLimit keeps room under overlayfs' 127 layers for the image's
// own layers and images built on top.
const maxLayersLimit = 120

func parseMaxLayers(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLayersLimit {
		return 0, fmt.Errorf("%q is not a layer budget: give a number from 1 to %d", v, maxLayersLimit)
	}
	return n, nil
}

// signals are Linux's signal names, without SIG, as a container runtime
// reads a stop signal (moby/sys/signal); SIGRTMIN+n and SIGRTMAX-n too.
var signals = map[string]bool{
	"ABRT": true, "ALRM": true, "BUS": true, "CHLD": true, "CLD": true, "CONT": true, "FPE": true, "HUP": true,
	"ILL": true, "INT": true, "IO": true, "IOT": true, "KILL": true, "PIPE": true, "POLL": true, "PROF": true,
	"PWR": true, "QUIT": true, "SEGV": true, "STKFLT": true, "STOP": true, "SYS": true, "TERM": true, "TRAP": true,
	"TSTP": true, "TTIN": true, "TTOU": true, "URG": true, "USR1": true, "USR2": true, "VTALRM": true, "WINCH": true,
	"XCPU": true, "XFSZ": true, "RTMIN": true, "RTMAX": true,
}

var rtSignalRe = regexp.MustCompile(`^RT(MIN\+([1-9]|1[0-5])|MAX-([1-9]|1[0-4]))$`)

// maxSignal is the highest signal number on Linux.
const maxSignal = 64

// parseSignal reads a stop signal as a Dockerfile does: a known name, with
// or without SIG, in any case (SIGTERM, TERM, sigterm), or a number from 1
// to 64. A name is kept as SIGNAME, a number without leading zeros.
func parseSignal(v string) (string, error) {
	if n, err := strconv.Atoi(v); err == nil {
		if n < 1 || n > maxSignal {
			return "", fmt.Errorf("invalid signal %q: a signal number is from 1 to %d", v, maxSignal)
		}
		return strconv.Itoa(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(v), "SIG")
	if !signals[name] && !rtSignalRe.MatchString(name) {
		return "", fmt.Errorf("invalid signal %q: give a signal name such as SIGTERM or a number from 1 to %d", v, maxSignal)
	}
	return "SIG" + name, nil
}

// maxID is the highest uid or gid: 2^32-1 is (uid_t)-1, "no id".
const maxID = 1<<32 - 2

// checkID checks a numeric uid or gid; a name is checked against the
// image's accounts.
func checkID(s string) error {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > maxID {
		return fmt.Errorf("%s is not an id: ids are from 0 to %d", s, uint64(maxID))
	}
	return nil
}

func where(r nixfile.Range) string { return fmt.Sprintf("line %d", r.Start.Line) }

var portRe = regexp.MustCompile(`^([0-9]{1,5})(-([0-9]{1,5}))?(/(tcp|udp|sctp))?$`)

// maxExposedPorts is the most ports the EXPOSE lines may declare in all,
// repeats included: every port of the three protocols, and room to spare.
const maxExposedPorts = 1 << 18

// portRange is an EXPOSE word: ports first to last of a protocol.
type portRange struct {
	first, last int
	proto       string
}

// parsePorts checks PORT[/proto] or FIRST-LAST[/proto]: a range declares
// every port in it, as a Dockerfile's EXPOSE does (an image config has no
// ranges). The protocol defaults to tcp.
func parsePorts(p string) (portRange, error) {
	m := portRe.FindStringSubmatch(strings.ToLower(p))
	if m == nil {
		return portRange{}, fmt.Errorf("invalid port %q: give PORT[/tcp|/udp|/sctp] or FIRST-LAST[/tcp|/udp|/sctp]", p)
	}
	r := portRange{proto: m[5]}
	r.first, _ = strconv.Atoi(m[1])
	r.last = r.first
	if m[3] != "" {
		r.last, _ = strconv.Atoi(m[3])
	}
	for _, n := range []int{r.first, r.last} {
		if n < 1 || n > 65535 {
			return portRange{}, fmt.Errorf("invalid port %q: out of range 1-65535", p)
		}
	}
	if r.last < r.first {
		return portRange{}, fmt.Errorf("invalid port range %q: %d is below %d", p, r.last, r.first)
	}
	if r.proto == "" {
		r.proto = "tcp"
	}
	return r, nil
}

// rootRelative is a COPY --from source: a path from the root of what it
// copies from, absolute or not (".." stops at the root).
func rootRelative(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty path")
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("path %q has a NUL byte", p)
	}
	if c := strings.TrimPrefix(path.Clean("/"+p), "/"); c != "" {
		return c, nil
	}
	return ".", nil
}

// contextRelative checks that p names something inside the build context.
func contextRelative(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty path")
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("path %q has a NUL byte", p)
	}
	if path.IsAbs(p) {
		return "", fmt.Errorf("%s is an absolute path; give a path in the build context, such as ./%s", p, strings.TrimLeft(p, "/"))
	}
	c := path.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%s is outside the build context", p)
	}
	return c, nil
}

var (
	urlRe = regexp.MustCompile(`(?i)^https?://`)
	// tarballRe is a tarball URL's path, before any query, in any case.
	tarballRe = regexp.MustCompile(`(?i)\.(tar(\.gz|\.xz|\.bz2|\.zst)?|tgz|zip)$`)
	schemeRe  = regexp.MustCompile(`^[a-z][a-z0-9+.-]*:`)
	// sha256Re is a sha256 as nix takes one: base 32, hex, base 64 or SRI.
	sha256Re = regexp.MustCompile(`^[a-zA-Z0-9+/=-]{1,100}$`)
	// indirectRe is an indirect flake reference with a branch or revision,
	// as nix reads one: a registry name, then /REF, /REV or /REF/REV
	// (nixpkgs/nixos-24.05). A plain name (nixpkgs) has no "/".
	indirectRe = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]*/[a-zA-Z0-9@][a-zA-Z0-9_.@+-]*(/[a-zA-Z0-9@][a-zA-Z0-9_.@+-]*)*(\?[^#]*)?$`)
)

// localRef reads a reference to a local path, as nix reads one: a path
// starting with "." or "/", or a path: reference. It returns the path, made
// relative to the build context and cleaned, and whether it had "path:".
// local is false for anything else. A path that is absolute or leaves the
// context is an error, whatever the form.
func localRef(ref string) (rel string, isPath, local bool, err error) {
	p, isPath := strings.CutPrefix(ref, "path:")
	if !isPath && !strings.HasPrefix(p, ".") && !strings.HasPrefix(p, "/") {
		return "", false, false, nil
	}
	switch {
	case p == "":
		return "", isPath, true, fmt.Errorf("%s is an empty path", ref)
	case strings.IndexByte(p, 0) >= 0:
		return "", isPath, true, fmt.Errorf("%q has a NUL byte", ref)
	case path.IsAbs(p):
		return "", isPath, true, fmt.Errorf("%s is an absolute path", ref)
	}
	c := path.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", isPath, true, fmt.Errorf("%s is outside the build context", ref)
	}
	return c, isPath, true, nil
}

// HasScheme reports whether a reference starts with a URL scheme or a flake
// reference's type (github:, https:, git+ssh:, path:).
func HasScheme(ref string) bool { return schemeRe.MatchString(ref) }

// ParsePackageSet reads NIXPKGS's expanded words, as the build and the
// checks read them.
func ParsePackageSet(ws []string) (*nixllb.PackageSet, error) {
	if len(ws) == 0 || len(ws) > 2 {
		return nil, fmt.Errorf("takes a source and, for a tarball URL, an optional sha256:HASH")
	}
	src := ws[0]
	var sha string
	if len(ws) == 2 {
		h, ok := strings.CutPrefix(ws[1], "sha256:")
		if !ok || h == "" {
			return nil, fmt.Errorf("the second word must be sha256:HASH, not %q", ws[1])
		}
		sha = h
	}
	isTarball := urlRe.MatchString(src) && tarballRe.MatchString(strings.SplitN(src, "?", 2)[0])
	if sha != "" && !isTarball {
		return nil, fmt.Errorf("sha256: is for tarball URLs only")
	}
	if strings.HasPrefix(src, "<") && strings.HasSuffix(src, ">") {
		name := strings.TrimSuffix(strings.TrimPrefix(src, "<"), ">")
		if err := nixllb.ValidateNixPathName(name); err != nil {
			return nil, err
		}
		return &nixllb.PackageSet{Kind: nixllb.NixPath, Ref: name}, nil
	}
	if isTarball {
		if err := nixllb.ValidateRef(src); err != nil {
			return nil, err
		}
		if sha != "" && !sha256Re.MatchString(sha) {
			return nil, fmt.Errorf("invalid sha256:%s: give the hash nix prints (base 32, hex or base 64)", sha)
		}
		return &nixllb.PackageSet{Kind: nixllb.Tarball, Ref: src, SHA256: sha}, nil
	}
	rel, isPath, local, err := localRef(src)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%v; give a directory of the build context (./dir, or path:./dir for a flake), a flake reference or a URL", err)
	case local && isPath:
		return &nixllb.PackageSet{Kind: nixllb.ContextFlake, Ref: rel}, nil
	case local:
		return &nixllb.PackageSet{Kind: nixllb.ContextDir, Ref: rel}, nil
	case HasScheme(src) || !strings.Contains(src, "/") || indirectRe.MatchString(src):
		if err := nixllb.ValidateRef(src); err != nil {
			return nil, err
		}
		return &nixllb.PackageSet{Kind: nixllb.FlakeRef, Ref: src}, nil
	}
	return nil, fmt.Errorf("cannot tell what %q is: give <nixpkgs>, a flake reference (github:NixOS/nixpkgs/REV, nixpkgs/BRANCH), ./dir or an https tarball URL", src)
}

// ParseFlakeInstallable reads FLAKE's ref#output, as the build and the
// checks read it. A ref to the build context ("." or "./dir", "path:." or
// "path:./dir") is a ContextFlakeOutput.
func ParseFlakeInstallable(w string) (nixllb.Installable, error) {
	ref, frag, _ := strings.Cut(w, "#")
	if ref == "" {
		return nixllb.Installable{}, fmt.Errorf("%q has no flake reference before #", w)
	}
	attr, err := nixllb.ParseAttrPath(frag)
	if err != nil {
		return nixllb.Installable{}, err
	}
	rel, _, local, err := localRef(ref)
	if err != nil {
		return nixllb.Installable{}, fmt.Errorf("%v; give a flake in the build context (.#out or ./dir#out) or a remote flake", err)
	}
	var in nixllb.Installable
	if local {
		in = nixllb.Installable{Kind: nixllb.ContextFlakeOutput, Path: rel, Attr: attr}
	} else if err := nixllb.ValidateRef(ref); err != nil {
		return nixllb.Installable{}, err
	} else {
		in = nixllb.Installable{Kind: nixllb.FlakeOutput, Flake: ref, Attr: attr}
	}
	in.Name = installableName(in)
	return in, nil
}

// installableName is an installable as a Nixfile names it, for progress
// lines: a context flake as ./dir, attribute paths quoted where they must.
func installableName(in nixllb.Installable) string {
	attr := nixllb.FormatAttrPath(in.Attr)
	switch in.Kind {
	case nixllb.FlakeOutput:
		return in.Flake + "#" + attr
	case nixllb.ContextFlakeOutput:
		if in.Path == "." {
			return ".#" + attr
		}
		return "./" + in.Path + "#" + attr
	case nixllb.File:
		if attr == "" {
			return in.Path
		}
		return in.Path + ":" + attr
	}
	return attr
}

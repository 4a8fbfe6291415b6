package nixfile2llb

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/client/llb"
	nixllb "github.com/nixfile/nixfile/llb"
)

// rootfsOptions are the files an image gets besides its closure; each can
// be turned off with ROOTFS.
type rootfsOptions struct {
	users  bool // /etc/passwd, /etc/group, /etc/nsswitch.conf, home directories
	tmp    bool // /tmp, mode 1777
	certs  bool // a CA bundle at both usual paths, SSL_CERT_FILE
	bin    bool // /bin and /usr/bin/env links to the requested packages' commands
	etc    bool // zoneinfo, /etc/services, /etc/protocols when the closure has them
	prefer []string
}

func defaultRootfs() rootfsOptions {
	return rootfsOptions{users: true, tmp: true, certs: true, bin: true, etc: true}
}

// The paths a CA bundle is looked for at, by OpenSSL, Go, curl and nix.
const (
	caBundle       = "/etc/ssl/certs/ca-bundle.crt"
	caCertificates = "/etc/ssl/certs/ca-certificates.crt"
)

// account is a passwd entry with its group.
type account struct {
	name, group string
	uid, gid    int
	home        string
}

// accounts are root and nobody, plus the USER's user and group.
func accounts(user string) ([]account, error) {
	base := []account{
		{name: "root", group: "root", uid: 0, gid: 0, home: "/root"},
		{name: "nobody", group: "nobody", uid: 65534, gid: 65534, home: "/var/empty"},
	}
	if user == "" {
		return base, nil
	}
	u, g, hasGroup := strings.Cut(user, ":")
	find := func(s string) *account {
		for i := range base {
			if base[i].name == s || strconv.Itoa(base[i].uid) == s {
				return &base[i]
			}
		}
		return nil
	}
	a := account{uid: 1000, gid: 1000}
	if existing := find(u); existing != nil {
		if !hasGroup {
			return base, nil
		}
		a = *existing
	} else if id, err := strconv.Atoi(u); err == nil {
		if id < 0 {
			return nil, fmt.Errorf("USER: invalid uid %d", id)
		}
		a.uid, a.gid, a.name = id, id, "user"
	} else {
		if !validName(u) {
			return nil, fmt.Errorf("USER: invalid user name %q", u)
		}
		a.name = u
	}
	a.group = a.name
	if hasGroup {
		switch gr := find(g); {
		case gr != nil:
			a.group, a.gid = gr.group, gr.gid
		default:
			if id, err := strconv.Atoi(g); err == nil {
				if id < 0 {
					return nil, fmt.Errorf("USER: invalid gid %d", id)
				}
				a.gid = id
			} else if !validName(g) {
				return nil, fmt.Errorf("USER: invalid group name %q", g)
			} else {
				a.group = g
			}
		}
	}
	if find(a.name) != nil {
		// root or nobody with another group: keep the account, change the group.
		for i := range base {
			if base[i].name == a.name {
				base[i].gid, base[i].group = a.gid, a.group
			}
		}
		if a.gid == 0 || a.gid == 65534 {
			return base, nil
		}
		return append(base, account{group: a.group, gid: a.gid, uid: -1}), nil
	}
	a.home = "/home/" + a.name
	return append(base, a), nil
}

func validName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// lookupID resolves a COPY --chown name against the image's accounts.
func lookupID(accts []account, s string, group bool) (int, error) {
	if id, err := strconv.Atoi(s); err == nil && id >= 0 {
		return id, nil
	}
	var names []string
	for _, a := range accts {
		n, id := a.name, a.uid
		if group {
			n, id = a.group, a.gid
		}
		if n == s {
			return id, nil
		}
		if n != "" {
			names = append(names, n)
		}
	}
	what := "user"
	if group {
		what = "group"
	}
	return 0, fmt.Errorf("unknown %s %q; the image has %s", what, s, strings.Join(names, ", "))
}

func passwdFiles(accts []account) (passwd, group string) {
	var p, g strings.Builder
	seenGroup := map[int]bool{}
	for _, a := range accts {
		if a.uid >= 0 {
			shell := "/bin/sh"
			if a.uid == 65534 {
				shell = "/sbin/nologin"
			}
			fmt.Fprintf(&p, "%s:x:%d:%d:%s:%s:%s\n", a.name, a.uid, a.gid, a.name, a.home, shell)
		}
		if !seenGroup[a.gid] {
			seenGroup[a.gid] = true
			fmt.Fprintf(&g, "%s:x:%d:\n", a.group, a.gid)
		}
	}
	return p.String(), g.String()
}

const nsswitch = `passwd: files
group: files
shadow: files
hosts: files dns
networks: files
protocols: files
services: files
`

// rootfsEntries are the files an image gets besides its closure and its
// COPYs, and the env they need.
func rootfsEntries(opt rootfsOptions, c *nixllb.Closure, accts []account, meta *llb.State) ([]nixllb.Entry, []string, error) {
	var (
		entries []nixllb.Entry
		env     []string
	)
	file := func(p, data string, mode int) {
		entries = append(entries, nixllb.Entry{Path: p, Kind: nixllb.FileEntry, Mode: osFileMode(mode), Data: []byte(data)})
	}
	link := func(p, target string) {
		entries = append(entries, nixllb.Entry{Path: p, Kind: nixllb.SymlinkEntry, Target: target})
	}
	if opt.users {
		passwd, group := passwdFiles(accts)
		file("/etc/passwd", passwd, 0o644)
		file("/etc/group", group, 0o644)
		file("/etc/nsswitch.conf", nsswitch, 0o644)
		for _, a := range accts {
			if a.uid < 0 || a.home == "" || a.home == "/var/empty" {
				continue
			}
			mode := 0o755
			if a.uid == 0 {
				mode = 0o700
			}
			entries = append(entries, nixllb.Entry{Path: a.home, Kind: nixllb.DirEntry, Mode: osFileMode(mode), UID: a.uid, GID: a.gid})
		}
	}
	if opt.tmp {
		entries = append(entries, nixllb.Entry{Path: "/tmp", Kind: nixllb.DirEntry, Mode: osFileMode(0o1777)})
	}
	if c == nil {
		return entries, env, nil
	}
	if opt.certs {
		if p := c.Feature(nixllb.FeatureCACert); p != "" {
			link(caBundle, p)
			link(caCertificates, p)
			env = append(env, "SSL_CERT_FILE="+caBundle)
		} else if c.Feature(nixllb.FeatureImageCACert) != "" && meta != nil {
			entries = append(entries, nixllb.Entry{Path: caBundle, Kind: nixllb.CopyEntry, Mode: 0o644, From: meta, Source: "/" + nixllb.MetaImageCACert})
			link(caCertificates, "ca-bundle.crt")
			env = append(env, "SSL_CERT_FILE="+caBundle)
		}
	}
	if opt.etc {
		if p := c.Feature(nixllb.FeatureZoneinfo); p != "" {
			link("/usr/share/zoneinfo", p)
			env = append(env, "TZDIR=/usr/share/zoneinfo")
		}
		if p := c.Feature(nixllb.FeatureServices); p != "" {
			link("/etc/services", p)
		}
		if p := c.Feature(nixllb.FeatureProtocols); p != "" {
			link("/etc/protocols", p)
		}
	}
	if opt.bin {
		links, err := binLinks(c, opt.prefer)
		if err != nil {
			return nil, nil, err
		}
		for _, name := range sortedKeys(links) {
			link("/bin/"+name, links[name])
		}
		if target, ok := links["env"]; ok {
			link("/usr/bin/env", target)
		}
	}
	return entries, env, nil
}

// binLinks maps each command of the requested packages to its store path.
// Two packages with the same command are an error unless ROOTFS prefer=
// names the one that wins.
func binLinks(c *nixllb.Closure, prefer []string) (map[string]string, error) {
	rank := func(root string) int {
		name := nixllb.StorePathName(root)
		for i, p := range prefer {
			if name == p || strings.HasPrefix(name, p+"-") {
				return i
			}
		}
		return len(prefer)
	}
	links := map[string]string{}
	owner := map[string]string{}
	for _, root := range sortedKeys(c.BinEntries) {
		for _, name := range c.BinEntries[root] {
			target := path.Join(root, "bin", name)
			prev, clash := owner[name]
			if !clash {
				links[name], owner[name] = target, root
				continue
			}
			switch rp, rr := rank(prev), rank(root); {
			case rr < rp:
				links[name], owner[name] = target, root
			case rr == rp:
				return nil, &binConflict{name: name, roots: [2]string{prev, root}}
			}
		}
	}
	return links, nil
}

// binConflict is two requested packages with the same command.
type binConflict struct {
	name  string
	roots [2]string
}

func (e *binConflict) Error() string {
	a, b := e.roots[0], e.roots[1]
	if nixllb.StorePathName(b) < nixllb.StorePathName(a) {
		a, b = b, a
	}
	return fmt.Sprintf("both %s and %s provide bin/%s: say which wins with ROOTFS prefer=%s (or turn the links off with ROOTFS bin=off)",
		nixllb.StorePathName(a), nixllb.StorePathName(b), e.name, packageName(a))
}

// packageName is a store path's name without its version, for messages.
func packageName(p string) string {
	name := nixllb.StorePathName(p)
	parts := strings.Split(name, "-")
	for i, part := range parts {
		if i > 0 && part != "" && part[0] >= '0' && part[0] <= '9' {
			return strings.Join(parts[:i], "-")
		}
	}
	return name
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// apply reads ROOTFS's words: "none", or KEY=on|off for users, tmp, certs,
// bin and etc, and prefer=NAME[,NAME...].
func (o *rootfsOptions) apply(words []string) error {
	for _, w := range words {
		if w == "none" {
			*o = rootfsOptions{prefer: o.prefer}
			continue
		}
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			return fmt.Errorf("%q is not none or KEY=VALUE", w)
		}
		if k == "prefer" {
			for _, n := range strings.Split(v, ",") {
				if n = strings.TrimSpace(n); n != "" {
					o.prefer = append(o.prefer, n)
				}
			}
			continue
		}
		var on bool
		switch strings.ToLower(v) {
		case "on", "true", "yes", "1":
			on = true
		case "off", "false", "no", "0":
		default:
			return fmt.Errorf("%s=%s: give on or off", k, v)
		}
		switch k {
		case "users":
			o.users = on
		case "tmp":
			o.tmp = on
		case "certs":
			o.certs = on
		case "bin":
			o.bin = on
		case "etc":
			o.etc = on
		default:
			return fmt.Errorf("unknown setting %q: use none, users, tmp, certs, bin, etc or prefer", k)
		}
	}
	return nil
}

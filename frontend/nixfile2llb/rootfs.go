package nixfile2llb

import (
	"fmt"
	"maps"
	"path"
	"slices"
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

// account is a passwd entry; group is a group entry.
type account struct {
	name     string
	uid, gid int
	home     string
}

type groupEntry struct {
	name string
	gid  int
}

// accountsDB is what /etc/passwd and /etc/group hold.
type accountsDB struct {
	users  []account
	groups []groupEntry
}

func (db *accountsDB) user(s string) int {
	for i, u := range db.users {
		if u.name == s || strconv.Itoa(u.uid) == s {
			return i
		}
	}
	return -1
}

func (db *accountsDB) group(s string) int {
	for i, g := range db.groups {
		if g.name == s || strconv.Itoa(g.gid) == s {
			return i
		}
	}
	return -1
}

// accounts are root and nobody, plus the USER's user and group: a name
// gets uid 1000, a number that uid under the name "user"; a group that is
// not there is added, named as given or, for a number, after the user.
func accounts(user string) (*accountsDB, error) {
	db := &accountsDB{
		users:  []account{{name: "root", uid: 0, gid: 0, home: "/root"}, {name: "nobody", uid: 65534, gid: 65534, home: "/var/empty"}},
		groups: []groupEntry{{name: "root", gid: 0}, {name: "nobody", gid: 65534}},
	}
	if user == "" {
		return db, nil
	}
	u, g, hasGroup := strings.Cut(user, ":")
	idx := db.user(u)
	if idx < 0 {
		a := account{uid: 1000, gid: 1000}
		if err := checkID(u); err != nil {
			return nil, fmt.Errorf("USER: invalid uid: %w", err)
		}
		if id, err := strconv.Atoi(u); err == nil {
			if id < 0 {
				return nil, fmt.Errorf("USER: invalid uid %d", id)
			}
			a.name, a.uid, a.gid = "user", id, id
		} else if !validName(u) {
			return nil, fmt.Errorf("USER: invalid user name %q", u)
		} else {
			a.name = u
		}
		a.home = "/home/" + a.name
		db.users = append(db.users, a)
		idx = len(db.users) - 1
		if !hasGroup {
			g, hasGroup = a.name, true
			if db.group(g) >= 0 || db.group(strconv.Itoa(a.gid)) >= 0 {
				// A user named like a group that is there joins it.
				if gi := db.group(g); gi >= 0 {
					db.users[idx].gid = db.groups[gi].gid
				}
				return db, nil
			}
			db.groups = append(db.groups, groupEntry{name: g, gid: a.gid})
			return db, nil
		}
	}
	if !hasGroup {
		return db, nil
	}
	if gi := db.group(g); gi >= 0 {
		db.users[idx].gid = db.groups[gi].gid
		return db, nil
	}
	ng := groupEntry{gid: db.users[idx].gid}
	if err := checkID(g); err != nil {
		return nil, fmt.Errorf("USER: invalid gid: %w", err)
	}
	if id, err := strconv.Atoi(g); err == nil {
		if id < 0 {
			return nil, fmt.Errorf("USER: invalid gid %d", id)
		}
		ng.gid, ng.name = id, db.users[idx].name
		if db.group(ng.name) >= 0 {
			ng.name = "group" + g
		}
	} else if !validName(g) {
		return nil, fmt.Errorf("USER: invalid group name %q", g)
	} else {
		ng.name = g
		if db.group(strconv.Itoa(ng.gid)) >= 0 {
			ng.gid = 1000
		}
	}
	db.groups = append(db.groups, ng)
	db.users[idx].gid = ng.gid
	return db, nil
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

// lookupID resolves a COPY --chown user or group against the image's
// accounts; numbers need not be there.
func (db *accountsDB) lookupID(s string, isGroup bool) (int, error) {
	if err := checkID(s); err != nil {
		return 0, err
	}
	if id, err := strconv.Atoi(s); err == nil && id >= 0 {
		return id, nil
	}
	var names []string
	if isGroup {
		if i := db.group(s); i >= 0 {
			return db.groups[i].gid, nil
		}
		for _, g := range db.groups {
			names = append(names, g.name)
		}
		return 0, fmt.Errorf("unknown group %q; the image has %s", s, strings.Join(names, ", "))
	}
	if i := db.user(s); i >= 0 {
		return db.users[i].uid, nil
	}
	for _, u := range db.users {
		names = append(names, u.name)
	}
	return 0, fmt.Errorf("unknown user %q; the image has %s", s, strings.Join(names, ", "))
}

// primaryGID is the group of a uid that is in the image, else the uid.
func (db *accountsDB) primaryGID(uid int) int {
	for _, u := range db.users {
		if u.uid == uid {
			return u.gid
		}
	}
	return uid
}

func (db *accountsDB) files() (passwd, groupFile string) {
	var p, g strings.Builder
	for _, a := range db.users {
		shell := "/bin/sh"
		if a.uid == 65534 {
			shell = "/sbin/nologin"
		}
		fmt.Fprintf(&p, "%s:x:%d:%d:%s:%s:%s\n", a.name, a.uid, a.gid, a.name, a.home, shell)
	}
	for _, gr := range db.groups {
		fmt.Fprintf(&g, "%s:x:%d:\n", gr.name, gr.gid)
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
func rootfsEntries(opt rootfsOptions, c *nixllb.Closure, accts *accountsDB, meta *llb.State) ([]nixllb.Entry, []string, error) {
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
		passwd, group := accts.files()
		file("/etc/passwd", passwd, 0o644)
		file("/etc/group", group, 0o644)
		file("/etc/nsswitch.conf", nsswitch, 0o644)
		for _, a := range accts.users {
			if a.home == "" || a.home == "/var/empty" {
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
		for _, name := range slices.Sorted(maps.Keys(links)) {
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
	for _, root := range slices.Sorted(maps.Keys(c.BinEntries)) {
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

// apply reads ROOTFS's words: "none", or KEY=on|off for users, tmp, certs,
// bin and etc, and prefer=NAME[,NAME...].
// CertsAfter reads a ROOTFS line's expanded words, as the build does, and
// returns whether the image still gets its CA bundle after each word, given
// whether it had one before: the checks follow the bundle word by word.
func CertsAfter(certs bool, words []string) ([]bool, error) {
	o := rootfsOptions{certs: certs}
	out := make([]bool, 0, len(words))
	for _, w := range words {
		if err := o.apply([]string{w}); err != nil {
			return nil, err
		}
		out = append(out, o.certs)
	}
	return out, nil
}

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

package nixllb

import (
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/moby/buildkit/client/llb"
)

// EntryKind is what a rootfs entry is.
type EntryKind int

const (
	DirEntry EntryKind = iota
	FileEntry
	SymlinkEntry
	// CopyEntry is a file copied from another state (Entry.From, Entry.Source).
	CopyEntry
)

// Entry is one file of the image outside the store: /etc/passwd, a /bin link.
type Entry struct {
	Path     string
	Kind     EntryKind
	Mode     os.FileMode // unix permission bits, 0o1777 for a sticky /tmp
	UID, GID int
	Data     []byte     // FileEntry
	Target   string     // SymlinkEntry
	From     *llb.State // CopyEntry
	Source   string     // CopyEntry: the path in From
}

// Files puts entries on a layer of their own, with fixed owners, modes and
// times: entries are made on a staging state, then copied in one copy that
// stamps every file and directory with t, so that the layer's digest depends
// on nothing but the entries and t. Parent directories are made 0755 root.
//
// linker, when not nil, makes the symlinks by running ln in it (an image
// with a shell), for a BuildKit without the symlink file action (Caps).
func Files(entries []Entry, t time.Time, name string, linker *llb.State) llb.State {
	entries = withParents(entries)
	var links *llb.State // made by linker
	if linker != nil {
		var ls []Entry
		for _, e := range entries {
			if e.Kind == SymlinkEntry {
				ls = append(ls, e)
			}
		}
		if len(ls) > 0 {
			st := symlinksBy(*linker, ls)
			links = &st
		}
	}
	// A nil *llb.FileAction starts a chain: action.Copy(...) on nil is
	// llb.Copy(...).
	var action *llb.FileAction
	for _, e := range entries {
		owner := llb.WithUIDGID(e.UID, e.GID)
		chown := &llb.ChownOpt{User: &llb.UserOpt{UID: e.UID}, Group: &llb.UserOpt{UID: e.GID}}
		switch e.Kind {
		case DirEntry:
			// A copy of scratch's empty root: unlike mkdir, it keeps every
			// mode bit (sticky /tmp) whatever the daemon's umask.
			action = action.Copy(llb.Scratch(), "/", e.Path, &llb.CopyInfo{Mode: &llb.ChmodOpt{Mode: e.Mode}, ChownOpt: chown})
		case FileEntry:
			action = action.Mkfile(e.Path, e.Mode, e.Data, owner)
		case SymlinkEntry:
			if links != nil {
				// The link itself, not what it points to.
				action = action.Copy(*links, e.Path, e.Path, &llb.CopyInfo{ChownOpt: chown})
			} else {
				action = action.Symlink(e.Target, e.Path, owner)
			}
		case CopyEntry:
			action = action.Copy(*e.From, e.Source, e.Path, &llb.CopyInfo{FollowSymlinks: true, Mode: &llb.ChmodOpt{Mode: e.Mode}, ChownOpt: chown})
		}
	}
	if action == nil {
		return llb.Scratch()
	}
	staged := llb.Scratch().File(action, llb.WithCustomName("[internal] stage "+name))
	return llb.Scratch().File(llb.Copy(staged, "/", "/", &llb.CopyInfo{
		CopyDirContentsOnly: true,
		CreatedTime:         &t,
	}), llb.WithCustomName(name))
}

// withParents adds the missing parent directories and sorts entries so that
// every directory comes before what is in it.
func withParents(entries []Entry) []Entry {
	have := map[string]bool{"/": true}
	for _, e := range entries {
		have[path.Clean(e.Path)] = true
	}
	out := append([]Entry(nil), entries...)
	for _, e := range entries {
		for d := path.Dir(path.Clean(e.Path)); !have[d]; d = path.Dir(d) {
			have[d] = true
			out = append(out, Entry{Path: d, Kind: DirEntry, Mode: 0o755})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return depth(out[i].Path) < depth(out[j].Path) ||
			depth(out[i].Path) == depth(out[j].Path) && out[i].Path < out[j].Path
	})
	return out
}

func depth(p string) int { return strings.Count(path.Clean(p), "/") }

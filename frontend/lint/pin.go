package lint

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// These follow how nix reads flake references, and how the converter tells
// NIXPKGS sources apart (frontend/nixfile2llb: parsePackageSet, localRef).

var (
	revRe     = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
	schemeRe  = regexp.MustCompile(`^[a-z][a-z0-9+.-]*:`)
	httpRe    = regexp.MustCompile(`(?i)^https?://`)
	tarballRe = regexp.MustCompile(`(?i)\.(tar(\.gz|\.xz|\.bz2|\.zst)?|tgz|zip)$`)
	// indirectRe is a registry name followed by a branch or revision.
	indirectRe = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]*/[a-zA-Z0-9@][a-zA-Z0-9_.@+-]*(/[a-zA-Z0-9@][a-zA-Z0-9_.@+-]*)*(\?[^#]*)?$`)
)

// isLocal reports whether a reference names a directory of the build
// context: ".", "./dir", "path:dir". (Absolute paths and paths that leave
// the context are errors of the build, not of pinning.)
func isLocal(ref string) bool {
	p, isPath := strings.CutPrefix(ref, "path:")
	return isPath || strings.HasPrefix(p, ".") || strings.HasPrefix(p, "/")
}

// isTarballURL is an http(s) URL of an archive, which NIXPKGS fetches with
// builtins.fetchTarball.
func isTarballURL(src string) bool {
	return httpRe.MatchString(src) && tarballRe.MatchString(strings.SplitN(src, "?", 2)[0])
}

// flakePin says why a flake reference (without its #fragment) does not
// name fixed content, and how to pin it; "" when it does, or when it is a
// directory of the build context.
func flakePin(ref string) (problem, fix string) {
	if isLocal(ref) {
		return "", ""
	}
	base, query, _ := strings.Cut(ref, "?")
	q, _ := url.ParseQuery(query)
	if revRe.MatchString(q.Get("rev")) || q.Get("narHash") != "" {
		return "", ""
	}
	scheme, rest := "", base
	if m := schemeRe.FindString(base); m != "" {
		scheme, rest = strings.TrimSuffix(m, ":"), base[len(m):]
	}
	switch {
	case scheme == "github" || scheme == "gitlab" || scheme == "sourcehut":
		// owner/repo[/ref-or-rev]
		segs := strings.Split(strings.Trim(rest, "/"), "/")
		owner := strings.Join(segs[:min(2, len(segs))], "/")
		pinned := fmt.Sprintf("%s:%s/<40-hex rev>", scheme, owner)
		if r := q.Get("ref"); r != "" {
			return fmt.Sprintf("follows the branch or tag %s", r), pinned
		}
		if len(segs) < 3 {
			return "has no revision, so it follows the default branch", pinned
		}
		last := segs[len(segs)-1]
		if revRe.MatchString(last) {
			return "", ""
		}
		return fmt.Sprintf("names the branch or tag %s, not a revision", strings.Join(segs[2:], "/")), pinned
	case scheme == "" || scheme == "flake":
		// An indirect reference: a registry name, then a branch and/or a
		// revision (nixpkgs, nixpkgs/nixos-24.05, nixpkgs/<rev>).
		segs := strings.Split(rest, "/")
		pinned := segs[0] + "/<40-hex rev>"
		if len(segs) == 1 {
			if scheme == "" {
				return fmt.Sprintf("is the flake registry's entry %s, which follows a branch (a directory of the build context is ./%s)", segs[0], segs[0]), pinned
			}
			return fmt.Sprintf("is the flake registry's entry %s, which follows a branch", segs[0]), pinned
		}
		if revRe.MatchString(segs[len(segs)-1]) {
			return "", ""
		}
		return fmt.Sprintf("names the branch or tag %s, not a revision", strings.Join(segs[1:], "/")), pinned
	case strings.HasPrefix(scheme, "git+") || strings.HasPrefix(scheme, "hg+") || scheme == "git" || scheme == "hg":
		pinned := withQuery(ref, "rev=<40-hex rev>")
		if r := q.Get("ref"); r != "" {
			return fmt.Sprintf("follows the branch or tag %s", r), pinned
		}
		return "has no rev=, so it follows the default branch", pinned
	}
	// tarball+https:, file+https:, https:, file: ... : fixed only by a
	// hash of the content.
	return "has no narHash=, so its content is not checked", withQuery(ref, "narHash=sha256-...")
}

func withQuery(ref, param string) string {
	if strings.Contains(ref, "?") {
		return ref + "&" + param
	}
	return ref + "?" + param
}

// nixpkgsPin says why the expanded words of a NIXPKGS line do not name a
// fixed package set, and how to fix it; "" when they do, or when they are
// not a valid source (the build reports that).
func nixpkgsPin(words []string) (problem, fix string) {
	if len(words) == 0 || len(words) > 2 {
		return "", ""
	}
	src := words[0]
	switch {
	case strings.HasPrefix(src, "<") && strings.HasSuffix(src, ">"):
		return fmt.Sprintf("is the %s entry of the nix image's NIX_PATH, which changes with the nix image", src),
			"github:NixOS/nixpkgs/<40-hex rev>"
	case isTarballURL(src):
		if len(words) == 2 {
			return "", ""
		}
		return "has no sha256:, so its content is not checked",
			fmt.Sprintf("%s sha256:HASH (nix-prefetch-url --unpack %s prints it)", src, src)
	case len(words) == 2:
		return "", "" // sha256: after something else: an error of the build
	case isLocal(src):
		return "", ""
	}
	if !schemeRe.MatchString(src) && strings.Contains(src, "/") && !indirectRe.MatchString(src) {
		return "", "" // not a reference the build accepts: it says so
	}
	return flakePin(src)
}

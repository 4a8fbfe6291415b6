package lint

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	nixllb "github.com/nixfile/nixfile/llb"
)

// These follow how nix reads flake references; which words are a flake
// reference, a tarball, a NIX_PATH entry or a directory of the build
// context is the converter's (nixfile2llb.ParsePackageSet,
// ParseFlakeInstallable), so that the checks read them as the build does.

// revRe is a git revision: what pins a flake reference.
var revRe = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// flakeWordPin is flakePin for a FLAKE word (ref#output): "" for a flake
// of the build context, or a word the build does not accept (it says so).
func flakeWordPin(w string) (ref, problem, fix string) {
	in, err := nixfile2llb.ParseFlakeInstallable(w)
	if err != nil || in.Kind != nixllb.FlakeOutput {
		return "", "", ""
	}
	problem, fix = flakePin(in.Flake)
	return in.Flake, problem, fix
}

// flakePin says why a flake reference (without its #fragment, not of the
// build context) does not name fixed content, and how to pin it; "" when
// it does.
func flakePin(ref string) (problem, fix string) {
	base, query, _ := strings.Cut(ref, "?")
	q, _ := url.ParseQuery(query)
	if revRe.MatchString(q.Get("rev")) || q.Get("narHash") != "" {
		return "", ""
	}
	scheme, rest := "", base
	if nixfile2llb.HasScheme(base) {
		scheme, rest, _ = strings.Cut(base, ":")
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
	set, err := nixfile2llb.ParsePackageSet(words)
	if err != nil {
		return "", ""
	}
	switch set.Kind {
	case nixllb.NixPath:
		return fmt.Sprintf("is the <%s> entry of the nix image's NIX_PATH, which changes with the nix image", set.Ref),
			"github:NixOS/nixpkgs/<40-hex rev>"
	case nixllb.Tarball:
		if set.SHA256 != "" {
			return "", ""
		}
		return "has no sha256:, so its content is not checked",
			fmt.Sprintf("%s sha256:HASH (nix-prefetch-url --unpack %s prints it)", set.Ref, set.Ref)
	case nixllb.FlakeRef:
		return flakePin(set.Ref)
	}
	return "", "" // the build context
}

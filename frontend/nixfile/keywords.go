package nixfile

import (
	"sort"
	"strings"
)

type keywordSpec struct {
	usage string
	flags []string
	// bools are the flags that may be given without a value (true), and
	// repeatable the ones that may be given more than once.
	bools, repeatable []string
}

var keywords = map[string]keywordSpec{
	"ARG":      {usage: "ARG NAME[=default]..."},
	"NIXPKGS":  {usage: "NIXPKGS <flake ref | ./dir | https://...tar.gz [sha256:...] | <nixpkgs>>"},
	"PACKAGES": {usage: "PACKAGES attr..."},
	"FLAKE":    {usage: "FLAKE ref#output..."},
	"BUILD":    {usage: "BUILD file.nix [attr...]"},
	"COPY": {usage: "COPY [--from=NAME] [--chmod=MODE] [--chown=USER[:GROUP]] [--exclude=PATTERN]... [--link] src... dest",
		flags: []string{"from", "chmod", "chown", "exclude", "link"}, bools: []string{"link"}, repeatable: []string{"exclude"}},
	"ENV":        {usage: "ENV KEY=VALUE..."},
	"LABEL":      {usage: "LABEL KEY=VALUE..."},
	"ENTRYPOINT": {usage: `ENTRYPOINT ["executable", "arg"...] or ENTRYPOINT executable arg...`},
	"CMD":        {usage: `CMD ["arg"...] or CMD arg...`},
	"WORKDIR":    {usage: "WORKDIR /path"},
	"USER":       {usage: "USER name[:group] or uid[:gid]"},
	"EXPOSE":     {usage: "EXPOSE port[-last][/tcp|/udp|/sctp]..."},
	"HEALTHCHECK": {usage: `HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--start-interval=D] [--retries=N] CMD ["executable", "arg"...] | CMD executable arg... | NONE`,
		flags: []string{"interval", "timeout", "start-period", "start-interval", "retries"}},
	"VOLUME":     {usage: "VOLUME /path... or VOLUME [\"/path\"...]"},
	"STOPSIGNAL": {usage: "STOPSIGNAL SIGTERM"},
	"LAYERS":     {usage: "LAYERS <most layers the closure takes, 1-120>"},
	"NIXCONFIG":  {usage: "NIXCONFIG name = value (a nix.conf setting for the nix stage)"},
	"ROOTFS":     {usage: "ROOTFS none | [users=off] [tmp=off] [certs=off] [bin=off] [etc=off] [prefer=pkg,...]"},
}

// Keywords lists every instruction keyword, sorted.
func Keywords() []string {
	out := make([]string, 0, len(keywords))
	for k := range keywords {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// aliases are words users carry over from elsewhere, with what we call them.
var aliases = map[string]string{
	"PACKAGE": "PACKAGES",
	"PKGS":    "PACKAGES",
	"NIXPKG":  "NIXPKGS",
	"FROM":    "NIXPKGS",
	"ADD":     "COPY",
	"RUN":     "BUILD",
}

// dockerfileOnly are the Dockerfile instructions a Nixfile has no use
// for, with why and what to write instead.
var dockerfileOnly = map[string]string{
	"SHELL":      "nothing runs in the image while it is built, and ENTRYPOINT, CMD and HEALTHCHECK run without a shell; for one, install it (PACKAGES bash) and use the JSON form",
	"ONBUILD":    "an image built from a Nixfile runs no later build's instructions; put them in that build's Nixfile",
	"MAINTAINER": "it is deprecated in Dockerfiles too; write LABEL org.opencontainers.image.authors=NAME",
}

// suggest returns the keyword closest to an unknown word, or "".
func suggest(word string) string {
	if a, ok := aliases[strings.ToUpper(word)]; ok {
		return a
	}
	best, bestDist := "", 3
	for _, k := range Keywords() {
		if d := EditDistance(strings.ToUpper(word), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance of two strings, for "did you
// mean" suggestions.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

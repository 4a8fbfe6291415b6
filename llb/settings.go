package nixllb

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// NixSetting is one nix.conf setting the user gives the nix stage
// (NIXCONFIG, or the NIX_CONFIG build arg), applied after the nix image's
// own nix.conf.
type NixSetting struct {
	Name  string
	Value string
}

// String is the setting as a nix.conf line.
func (s NixSetting) String() string { return s.Name + " = " + s.Value }

// allowedSettings are the nix settings a user may set, each with why it is
// harmless: they choose where nix fetches from (and whom it trusts, as the
// user's own nix.conf would), or tune how it fetches and builds. None of
// them changes how builds are isolated, runs a program, sends anything to
// another machine, or moves the store nixfile reads the closure from.
var allowedSettings = map[string]string{
	"substituters":                "where store paths are fetched from",
	"extra-substituters":          "where store paths are fetched from",
	"trusted-public-keys":         "the keys whose signatures nix accepts",
	"extra-trusted-public-keys":   "the keys whose signatures nix accepts",
	"narinfo-cache-negative-ttl":  "how long nix remembers a path a cache lacks",
	"narinfo-cache-positive-ttl":  "how long nix remembers a path a cache has",
	"tarball-ttl":                 "how long a fetched tarball is fresh",
	"connect-timeout":             "a network timeout",
	"stalled-download-timeout":    "a network timeout",
	"download-attempts":           "retries",
	"http-connections":            "parallel downloads",
	"max-substitution-jobs":       "parallel downloads",
	"http2":                       "the HTTP version",
	"fallback":                    "build when a substitute fails",
	"max-jobs":                    "parallel builds",
	"cores":                       "cores per build",
	"extra-experimental-features": "more nix features; nix-command and flakes stay on",
}

// refusedSettings are settings users reach for that nixfile refuses, with why.
var refusedSettings = map[string]string{
	"sandbox":                  "it changes how builds are isolated: the nix image's nix.conf sets it",
	"sandbox-fallback":         "it changes how builds are isolated: the nix image's nix.conf sets it",
	"sandbox-paths":            "it changes what builds can read: the nix image's nix.conf sets it",
	"extra-sandbox-paths":      "it changes what builds can read: the nix image's nix.conf sets it",
	"require-sigs":             "it turns off signature checks, so that any cache could serve any store path",
	"allowed-uris":             "it changes what evaluation may fetch",
	"pure-eval":                "it changes what evaluation may read; nixfile's generated expression needs the default",
	"restrict-eval":            "it changes what evaluation may read; nixfile's generated expression needs the default",
	"post-build-hook":          "it runs a program after every build",
	"pre-build-hook":           "it runs a program before every build",
	"diff-hook":                "it runs a program",
	"run-diff-hook":            "it runs a program",
	"builders":                 "it sends builds, and what they read, to other machines, outside BuildKit",
	"builders-use-substitutes": "it is about remote builders, which nixfile does not use",
	"store":                    "the stage's store is nixfile's cache mount at /nix",
	"build-dir":                "it changes where builds run",
	"build-users-group":        "it changes who builds: the nix image's nix.conf sets it",
	"netrc-file":               "a credential is a build secret: use --secret id=netrc,src=FILE, which stays out of cache keys and layers",
	"access-tokens":            "a credential is a build secret: use --secret id=nix-access-tokens,env=VAR, which stays out of cache keys and layers",
	"experimental-features":    "it would replace the features nixfile needs: use extra-experimental-features",
	"accept-flake-config":      "it lets a flake's nixConfig set any setting, refused ones included",
	"trusted-users":            "it is a nix daemon's setting, and the stage runs no daemon",
	"allowed-users":            "it is a nix daemon's setting, and the stage runs no daemon",
	"include":                  "it reads a file of the nix image",
	"!include":                 "it reads a file of the nix image",
}

var settingNameRe = regexp.MustCompile(`^!?[a-z][a-z0-9-]*$`)

// AllowedSettings lists the settings CheckNixSetting accepts, sorted.
func AllowedSettings() []string {
	out := make([]string, 0, len(allowedSettings))
	for k := range allowedSettings {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CheckNixSetting says why a user may not give the nix stage a setting,
// or nil when they may.
func CheckNixSetting(s NixSetting) error {
	switch {
	case !settingNameRe.MatchString(s.Name):
		return fmt.Errorf("%q is not a nix setting name", s.Name)
	case strings.ContainsAny(s.Value, "\n\r"):
		return fmt.Errorf("the value of %s has a line break", s.Name)
	}
	if why, ok := refusedSettings[s.Name]; ok {
		return fmt.Errorf("nix setting %s is refused: %s", s.Name, why)
	}
	if _, ok := allowedSettings[s.Name]; !ok {
		return fmt.Errorf("nix setting %s is not one nixfile passes to nix; allowed are %s", s.Name, strings.Join(AllowedSettings(), ", "))
	}
	return nil
}

// ParseNixSettings reads nix.conf lines ("name = value"; blank lines and #
// comments skipped), as the NIX_CONFIG build arg gives them, and checks each.
func ParseNixSettings(text string) ([]NixSetting, error) {
	var out []NixSetting
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := ParseNixSetting(line)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// ParseNixSetting reads one "name = value" and checks it.
func ParseNixSetting(line string) (NixSetting, error) {
	name, value, ok := strings.Cut(line, "=")
	if !ok {
		return NixSetting{}, fmt.Errorf("%q is not a nix setting: give name = value", line)
	}
	s := NixSetting{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)}
	return s, CheckNixSetting(s)
}

// nixSettingsText is the settings as nix.conf lines, for NIX_CONFIG.
func nixSettingsText(settings []NixSetting) string {
	var b strings.Builder
	for _, s := range settings {
		b.WriteString(s.String())
		b.WriteByte('\n')
	}
	return b.String()
}

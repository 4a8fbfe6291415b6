package sbom

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	nixllb "github.com/nixfile/nixfile/llb"
)

// narHashHex converts a NAR hash as nix prints it to hex: the SRI form
// "sha256-BASE64" (nix 2.4 and later), "sha256:BASE32" (older nix) or
// "sha256:HEX".
func narHashHex(h string) (string, error) {
	if rest, ok := strings.CutPrefix(h, "sha256-"); ok {
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || len(b) != 32 {
			return "", fmt.Errorf("invalid SRI sha256 hash %q", h)
		}
		return hex.EncodeToString(b), nil
	}
	rest, ok := strings.CutPrefix(h, "sha256:")
	if !ok {
		return "", fmt.Errorf("unsupported hash %q: want sha256", h)
	}
	switch len(rest) {
	case 64:
		if _, err := hex.DecodeString(rest); err != nil {
			return "", fmt.Errorf("invalid hex sha256 hash %q", h)
		}
		return strings.ToLower(rest), nil
	case 52:
		b, err := decodeNixBase32(rest, 32)
		if err != nil {
			return "", fmt.Errorf("invalid base-32 sha256 hash %q: %w", h, err)
		}
		return hex.EncodeToString(b), nil
	}
	return "", fmt.Errorf("invalid sha256 hash %q", h)
}

// decodeNixBase32 decodes nix's base 32, which reads the string from its
// last character and packs 5 bits at a time from the least significant.
func decodeNixBase32(s string, size int) ([]byte, error) {
	out := make([]byte, size)
	for n := 0; n < len(s); n++ {
		c := s[len(s)-n-1]
		digit := strings.IndexByte(nixllb.NixBase32, c)
		if digit < 0 {
			return nil, fmt.Errorf("invalid character %q", c)
		}
		b := n * 5
		i, j := b/8, uint(b%8)
		if i >= size {
			return nil, fmt.Errorf("too long")
		}
		out[i] |= byte(digit << j)
		if carry := byte(digit >> (8 - j)); i+1 < size {
			out[i+1] |= carry
		} else if carry != 0 {
			return nil, fmt.Errorf("too long")
		}
	}
	return out, nil
}

// splitName splits a derivation or store path name into the package name
// and version as nix's DrvName does (nix-env, builtins.parseDrvName): the
// version starts after the first dash that is followed by a character
// other than a letter.
func splitName(s string) (name, version string) {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '-' && !isLetter(s[i+1]) {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// outputSuffixes are the output names nixpkgs gives its packages besides
// out, which nix appends to the store path name ("openssl-3.0.7-dev").
var outputSuffixes = []string{"bin", "dev", "lib", "man", "doc", "info", "devdoc", "static", "debug", "data", "out"}

// cutOutput takes a known output name off a parsed version: a store path
// name has no other mark of its output. Only versions are looked at, so
// that a package named like "foo-lib" keeps its name.
func cutOutput(version string) (string, string) {
	for _, o := range outputSuffixes {
		if v, ok := strings.CutSuffix(version, "-"+o); ok && v != "" {
			return v, o
		}
	}
	return version, ""
}

// storeHash is the hash part of a store path.
func storeHash(p string) string {
	const prefix = "/nix/store/"
	if len(p) >= len(prefix)+32 {
		return p[len(prefix) : len(prefix)+32]
	}
	return ""
}

// purl is a package URL for a nix package. There is no official purl type
// for nix yet; this is the form sbomnix and bombon emit (pkg:nix/NAME@VERSION),
// with syft's qualifiers for the store path's hash and a non-default
// output, sorted as the purl spec wants.
func purl(name, version, output, hash string) string {
	var b strings.Builder
	b.WriteString("pkg:nix/")
	b.WriteString(purlEscape(name))
	if version != "" {
		b.WriteString("@")
		b.WriteString(purlEscape(version))
	}
	var q []string
	if hash != "" {
		q = append(q, "hash="+purlEscape(hash))
	}
	if output != "" && output != "out" {
		q = append(q, "output="+purlEscape(output))
	}
	if len(q) > 0 {
		b.WriteString("?")
		b.WriteString(strings.Join(q, "&"))
	}
	return b.String()
}

// purlEscape percent-encodes all but the characters purl leaves as they are.
func purlEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isLetter(c) || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// spdxIDChars keeps what an SPDX element id may hold: letters, digits, "."
// and "-".
func spdxIDChars(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isLetter(c) || c >= '0' && c <= '9' || c == '.' || c == '-' {
			b.WriteByte(c)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// isLicenseID reports whether s can stand in an SPDX license expression as
// one identifier.
func isLicenseID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLetter(c) || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+') {
			return false
		}
	}
	switch strings.ToUpper(s) {
	case "AND", "OR", "WITH", "NONE", "NOASSERTION":
		return false
	}
	return true
}

package lint

import (
	"strings"
	"testing"
)

const rev = "0123456789abcdef0123456789abcdef01234567"

func TestFlakePin(t *testing.T) {
	tests := []struct {
		name    string
		ref     string
		problem string // "" when pinned
		fix     string
	}{
		{name: "github without ref", ref: "github:NixOS/nixpkgs", problem: "has no revision, so it follows the default branch", fix: "github:NixOS/nixpkgs/<40-hex rev>"},
		{name: "github branch", ref: "github:NixOS/nixpkgs/nixos-24.05", problem: "names the branch or tag nixos-24.05, not a revision", fix: "github:NixOS/nixpkgs/<40-hex rev>"},
		{name: "github short hash is a ref", ref: "github:NixOS/nixpkgs/0123abcd", problem: "names the branch or tag 0123abcd, not a revision", fix: "github:NixOS/nixpkgs/<40-hex rev>"},
		{name: "github ref query", ref: "github:NixOS/nixpkgs?ref=main", problem: "follows the branch or tag main", fix: "github:NixOS/nixpkgs/<40-hex rev>"},
		{name: "github rev", ref: "github:NixOS/nixpkgs/" + rev},
		{name: "github rev query", ref: "github:NixOS/nixpkgs?rev=" + rev},
		{name: "gitlab rev", ref: "gitlab:group/project/" + rev},
		{name: "narHash pins", ref: "github:NixOS/nixpkgs?narHash=sha256-abc"},
		{name: "registry name", ref: "nixpkgs", problem: "is the flake registry's entry nixpkgs, which follows a branch (a directory of the build context is ./nixpkgs)", fix: "nixpkgs/<40-hex rev>"},
		{name: "flake: registry name", ref: "flake:nixpkgs", problem: "is the flake registry's entry nixpkgs, which follows a branch", fix: "nixpkgs/<40-hex rev>"},
		{name: "registry branch", ref: "nixpkgs/nixos-24.05", problem: "names the branch or tag nixos-24.05, not a revision", fix: "nixpkgs/<40-hex rev>"},
		{name: "registry rev", ref: "nixpkgs/" + rev},
		{name: "registry branch and rev", ref: "nixpkgs/nixos-24.05/" + rev},
		{name: "git without rev", ref: "git+https://example.com/repo.git?ref=main", problem: "follows the branch or tag main", fix: "git+https://example.com/repo.git?ref=main&rev=<40-hex rev>"},
		{name: "git plain", ref: "git+https://example.com/repo.git", problem: "has no rev=, so it follows the default branch", fix: "git+https://example.com/repo.git?rev=<40-hex rev>"},
		{name: "git rev", ref: "git+https://example.com/repo.git?ref=main&rev=" + rev},
		{name: "tarball flake", ref: "https://example.com/src.tar.gz", problem: "has no narHash=, so its content is not checked", fix: "https://example.com/src.tar.gz?narHash=sha256-..."},
		{name: "dot", ref: "."},
		{name: "context dir", ref: "./tools"},
		{name: "path: context dir", ref: "path:tools"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, problem, fix := flakeWordPin(tc.ref)
			if problem != tc.problem || (tc.problem != "" && fix != tc.fix) {
				t.Errorf("flakeWordPin(%q) = %q, %q; want %q, %q", tc.ref, problem, fix, tc.problem, tc.fix)
			}
		})
	}
}

func TestNixpkgsPin(t *testing.T) {
	tests := []struct {
		name    string
		source  string
		problem string
	}{
		{name: "NIX_PATH entry", source: "<nixpkgs>", problem: "is the <nixpkgs> entry of the nix image's NIX_PATH, which changes with the nix image"},
		{name: "tarball without hash", source: "https://github.com/NixOS/nixpkgs/archive/" + rev + ".tar.gz", problem: "has no sha256:, so its content is not checked"},
		{name: "tarball with hash", source: "https://github.com/NixOS/nixpkgs/archive/" + rev + ".tar.gz sha256:1abc"},
		{name: "upper-case tarball suffix", source: "https://example.com/NIXPKGS.TAR.GZ", problem: "has no sha256:, so its content is not checked"},
		{name: "context dir", source: "./vendor/nixpkgs"},
		{name: "context flake", source: "path:./vendor/nixpkgs"},
		{name: "flake branch", source: "github:NixOS/nixpkgs/nixos-24.05", problem: "names the branch or tag nixos-24.05, not a revision"},
		{name: "flake rev", source: "github:NixOS/nixpkgs/" + rev},
		{name: "invalid source is the build's error", source: "~/nixpkgs"},
		{name: "too many words is the build's error", source: "a b c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			problem, _ := nixpkgsPin(strings.Fields(tc.source))
			if problem != tc.problem {
				t.Errorf("nixpkgsPin(%q) = %q, want %q", tc.source, problem, tc.problem)
			}
		})
	}
}

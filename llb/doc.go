// Package nixllb builds the Nix-specific parts of a nixfile build as LLB: the
// nix stage that builds installables and lists their runtime closure, and the
// copy of exactly that closure onto scratch. It knows nothing of Nixfile
// syntax; it takes typed Go values.
package nixllb

// DefaultImage is the nix image the nix stage runs on unless a Nixfile or a
// build arg says otherwise: a pinned release of the official image.
const DefaultImage = "docker.io/nixos/nix:2.28.3"

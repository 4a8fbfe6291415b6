# shellcheck shell=sh
# meta.sh [build-closure]: the nix stage's metadata step, for the SBOM. It
# evaluates meta.nix over build.nix (both beside it) into packages.json,
# and with build-closure writes build-closure: a line "DRV REQUISITE" for
# each path of the derivation closure (nix-store --query --requisites of a
# .drv: every derivation and source needed to build it) of each requested
# output's derivation. Evaluation writes the .drv files, so they are there
# even when the outputs were substituted.
#
# --read-write-mode lets the evaluation add to the store what it must (a
# flake's source, a context file) in nix 2.8 as in current nix, where
# --eval alone may not.
here=${0%/*}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

nix --version >"$out/nix-version" 2>/dev/null || echo >"$out/nix-version"
logged nix-instantiate --eval --strict --json --read-write-mode "$here/meta.nix" --argstr build "$here/build.nix" >"$out/packages.json"
if [ "${1:-}" = build-closure ]; then
  logged nix-instantiate "$here/drvs.nix" --argstr build "$here/build.nix" >"$out/.drvs"
  # Newer nix prints "DRV!OUTPUT" for a non-default output.
  while read -r d; do printf '%s\n' "${d%%!*}"; done <"$out/.drvs" | sort -u >"$out/.drv-list"
  while read -r d; do
    logged nix-store --query --requisites "$d" >"$out/.reqs"
    while read -r r; do printf '%s %s\n' "$d" "$r"; done <"$out/.reqs"
  done <"$out/.drv-list" >"$out/build-closure"
  rm -f "$out/.drvs" "$out/.drv-list" "$out/.reqs"
fi
rm -f "$out/.logged-status"

# shellcheck shell=sh
# layer.sh PATH...: a layer step of the closure. It copies the store paths
# it is given from the store cache to $NIXFILE_LAYER/nix/store, after
# checking them against the hashes nix recorded, with /nix and /nix/store
# stamped at the store's time (1 s after the epoch, as nix stamps what it
# holds). NIXFILE_NAR_HASHES (the paths' NAR hashes, as the nix step read
# them) is not read here: it keys the step, so that BuildKit reuses a
# layer exactly while its paths have the same contents.
#
# When it fails, what it says is also in $NIXFILE_LAYER/nix.log, for the
# frontend to read back; exit status 75 says a path is not valid in the
# store cache any more (pruned since the nix step ran): the frontend runs
# the nix step again and retries.
set -euf
layer=${NIXFILE_LAYER:?NIXFILE_LAYER is not set}
log=${TMPDIR:-/tmp}/nixfile-layer.log
# fail STATUS: what the step said (in $log) to the layer's log, and stop.
fail() {
  cp "$log" "$layer/nix.log"
  cat "$log" >&2
  exit "$1"
}
: >"$log"
if ! nix-store --check-validity "$@" 2>/dev/null; then
  for p in "$@"; do
    if ! nix-store --check-validity "$p" 2>/dev/null; then
      echo "nixfile: $p is not in the nix store cache any more (pruned since the nix step ran)" >>"$log"
    fi
  done
  fail 75
fi
# The store cache is shared by every build on the daemon, and in an image
# without build users nix's builders run as root and can write it: what
# leaves is checked against the hashes nix recorded.
if ! nix-store --verify-path "$@" 2>>"$log"; then
  echo "error: nixfile: a store path of the closure is not what nix built or fetched: the store cache was altered by another build" >>"$log"
  fail 1
fi
mkdir -p "$layer/nix/store"
cp -a "$@" "$layer/nix/store/"
touch -h -d @1 "$layer/nix/store" "$layer/nix"

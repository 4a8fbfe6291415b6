# shellcheck shell=sh
# build.sh [set] [GROUP...]: the nix stage's build step. It builds every
# group of build.nix (beside it) its arguments name in one nix invocation
# (the package set loads once), and reports the closure in $NIXFILE_OUT
# (files named as the Meta* constants of stage.go say) and writes it to
# $NIXFILE_CLOSURE: an archive a layer (NIXFILE_ARCHIVER), or the paths
# themselves at nix/store. NIXFILE_NIX_TIMEOUT, if above 0, stops the
# nix build past that many seconds.
#
# Only when the build fails does it look for the line to blame: it
# evaluates each argument alone ("set": the package set), recording it in
# "evaluating", and stops at the first that fails; when all evaluate, the
# build failed, and "groups" maps each line's derivations for the frontend
# to match with those nix names. nix's message is the one of the whole
# build, in nix.log.
here=${0%/*}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
closure=${NIXFILE_CLOSURE:?NIXFILE_CLOSURE is not set}
nl='
'
tab=$(printf '\t')

echo "nixfile: nix runs on $(uname -m), builds for ${NIXFILE_FOREIGN_SYSTEM:-its own system}" >&2
# The archiver's binary also flushes the filesystem the step writes to
# (syncfs, every 50 ms) while the step runs: the step's end unmounts its
# overlay, which syncs what nix and the archives wrote (800 MB for a
# closure of 400 MB) while the build waits, unless it was written back as
# it came.
if [ -n "${NIXFILE_ARCHIVER:-}" ]; then
  "$NIXFILE_ARCHIVER" flush-writes </dev/null >/dev/null 2>&1 &
  flusher=$!
  trap 'kill "$flusher" 2>/dev/null || :' EXIT
fi

all=
for a in "$@"; do
  if [ "$a" != set ]; then all="$all -A groups.g$a"; fi
done
limited() {
  if [ "${NIXFILE_NIX_TIMEOUT:-0}" -gt 0 ]; then timeout -k 10 "$NIXFILE_NIX_TIMEOUT" "$@"; else "$@"; fi
}
# builders_can_write_store reports whether nix's builders run as a user
# who can write the store: nix runs them as the users of build-users-group
# only when it runs as root (`nix config show` is nix 2.20's spelling of
# `nix show-config`). The answer is the image's (its user and its nix.conf:
# the Nixfile's nix settings may not set build-users-group), and so is the
# store cache (NIXFILE_STORE_ID is set when there is one): builders_cache
# keeps it there, and a nix process (0.06 s to start) is spared every build
# after the first. NIXFILE_STORE_STATE moves it, for the tests.
builders_cache=
if [ -n "${NIXFILE_STORE_ID:-}" ]; then
  builders_cache=${NIXFILE_STORE_STATE:-/nix/var/nixfile}/builders-write
fi
builders_can_write_store() {
  if [ "$(id -u)" != 0 ]; then return 0; fi
  group=$(nix config show build-users-group 2>/dev/null) ||
    group=$(nix show-config 2>/dev/null | grep '^build-users-group = ' | cut -d ' ' -f 3-) || group=
  [ -z "$group" ]
}
# build_all builds every group, printing the roots.
build_all() {
  # $all is words of our own: -A and attribute names without blanks.
  # shellcheck disable=SC2086
  logged limited nix-build "$here/build.nix" --no-out-link $all
}
st=0
roots=$(build_all) || st=$?
# nix registers a binary cache in its narinfo cache (binary-cache-v6.sqlite
# in ~/.cache/nix, shared by concurrent builds) with "insert or replace":
# two nix processes that register one cache at the same moment can leave
# one of them with the id the other replaced, and its next insert fails
# with "constraint failed" (seen with 8 first builds at once on a new
# store). The cache is registered by then: the build is tried once more.
if [ "$st" != 0 ] && grep -q "constraint failed (in '[^']*binary-cache-v[0-9]*\.sqlite')" "$out/nix.log"; then
  echo "nixfile: a concurrent build registered a binary cache in nix's narinfo cache at the same moment: building again" | tee -a "$out/nix.log" >&2
  st=0
  roots=$(build_all) || st=$?
fi
if [ "$st" = 124 ] || [ "$st" = 137 ]; then
  echo "error: nixfile: the nix build ran past its time limit of $NIXFILE_NIX_TIMEOUT s (build arg NIXFILE_NIX_TIMEOUT) and was stopped" | tee -a "$out/nix.log" >&2
  exit 1
fi
# A foreign system's build that failed: which derivations of that system
# nix would have had to build here (nix's dry run lists what it would
# build), and the groups that need them, in "foreign".
if [ "$st" != 0 ] && [ -n "${NIXFILE_FOREIGN_SYSTEM:-}" ]; then
  foreign=
  # shellcheck disable=SC2086
  for d in $(nix-build "$here/build.nix" --no-out-link --dry-run $all 2>&1 >/dev/null | {
    building=
    while read -r l; do
      case "$l" in
      *"will be built"*) building=1 ;;
      *"will be"*) building= ;;
      /nix/store/*.drv) if [ -n "$building" ]; then echo "$l"; fi ;;
      esac
    done
  }); do
    if [ "$(nix-store --query --binding system "$d" 2>/dev/null)" = "$NIXFILE_FOREIGN_SYSTEM" ]; then foreign="$foreign $d"; fi
  done
  if [ -n "$foreign" ]; then
    for a in "$@"; do
      if [ "$a" = set ]; then continue; fi
      # shellcheck disable=SC2046
      needs=$(nix-store --query --requisites $(nix-instantiate "$here/build.nix" -A "groups.g$a" 2>/dev/null | while read -r d; do echo "${d%%!*}"; done) 2>/dev/null) || continue
      for d in $foreign; do
        case "$nl$needs$nl" in *"$nl$d$nl"*) echo "$a $d" ;; esac
      done
    done >"$out/foreign"
    if [ -s "$out/foreign" ]; then exit 1; fi
  fi
fi
if [ "$st" != 0 ]; then
  for a in "$@"; do
    echo "$a" >"$out/evaluating"
    if [ "$a" = set ]; then
      nix-instantiate --eval --argstr build "$here/build.nix" --expr '{ build }: builtins.seq (import build).pkgs true' >/dev/null 2>&1 || exit 1
    else
      drvs=$(nix-instantiate "$here/build.nix" -A "groups.g$a" 2>/dev/null) || exit 1
      for d in $drvs; do
        case "$d" in *.drv) echo "$a $d!out" ;; *) echo "$a $d" ;; esac
      done >>"$out/groups"
    fi
  done
  rm -f "$out/evaluating"
  exit 1
fi
if [ -z "$roots" ]; then
  # Nothing to copy: every list is empty, and the frontend reports the
  # empty closure at its lines.
  for f in roots closure bins bin-entries features layers; do : >"$out/$f"; done
  echo '[]' >"$out/path-info.json"
  mkdir -p "$closure/nix/store"
  exit 0
fi
# Each root once: two lines may name the same package.
roots=$(printf '%s\n' "$roots" | sort -u)
printf '%s\n' "$roots" >"$out/roots"
# nix's path-info and whether its builders can write the store (unless the
# store knows) are asked beside the listing below: each is a nix process,
# which takes 0.05-0.1 s to start.
# shellcheck disable=SC2086
{ nix path-info --json --recursive $roots >"$out/path-info.json" 2>"$out/.path-info.log" || echo '[]' >"$out/path-info.json"; } &
info_job=$!
builders_job=
if [ -n "$builders_cache" ] && [ -f "$builders_cache" ]; then
  read -r builders_write <"$builders_cache"
else
  { if builders_can_write_store; then echo yes; else echo no; fi; } >"$out/.builders-write" 2>/dev/null &
  builders_job=$!
fi
# The lists of store paths are split on purpose (set -f: no globbing).
# Lists are written in any order, and sorted by their readers: each sort
# here was a program to start.
# shellcheck disable=SC2086
logged nix-store --query --requisites $roots >"$out/closure"
for r in $roots; do
  if [ -d "$r/bin" ]; then echo "$r"; fi
done >"$out/bins"
for r in $roots; do
  if [ -d "$r/bin" ]; then
    set +f
    for f in "$r"/bin/* "$r"/bin/.[!.]*; do
      # A name with a newline or tab would break the list (and is no command).
      case "${f##*/}" in *"$nl"* | *"$tab"*) continue ;; esac
      if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\t%s\n' "$r" "${f##*/}"; fi
    done
    set -f
  fi
done >"$out/bin-entries"
cacert=
while read -r p; do
  if [ -f "$p/etc/ssl/certs/ca-bundle.crt" ]; then
    printf 'cacert\t%s\n' "$p/etc/ssl/certs/ca-bundle.crt"
    cacert=1
  fi
  if [ -d "$p/share/zoneinfo" ]; then printf 'zoneinfo\t%s\n' "$p/share/zoneinfo"; fi
  if [ -f "$p/etc/services" ]; then printf 'services\t%s\n' "$p/etc/services"; fi
  if [ -f "$p/etc/protocols" ]; then printf 'protocols\t%s\n' "$p/etc/protocols"; fi
done <"$out/closure" >"$out/features"
if [ -z "$cacert" ]; then
  for f in "${NIX_SSL_CERT_FILE:-}" "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-bundle.crt /etc/ssl/certs/ca-certificates.crt /nix/var/nix/profiles/default/etc/ssl/certs/ca-bundle.crt; do
    if [ -n "$f" ] && [ -f "$f" ]; then
      cp -L "$f" "$out/ca-bundle.crt"
      printf 'image-cacert\t%s\n' "$f" >>"$out/features"
      break
    fi
  done
fi
wait "$info_job"
if [ -s "$out/.path-info.log" ]; then tee -a "$out/nix.log" <"$out/.path-info.log" >&2; fi
if [ -n "$builders_job" ]; then
  wait "$builders_job"
  read -r builders_write <"$out/.builders-write"
  # Written whole, then renamed: concurrent first builds race here, each
  # in a PID namespace of its own (their $$ are the same), so the name is
  # mktemp's. The answer is only a cache: no build fails for want of it.
  if [ -n "$builders_cache" ] && mkdir -p "${builders_cache%/*}" 2>/dev/null &&
    tmp=$(mktemp "$builders_cache.XXXXXX" 2>/dev/null) && echo "$builders_write" >"$tmp"; then
    mv -f "$tmp" "$builders_cache" 2>/dev/null || rm -f "$tmp"
  fi
fi
# The store cache is shared by every build on the daemon with this nix
# image. Where nix's builders can write it, a derivation of one Nixfile
# could rewrite a path another ships: what leaves is then checked against
# the hashes nix recorded (1 s for 400 paths of 1 MiB, 10 s for 2,000
# small ones). They cannot where nix runs as root with build users:
# builders run as those users, and the store is root's. No build can turn
# build users off: the store cache is the image's, and its nix.conf sets
# them (NIXCONFIG may not).
if [ "$builders_write" = yes ]; then
  echo "nixfile: nix's builders can write the store: checking the closure against the hashes nix recorded" | tee -a "$out/nix.log" >&2
  # shellcheck disable=SC2046
  if ! logged nix-store --verify-path $(cat "$out/closure"); then
    echo "error: nixfile: a store path of the closure is not what nix built or fetched: the store cache was altered by another build" | tee -a "$out/nix.log" >&2
    exit 1
  fi
else
  echo "nixfile: nix builds as its build users, who cannot write the store" >&2
fi
# The closure leaves the store as an archive a layer (see storetar),
# written by the frontend's own binary, which groups the closure into
# layers and lists them in "layers": a layer's copy of an archive is
# checksummed by BuildKit as one file, not as every file of its paths.
# Without it (NIXFILE_ARCHIVER unset), the paths are copied as they are:
# they have no blanks, so one cp copies them all. The log says what either
# cost: a rebuild writes the whole closure out again.
if [ -n "${NIXFILE_ARCHIVER:-}" ]; then
  # Its errors (a full disk) go to nix.log, for the frontend's message; it
  # says what it wrote, and in how long.
  logged "$NIXFILE_ARCHIVER" archive-closure "$closure" "$out" "${NIXFILE_MAX_LAYERS:-0}"
else
  started=$(date +%s%N)
  : >"$out/layers"
  mkdir -p "$closure/nix/store"
  # shellcheck disable=SC2046
  logged cp -a $(cat "$out/closure") "$closure/nix/store/"
  echo "nixfile: copied the closure out of the store in $((($(date +%s%N) - started) / 1000000)) ms" >&2
fi
rm -f "$out/.path-info.log" "$out/.builders-write" "$out/.logged-status"

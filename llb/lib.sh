# shellcheck shell=sh
# lib.sh: what the nix stage's scripts share, sourced by build.sh and
# meta.sh. Its inputs are the step's environment:
#   NIXFILE_OUT         the directory of the files the frontend reads back
#   NIXFILE_SECRETS     where the build secrets (netrc, nix-access-tokens,
#                       ssh_known_hosts) are
#   NIXFILE_NIX_CONFIG  the user's nix settings, if any
#   NIXFILE_FOREIGN_SYSTEM  the nix system built for, when nix runs as another
#
# The scripts run with the nix image's own shell and PATH, and use only
# what the official image has besides nix: bash, coreutils, grep, findutils
# (no sed, no awk). nix-build builds the chosen output of each derivation
# and prints its path; nix-instantiate prints drv!output for it (a bare drv
# for "out"); both work alike in nix 2.8 and in current nix.
#
# Globbing is off (set -f): store path names may hold "?", and the lists of
# store paths are expanded unquoted to be split into arguments (store paths
# have no blanks).
set -euf

out=${NIXFILE_OUT:?NIXFILE_OUT is not set}
secrets=${NIXFILE_SECRETS:?NIXFILE_SECRETS is not set}

# nixfile's own settings, after the image's nix.conf (the official image's
# and a Debian one's differ), then the secrets', then the user's.
NIX_CONFIG="${NIX_CONFIG:-}
extra-experimental-features = nix-command flakes"
if [ -f "$secrets/netrc" ]; then
  NIX_CONFIG="$NIX_CONFIG
netrc-file = $secrets/netrc"
fi
if [ -f "$secrets/nix-access-tokens" ]; then
  NIX_CONFIG="$NIX_CONFIG
access-tokens = $(cat "$secrets/nix-access-tokens")"
fi
# A foreign system's build (NIXFILE_FOREIGN_SYSTEM): builtins.currentSystem
# is that system, as the system argument is, where nix has eval-system (2.19
# and later); nix itself stays what it is, so it builds none of that
# system's derivations.
if [ -n "${NIXFILE_FOREIGN_SYSTEM:-}" ]; then
  if [ "$(nix-instantiate --eval --expr 'builtins.compareVersions builtins.nixVersion "2.19"' 2>/dev/null)" != -1 ]; then
    NIX_CONFIG="$NIX_CONFIG
eval-system = $NIXFILE_FOREIGN_SYSTEM"
  fi
fi
NIX_CONFIG="$NIX_CONFIG
${NIXFILE_NIX_CONFIG:-}"
export NIX_CONFIG

# Fetches over ssh (git+ssh flake inputs, fetchGit of an ssh URL): nix runs
# git, which runs ssh, with this environment: SSH_AUTH_SOCK, the client's
# agent when it forwards one (--ssh default; BuildKit sets it), and the
# host keys of the ssh_known_hosts secret as the user's known hosts (the
# image's own still count; an unknown host fails, as ssh does without a
# terminal).
if [ -f "$secrets/ssh_known_hosts" ]; then
  export GIT_SSH_COMMAND="ssh -o UserKnownHostsFile=$secrets/ssh_known_hosts"
fi

# logged runs a command with its stderr both in the build log, as it comes,
# and in nix.log, so that when a step fails the frontend can put nix's own
# message in the error. Its stdout stays the caller's (fd 3 carries it past
# the pipe to tee). A pipe, not a fifo: every program the scripts start
# costs a few milliseconds in the step's container, and a fifo needed three
# more (rm, mkfifo, rm). The command's status comes back through a file:
# a pipeline's is tee's.
logged() {
  {
    {
      if "$@" 2>&1 1>&3 3>&-; then logged_st=0; else logged_st=$?; fi
      echo "$logged_st" >"$out/.logged-status"
    } | tee -a "$out/nix.log" >&2 3>&-
  } 3>&1
  read -r logged_st <"$out/.logged-status"
  return "$logged_st"
}

# shellcheck shell=sh
# links.sh TARGET PATH...: makes, under /out, a symlink for each TARGET PATH
# pair of its arguments. It uses only sh, mkdir, dirname and ln, which
# every nix image has.
set -eu
while [ $# -ge 2 ]; do
  mkdir -p "/out$(dirname "$2")"
  ln -s "$1" "/out$2"
  shift 2
done

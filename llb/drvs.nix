# The requested outputs' derivations of a generated build.nix, as a list
# that nix-instantiate instantiates and prints, one .drv path a line. Run as
#   nix-instantiate drvs.nix --argstr build /path/to/build.nix
{ build }:
let b = import build; in
builtins.concatLists (map (g: b.groups.${g}) (builtins.attrNames b.groups))

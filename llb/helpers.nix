# helpers.nix: what the generated build.nix (beside it) builds with. It
# walks attribute paths with errors that say where (the Nixfile line, as
# "where"), and picks the outputs a user installs: the named one (pkg.dev),
# else the package's meta.outputsToInstall without documentation, else its
# default output. build.nix imports it as
#   import ./helpers.nix { inherit system pkgs; }
# with the nix system to build for and the package set.
{ system, pkgs }:
let
  lower = builtins.replaceStrings
    [ "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O" "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" ]
    [ "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o" "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" ];
  isDrv = v: builtins.isAttrs v && (v.type or null) == "derivation";
  showPath = p: builtins.concatStringsSep "." p;
  # Names in set close to name: same first letters, case aside.
  similar = set: name:
    let
      n = lower name;
      len = builtins.stringLength n;
      pre = builtins.substring 0 (if len < 3 then len else 3) n;
      near = builtins.filter (c: builtins.substring 0 (builtins.stringLength pre) (lower c) == pre) (builtins.attrNames set);
      few = if builtins.length near > 5 then builtins.genList (builtins.elemAt near) 5 else near;
    in if few == [ ] then "" else " (did you mean " + builtins.concatStringsSep ", " few + "?)";
  # callSet imports a package set that is a nixpkgs-like function, or a set.
  callSet = src: let v = import src; in
    if builtins.isFunction v then v (builtins.intersectAttrs (builtins.functionArgs v) { inherit system; }) else v;
  walk = where: what: set: path:
    let
      go = v: done: rest:
        if rest == [ ] then { value = v; outputSpecified = false; }
        else
          let n = builtins.head rest; here = done ++ [ n ]; in
          if isDrv v && builtins.elem n (v.outputs or [ ]) && builtins.tail rest == [ ]
          then { value = v.${n}; outputSpecified = true; }
          else if builtins.isAttrs v && v ? ${n} then go v.${n} here (builtins.tail rest)
          else if builtins.isAttrs v
          then throw "nixfile: ${where}: attribute '${showPath here}' not found in ${what}${similar v n}"
          else throw "nixfile: ${where}: '${showPath done}' in ${what} is a ${builtins.typeOf v}, not a set of attributes";
    in go set [ ] path;
  outputsOf = where: name: r:
    let v = r.value; in
    if isDrv v then
      (if r.outputSpecified then [ v ] else
        let
          wanted = builtins.filter (o: o != "man" && o != "doc" && o != "info" && o != "devdoc")
            ((v.meta or { }).outputsToInstall or [ (v.outputName or "out") ]);
        in map (o: v.${o}) (if wanted == [ ] then [ (v.outputName or "out") ] else wanted))
    else if builtins.isList v then
      builtins.concatMap (x: outputsOf where name { value = x; outputSpecified = false; }) v
    else if builtins.isAttrs v then
      throw "nixfile: ${where}: '${name}' is a set of ${toString (builtins.length (builtins.attrNames v))} attributes, not a package; name one of them, e.g. ${name}.${builtins.head (builtins.attrNames v ++ [ "NAME" ])}"
    else throw "nixfile: ${where}: '${name}' is a ${builtins.typeOf v}, not a package (a derivation)";
  outputsAt = where: what: set: path:
    outputsOf where (showPath path) (walk where what set path);
  fileOutputs = where: file: path:
    let
      v = import file;
      args = builtins.intersectAttrs (builtins.functionArgs v) (pkgs // { inherit pkgs system; });
      value = if builtins.isFunction v then v args else v;
    in if path == [ ] then outputsOf where (toString file) { inherit value; outputSpecified = false; }
       else outputsAt where (toString file) value path;
  flakeOutputs = where: ref: path:
    let
      f = builtins.getFlake ref;
      tries = if path == [ ] then [ [ "packages" system "default" ] [ "defaultPackage" system ] ]
        else [ ([ "packages" system ] ++ path) ([ "legacyPackages" system ] ++ path) path ];
      has = p: builtins.foldl' (acc: n: if acc != null && builtins.isAttrs acc && acc ? ${n} then acc.${n} else null) f p != null;
      found = builtins.filter has tries;
      what = "the flake ${ref}";
    in if found == [ ] then
      (if path == [ ] then throw "nixfile: ${where}: ${what} has no packages.${system}.default"
       else outputsAt where what (f.packages.${system} or f.legacyPackages.${system} or f) path)
    else outputsAt where what f (builtins.head found);
in
{
  inherit callSet outputsAt fileOutputs flakeOutputs;
}

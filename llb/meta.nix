# Generated build.nix's requested outputs, described for the SBOM: for each
# output the build step realised, its store path and what the package set
# says of it. Run as
#   nix-instantiate --eval --strict --json --read-write-mode meta.nix --arg build ./build.nix
# Every field but the path is optional: a field the package set lacks, or
# that fails to evaluate, is null rather than failing the build.
{ build }:
let
  b = import build;
  try = v: let r = builtins.tryEval (builtins.deepSeq v v); in if r.success then r.value else null;
  str = v: if builtins.isString v then v else null;
  strs = v: builtins.filter builtins.isString (if builtins.isList v then v else [ v ]);
  # nixpkgs' meta.license: an attrset of lib.licenses, a list of them, or
  # a bare string (an SPDX id or a free-form name).
  license = l:
    if builtins.isString l then { spdxId = null; name = l; }
    else if builtins.isAttrs l then {
      spdxId = str (try (l.spdxId or null));
      name = str (try (l.fullName or l.shortName or null));
    } else null;
  licenses = v: builtins.filter (l: l != null) (map license (if builtins.isList v then v else [ v ]));
  describe = group: d:
    let m = let r = builtins.tryEval (d.meta or { }); in if r.success && builtins.isAttrs r.value then r.value else { }; in {
      inherit group;
      path = d.outPath;
      output = str (try (d.outputName or null));
      name = str (try (d.name or null));
      pname = str (try (d.pname or null));
      version = str (try (d.version or null));
      drvPath = str (try (d.drvPath or null));
      description = str (try (m.description or null));
      homepage = strs (try (m.homepage or [ ]));
      licenses = licenses (try (m.license or [ ]));
    };
in
builtins.concatLists (map (g: map (describe g) b.groups.${g}) (builtins.attrNames b.groups))

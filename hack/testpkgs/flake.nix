{
  description = "nixfile's test package set, shaped like nixpkgs";
  # No inputs: everything builds offline.
  outputs = { self }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
      pkgsFor = system: import ./default.nix { inherit system; };
      isDrv = v: builtins.isAttrs v && v ? type && v.type == "derivation";
    in {
      legacyPackages = forAll pkgsFor;
      packages = forAll (system:
        let pkgs = pkgsFor system;
        in builtins.listToAttrs (builtins.concatMap
          (n: if isDrv pkgs.${n} then [{ name = n; value = pkgs.${n}; }] else [ ])
          (builtins.attrNames pkgs)) // { default = pkgs.hello; });
    };
}

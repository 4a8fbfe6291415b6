{
  description = "flake-app: a flake with no inputs, built offline by nix alone";

  # No inputs: nothing to fetch. With nixpkgs as an input this would be
  #   packages.${system}.default = nixpkgs.legacyPackages.${system}.writeShellScriptBin ...
  outputs = { self }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);

      # The package: app/bin/flake-app (an executable script of this
      # directory, copied to the store as it is) exposed as bin/flake-app by
      # nix's built-in buildenv builder, the one nix-env makes profiles with.
      # No builder program, no stdenv: only nix itself runs.
      app = derivation {
        name = "flake-app-1.0";
        system = "builtin";
        builder = "builtin:buildenv";
        # active, priority, number of outputs, then the outputs' paths.
        derivations = [ "true" 5 1 ./app ];
        manifest = "/dev/null";
      };
    in {
      packages = forAll (system: {
        default = app;
        inherit app;
      });
    };
}

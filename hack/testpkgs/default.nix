# A small package set shaped like nixpkgs, for nixfile's tests. Offline, nix can
# only build self-contained derivations, so everything here is built by a static
# busybox from ./blobs (put there by `hack/testbed up`, never committed) with
# nix's sandbox off. Real nixpkgs goes through the same code path in the frontend.
{ system ? builtins.currentSystem, ... }:
let
  blobs = builtins.path { path = ./blobs; name = "testpkgs-blobs"; };

  # Like nixpkgs' lib.licenses: attrsets with an SPDX id.
  licenses = {
    gpl2Only = { spdxId = "GPL-2.0-only"; shortName = "gpl2Only"; fullName = "GNU General Public License v2.0 only"; free = true; };
    mit = { spdxId = "MIT"; shortName = "mit"; fullName = "MIT License"; free = true; };
    asl20 = { spdxId = "Apache-2.0"; shortName = "asl20"; fullName = "Apache License 2.0"; free = true; };
    publicDomain = { shortName = "publicDomain"; fullName = "Public Domain"; free = true; };
  };

  # As nixpkgs' stdenv.mkDerivation does with lib.extendDerivation: meta
  # (and passthru) stay out of the derivation's environment, and every
  # output carries them, so that hello.out.meta and libfoo.dev.meta work.
  withMeta = extra: drv:
    let
      outs = drv.outputs or [ "out" ];
      common = drv // builtins.listToAttrs (map (o: { name = o; value = output o; }) outs) // extra;
      output = o: common // { inherit (drv.${o}) type outputName outPath drvPath; };
    in common // { inherit (drv) outputName outPath drvPath; };

  # The bootstrap: busybox itself, built by the busybox binary in blobs (its
  # argv[0] must end in "busybox", hence the directory).
  busybox = withMeta {
    meta = {
      description = "Tiny versions of common UNIX utilities in a single small executable";
      homepage = "https://busybox.net/";
      license = licenses.gpl2Only;
    };
  } (derivation {
    inherit system;
    pname = "busybox";
    version = "1.35.0";
    name = "busybox-1.35.0";
    builder = "${blobs}/busybox";
    args = [ "sh" "-c" ''
      bb=${blobs}/busybox
      $bb mkdir -p $out/bin
      $bb cp $bb $out/bin/busybox
      $bb chmod 0555 $out/bin/busybox
      for a in $($bb --list); do
        [ "$a" = busybox ] || $bb ln -s busybox $out/bin/$a
      done
    '' ];
  });

  # A tiny stdenv: a derivation built by a shell script, busybox on PATH.
  # Like nixpkgs', it takes name, or pname and version; meta is not part of
  # the derivation.
  mkDerivation = { script, outputs ? [ "out" ], meta ? { }, ... }@attrs:
    let name = attrs.name or "${attrs.pname}-${attrs.version}"; in
    withMeta { inherit meta; } (derivation ((removeAttrs attrs [ "script" "meta" ]) // {
      inherit system name outputs;
      builder = "${busybox}/bin/sh";
      args = [ "-e" "-c" script ];
      PATH = "${busybox}/bin";
    }));

  writeScriptBin = name: text: writeScriptBinWith { inherit name; } text;
  writeScriptBinWith = { name, ... }@attrs: text: mkDerivation (attrs // {
    passAsFile = [ "text" ];
    inherit text;
    script = ''
      mkdir -p $out/bin
      cp "$textPath" $out/bin/${name}
      chmod 0555 $out/bin/${name}
    '';
  });

  self = {
    inherit busybox;

    # The CA bundle, laid out like nixpkgs' cacert.
    cacert = mkDerivation {
      name = "nss-cacert-3.0";
      script = ''
        mkdir -p $out/etc/ssl/certs
        cp ${blobs}/ca-bundle.crt $out/etc/ssl/certs/ca-bundle.crt
      '';
    };

    # A runtime dependency edge: the script's shebang refers to busybox.
    # Its store name has no version; meta is like nixpkgs' hello's.
    hello = writeScriptBinWith {
      name = "hello";
      meta = {
        description = "A program that produces a familiar, friendly greeting";
        homepage = [ "https://www.gnu.org/software/hello/manual/" "https://example.invalid/hello" ];
        license = licenses.mit;
      };
    } ''
      #!${busybox}/bin/sh
      echo "Hello, world!"
    '';

    # Depends on hello, which depends on busybox: a closure three deep.
    greeter = writeScriptBin "greeter" ''
      #!${busybox}/bin/sh
      echo "greeter says: $(${self.hello}/bin/hello)"
    '';

    # Two outputs: dev refers to out, out refers to nothing.
    libfoo = mkDerivation {
      pname = "libfoo";
      version = "1.2";
      outputs = [ "out" "dev" ];
      meta = {
        description = "A library with two outputs";
        license = [ licenses.mit licenses.asl20 ];
      };
      script = ''
        mkdir -p $out/lib $dev/include $dev/nix-support
        echo "libfoo 1.2" > $out/lib/libfoo.txt
        echo "#define FOO 1" > $dev/include/foo.h
        echo "$out" > $dev/nix-support/propagated-libs
      '';
    };

    # An output that is a single file, not a directory.
    motd = mkDerivation {
      name = "motd.txt";
      script = ''echo "welcome to nixfile" > $out'';
    };

    # An odd but valid store path name, and a file whose name has spaces.
    # Its pname and version say what its store name cannot: a free-form
    # license without an SPDX id.
    odd = mkDerivation {
      name = "odd+name_v1.0-x?=y";
      pname = "odd+name";
      version = "1.0-x";
      meta.license = licenses.publicDomain;
      script = ''
        mkdir -p "$out/share/with spaces"
        echo "spaces ok" > "$out/share/with spaces/a file.txt"
      '';
    };

    # A nested attribute path, like python3Packages.requests.
    tools = {
      greet = writeScriptBin "greet" ''
        #!${busybox}/bin/sh
        echo "greet: ''${1:-nobody}"
      '';
    };

    # Provides bin/hello too: a /bin link conflict with hello.
    althello = mkDerivation {
      name = "althello-2.0";
      script = ''
        mkdir -p $out/bin
        printf '#!${busybox}/bin/sh\necho "Hello from althello"\n' > $out/bin/hello
        chmod 0555 $out/bin/hello
      '';
    };

    # Shaped like nixpkgs' tzdata and iana-etc.
    tzdata = mkDerivation {
      pname = "tzdata";
      version = "2024a";
      meta = {
        description = "Database of current and historical time zones";
        homepage = "https://www.iana.org/time-zones";
        license = licenses.publicDomain;
      };
      script = ''
        mkdir -p $out/share/zoneinfo/Europe
        printf 'TZif2 fake UTC\n' > $out/share/zoneinfo/UTC
        printf 'TZif2 fake Paris\n' > $out/share/zoneinfo/Europe/Paris
      '';
    };
    iana-etc = mkDerivation {
      name = "iana-etc-20240318";
      script = ''
        mkdir -p $out/etc
        printf 'http\t\t80/tcp\t\twww\n' > $out/etc/services
        printf 'tcp\t6\tTCP\n' > $out/etc/protocols
      '';
    };

    # A deliberately slow build that leaves a marker of which build made it:
    # a test can tell whether a later build built it again.
    mkSlow = nonce: mkDerivation {
      name = "slow-${nonce}";
      script = ''
        sleep 2
        mkdir -p $out
        cat /proc/sys/kernel/random/uuid > $out/built-by
      '';
    };

    # Only the bed's binary caches have it: its build fails except where
    # hack/testbed builds those caches (/nixfile-cache-build exists; nix's
    # sandbox is off), so an image that has it got it by substitution.
    prebuilt = mkDerivation {
      name = "prebuilt-1.0";
      script = ''
        if [ ! -e /nixfile-cache-build ]; then
          echo "error: prebuilt-1.0 comes only from the binary cache (testpkgs)" >&2
          exit 3
        fi
        mkdir -p $out/bin
        printf '#!${busybox}/bin/sh\necho "prebuilt, substituted"\n' > $out/bin/prebuilt
        chmod 0555 $out/bin/prebuilt
      '';
    };

    # Fails to build with a known message.
    broken = mkDerivation {
      name = "broken-1.0";
      script = ''
        echo "building broken-1.0"
        echo "error: broken-1.0 is meant to fail (testpkgs)" >&2
        exit 3
      '';
    };
  };
in
self

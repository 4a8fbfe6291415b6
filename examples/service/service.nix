# A small service, called like nixpkgs' callPackage: the Nixfile's BUILD line
# passes the attributes this function declares from the package set (busybox)
# and system. It prints who and where it runs, then exits.
{ busybox, system }:
derivation {
  name = "service-1.0";
  inherit system;
  builder = "${busybox}/bin/sh";
  args = [ "-e" "-c" ''
    PATH=${busybox}/bin
    mkdir -p $out/bin
    cat > $out/bin/service <<'SCRIPT'
    #!${busybox}/bin/sh
    # The script refers to busybox by its store path: busybox is in the
    # image's closure though the Nixfile never names it.
    PATH=${busybox}/bin:$PATH
    echo "service $SERVICE_NAME: starting"
    echo "user: $(id -un) uid=$(id -u) gid=$(id -g)"
    echo "workdir: $(pwd)"
    env | grep '^SERVICE_' | sort
    echo "greeting: $(cat greeting.txt)"
    echo "service $SERVICE_NAME: done"
    SCRIPT
    chmod 0555 $out/bin/service
  '' ];
}

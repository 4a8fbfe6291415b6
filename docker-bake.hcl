# docker buildx bake: the frontend image, its binary, checks, and the
# examples built with the frontend from this same tree (no registry push:
# the examples' "nixfile" context is the frontend target).

variable "TAG" {
  default = "dev"
}

group "default" {
  targets = ["frontend"]
}

target "frontend" {
  dockerfile = "Dockerfile"
  target     = "frontend"
  tags       = ["nixfile/nixfile:${TAG}"]
  args       = { VERSION = TAG }
}

# The frontend for the platforms BuildKit daemons run on, Docker Desktop on
# Apple silicon (arm64) included: the image to publish. Go cross-compiles it
# on the build platform, so nothing runs under emulation. (Docker's own
# builder on the classic image store cannot make an index: "frontend" is
# the daemon's platform alone.)
#
# Its layer is zstd (BuildKit v0.10 and Docker Engine 23 and later pull
# it): every cold build unpacks the frontend before anything else starts,
# and BuildKit unpacks zstd in a third of gzip's time (0.1 s less per cold
# build here).
target "frontend-all" {
  inherits  = ["frontend"]
  platforms = ["linux/amd64", "linux/arm64"]
  output    = ["type=image,compression=zstd,compression-level=19,force-compression=true,oci-mediatypes=true"]
}

target "binaries" {
  dockerfile = "Dockerfile"
  target     = "binaries"
  output     = ["type=local,dest=bin"]
}

# The short test tier (no daemon needed); hack/test runs every tier.
target "test" {
  dockerfile = "Dockerfile"
  target     = "test"
  output     = ["type=cacheonly"]
}

target "validate" {
  dockerfile = "Dockerfile"
  target     = "validate"
  output     = ["type=cacheonly"]
}

group "examples" {
  targets = ["example"]
}

target "example" {
  name       = "example-${ex}"
  matrix     = { ex = ["hello", "shell", "webserver", "flake-app", "service"] }
  context    = "examples/${ex}"
  dockerfile = "Nixfile"
  contexts   = { nixfile = "target:frontend" }
  args       = { BUILDKIT_SYNTAX = "nixfile" }
  tags       = ["nixfile-examples/${ex}:${TAG}"]
}

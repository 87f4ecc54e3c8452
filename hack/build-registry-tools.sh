#!/usr/bin/env bash
# Builds the image-check test ground: the CNCF Distribution registry and crane,
# with `go install` at pinned versions into a cache keyed by each version, e.g.
# ~/.cache/paddock/bin/registry-v3.1.2/registry and
# ~/.cache/paddock/bin/crane-v0.22.1/crane. A second run does nothing.
# Kept apart from hack/build-tools.sh on purpose: that script's contents key
# the Kubernetes build cache, and a registry bump must not rebuild Kubernetes.
#
#   hack/build-registry-tools.sh          build what is missing
#   hack/build-registry-tools.sh --dirs   also print the two bin folders on stdout
#
# PADDOCK_REGISTRY_BIN / PADDOCK_CRANE_BIN name binaries you already have (no build).
# On a shared machine, one Go build at a time: PADDOCK_GO_BUILD_LOCK names a
# lock file that wraps each build in flock (the project's machines use
# /work/wt/go-build.lock).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

REGISTRY_VERSION=v3.1.2
CRANE_VERSION=v0.22.1
REGISTRY_DIR="$PADDOCK_CACHE/bin/registry-$REGISTRY_VERSION"
CRANE_DIR="$PADDOCK_CACHE/bin/crane-$CRANE_VERSION"

go_install() { # dir binary-name package@version
  local dir="$1" name="$2" pkg="$3"
  [[ -x "$dir/$name" ]] && return 0
  command -v go >/dev/null || die "go is not installed; install Go or set PADDOCK_${name^^}_BIN"
  mkdir -p "$dir"
  # Build into a private folder, then rename, so a half-built binary is never found.
  local tmp; tmp="$(mktemp -d "$dir/.build.XXXXXX")"
  trap 'rm -rf "$tmp"' RETURN
  local t0=$SECONDS
  log "building $name ($pkg, once) into $dir"
  GOBIN="$tmp" GOFLAGS="${GOFLAGS:--buildvcs=false} -trimpath" \
    nice -n 10 go install -ldflags="-s -w" "$pkg"
  mv "$tmp/$name" "$dir/$name"
  log "$name built in $((SECONDS - t0))s"
}

# Something to build and a lock to share: run again under the lock (so a build another
# process finished meanwhile is found, not repeated).
if [[ -n "${PADDOCK_GO_BUILD_LOCK:-}" && -z "${_PADDOCK_GO_LOCKED:-}" ]] &&
  { [[ -z "${PADDOCK_REGISTRY_BIN:-}" && ! -x "$REGISTRY_DIR/registry" ]] ||
    [[ -z "${PADDOCK_CRANE_BIN:-}" && ! -x "$CRANE_DIR/crane" ]]; }; then
  _PADDOCK_GO_LOCKED=1 exec flock "$PADDOCK_GO_BUILD_LOCK" "$0" "$@"
fi

if [[ -n "${PADDOCK_REGISTRY_BIN:-}" ]]; then
  REGISTRY_DIR="$(dirname "$PADDOCK_REGISTRY_BIN")"
else
  go_install "$REGISTRY_DIR" registry "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION"
fi
if [[ -n "${PADDOCK_CRANE_BIN:-}" ]]; then
  CRANE_DIR="$(dirname "$PADDOCK_CRANE_BIN")"
else
  go_install "$CRANE_DIR" crane "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
fi
if [[ "${1:-}" == "--dirs" ]]; then
  echo "$REGISTRY_DIR"
  echo "$CRANE_DIR"
fi

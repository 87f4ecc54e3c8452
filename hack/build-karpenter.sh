#!/usr/bin/env bash
# Builds Karpenter's kwok cloud provider (the `kwok/` main package of the
# sigs.k8s.io/karpenter module pinned in hack/karpenter/go.mod, unchanged) into a
# cache keyed by the pinned version and this build's inputs:
#   ~/.cache/paddock/bin/karpenter-kwok-<version>/
#     karpenter    the controller (real Karpenter: provisioning, disruption,
#                  consolidation; the kwok cloud provider creates plain Node objects)
#     crds/        Karpenter's CRDs (NodePool, NodeClaim, NodeOverlay, ...) and KWOKNodeClass
#     stamp        hash of go.mod, go.sum and this script: a change rebuilds
# A second run with the same inputs does nothing. Kept apart from
# hack/build-tools.sh on purpose: that script's contents key the Kubernetes
# build, and a Karpenter bump must not rebuild Kubernetes.
#
#   hack/build-karpenter.sh          build what is missing
#   hack/build-karpenter.sh --path   also print the cache folder on stdout
#
# PADDOCK_KARPENTER_BIN names a karpenter-kwok binary you already have; its CRDs
# are then still taken from the module cache. Needs go (it fetches the Go
# toolchain the module asks for through the proxy when the local one is older).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

MOD_DIR="$HACK_DIR/karpenter"
cd "$MOD_DIR"
command -v go >/dev/null || die "go is not installed; install Go or set PADDOCK_KARPENTER_BIN"

# Karpenter v1.15 asks for a newer Go than some machines carry: let the go
# command fetch exactly the toolchain go.mod names (never a silent upgrade).
required_go="go$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)"
export GOTOOLCHAIN="${GOTOOLCHAIN_KARPENTER:-$required_go+auto}"
export GOFLAGS="${GOFLAGS:--buildvcs=false} -trimpath -mod=mod"

version="$(go list -m -f '{{.Version}}' sigs.k8s.io/karpenter)"
cache="$PADDOCK_CACHE/bin/karpenter-kwok-$version"
stamp="$(cat go.mod go.sum "$HACK_DIR/build-karpenter.sh" | sha256sum | cut -c1-16)"
mkdir -p "$cache"

# One build at a time per cache folder; a second caller waits, then finds it built.
exec 9>"$cache/.lock"
flock 9

ready() {
  [[ -x "$cache/karpenter" && -s "$cache/crds/karpenter.sh_nodepools.yaml" ]] \
    && [[ "$(cat "$cache/stamp" 2>/dev/null)" == "$stamp" ]]
}

if ! ready; then
  rm -f "$cache/stamp"
  log "downloading sigs.k8s.io/karpenter $version"
  nice -n 10 go mod download sigs.k8s.io/karpenter
  src="$(go list -m -f '{{.Dir}}' sigs.k8s.io/karpenter)"
  rm -rf "$cache/crds" && mkdir -p "$cache/crds"
  cp "$src"/kwok/charts/crds/*.yaml "$src"/kwok/apis/crds/*.yaml "$cache/crds/"
  chmod u+w "$cache"/crds/*.yaml
  if [[ -n "${PADDOCK_KARPENTER_BIN:-}" ]]; then
    [[ -x "$PADDOCK_KARPENTER_BIN" ]] || die "PADDOCK_KARPENTER_BIN=$PADDOCK_KARPENTER_BIN is not executable"
    ln -sfn "$PADDOCK_KARPENTER_BIN" "$cache/karpenter"
  else
    t0=$SECONDS
    log "building Karpenter's kwok provider $version (once; a few minutes on two busy cores)"
    CGO_ENABLED=0 nice -n 10 go build -ldflags="-s -w" -o "$cache/karpenter.tmp" sigs.k8s.io/karpenter/kwok
    mv "$cache/karpenter.tmp" "$cache/karpenter"
    log "built karpenter in $((SECONDS - t0))s"
  fi
  echo "$stamp" > "$cache/stamp"
fi
log "karpenter ready in $cache"
if [[ "${1:-}" == "--path" ]]; then
  echo "$cache"
fi

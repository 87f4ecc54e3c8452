#!/usr/bin/env bash
# Builds the pinned control-plane binaries (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kwok, helm, kind) from the
# Go module in hack/tools into a cache keyed by that module's contents.
# A second run with the same pins does nothing. Set PADDOCK_BIN_DIR to a folder
# of release binaries to skip the build entirely.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

TOOLS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm kind)
declare -A PACKAGES=(
  [etcd]=./etcd
  [kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
  [kube-controller-manager]=k8s.io/kubernetes/cmd/kube-controller-manager
  [kube-scheduler]=k8s.io/kubernetes/cmd/kube-scheduler
  [kubectl]=k8s.io/kubernetes/cmd/kubectl
  [kwok]=sigs.k8s.io/kwok/cmd/kwok
  [helm]=helm.sh/helm/v3/cmd/helm
  [kind]=sigs.k8s.io/kind
)

bin_dir="$(tools_bin_dir)"
missing=()
for tool in "${TOOLS[@]}"; do
  [[ -x "$bin_dir/$tool" ]] || missing+=("$tool")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  log "tools ready in $bin_dir"
  exit 0
fi
if [[ -n "${PADDOCK_BIN_DIR:-}" ]]; then
  die "PADDOCK_BIN_DIR=$PADDOCK_BIN_DIR lacks: ${missing[*]} (unset it to build them from hack/tools)"
fi
command -v go >/dev/null || die "go is not installed; install Go >= 1.26 or set PADDOCK_BIN_DIR to release binaries"

mkdir -p "$bin_dir"
cd "$HACK_DIR/tools"
# Two cores: keep the linker from running several huge links at once.
export GOFLAGS="${GOFLAGS:--buildvcs=false} -trimpath"
for tool in "${missing[@]}"; do
  start=$SECONDS
  log "building $tool (${PACKAGES[$tool]})"
  CGO_ENABLED=0 go build -ldflags="-s -w" -o "$bin_dir/$tool.tmp" "${PACKAGES[$tool]}"
  mv "$bin_dir/$tool.tmp" "$bin_dir/$tool"
  log "built $tool in $((SECONDS - start))s"
done
log "tools ready in $bin_dir"

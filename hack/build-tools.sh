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

# Stamp versions as release builds do: an unstamped apiserver reports
# v0.0.0-master, which Helm's kubeVersion checks (and humans) cannot use.
k8s_version="$(go list -m -f '{{.Version}}' k8s.io/kubernetes)"
k8s_major="${k8s_version#v}"; k8s_major="${k8s_major%%.*}"
k8s_minor="${k8s_version#v*.}"; k8s_minor="${k8s_minor%%.*}"
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$k8s_major -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
helm_ldflags="-s -w"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  helm_ldflags+=" -X $pkg.k8sVersionMajor=$k8s_major -X $pkg.k8sVersionMinor=$k8s_minor"
done
helm_ldflags+=" -X helm.sh/helm/v3/internal/version.version=$(go list -m -f '{{.Version}}' helm.sh/helm/v3)"
declare -A LDFLAGS=(
  [kube-apiserver]="$k8s_ldflags" [kube-controller-manager]="$k8s_ldflags"
  [kube-scheduler]="$k8s_ldflags" [kubectl]="$k8s_ldflags" [helm]="$helm_ldflags"
)
# Two cores: keep the linker from running several huge links at once.
export GOFLAGS="${GOFLAGS:--buildvcs=false} -trimpath"
for tool in "${missing[@]}"; do
  start=$SECONDS
  log "building $tool (${PACKAGES[$tool]})"
  CGO_ENABLED=0 go build -ldflags="${LDFLAGS[$tool]:--s -w}" -o "$bin_dir/$tool.tmp" "${PACKAGES[$tool]}"
  mv "$bin_dir/$tool.tmp" "$bin_dir/$tool"
  log "built $tool in $((SECONDS - start))s"
done
log "tools ready in $bin_dir"

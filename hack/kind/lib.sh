# shellcheck shell=bash disable=SC2034
# Shared settings for the kind end-to-end scripts. Source it; do not run it.
# Everything that outlives one run lives under $PADDOCK_CACHE/kind (binaries,
# Debian root file systems, the private Docker Engine's data root with every
# built image), keyed by the versions it was built from.
# shellcheck source=../lib/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib/common.sh"

KIND_DIR="$HACK_DIR/kind"
KIND_CACHE="${PADDOCK_KIND_CACHE:-$PADDOCK_CACHE/kind}"
# The Debian release every locally built image starts from (debootstrap).
DEBIAN_SUITE="${PADDOCK_DEBIAN_SUITE:-bookworm}"
DEBIAN_MIRROR="${PADDOCK_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
KIND_CLUSTER_NAME="${PADDOCK_KIND_CLUSTER:-paddock-e2e}"
# Local images get a registry-looking prefix no registry answers to.
LOCAL_REPO="${PADDOCK_LOCAL_REPO:-paddock.local}"

# Versions, read from the pins in hack/tools (never written down twice).
_mod_version() { # module path -> version pinned in hack/tools/go.mod
  awk -v m="$1" '$1 == m {print $2; exit}' "$HACK_DIR/tools/go.mod"
}
K8S_VERSION="$(_mod_version k8s.io/kubernetes)"
KIND_VERSION="$(_mod_version sigs.k8s.io/kind)"
KWOK_VERSION="$(_mod_version sigs.k8s.io/kwok)"
# Debian bookworm's containerd in the node image (1.6.20~ds1): the arm64 worker
# runs the same release, built for arm64 (hack/kind/build-bins.sh containerd).
# It carries one patch (hack/kind/containerd-emulated.patch, see there); the
# binary's cached name holds both, so a change to either builds it again.
CONTAINERD_VERSION="${PADDOCK_CONTAINERD_VERSION:-v1.6.20}"
containerd_bin_name() {
  echo "containerd-$CONTAINERD_VERSION-$(sha256sum < "$KIND_DIR/containerd-emulated.patch" | cut -c1-8)"
}
_mod_dir() { (cd "$HACK_DIR/tools" && go list -m -f '{{.Dir}}' "$1"); }

# The host architecture in Go's spelling.
host_arch() {
  case "$(uname -m)" in
    x86_64) echo amd64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) uname -m ;;
  esac
}

# A short hash of the files that shape an image: changing any of them (or a
# pinned version) builds a new image; otherwise the cached one is reused.
content_key() { # files...
  { echo "$K8S_VERSION $KIND_VERSION $KWOK_VERSION $DEBIAN_SUITE"; cat "$@"; } | sha256sum | cut -c1-12
}

# Where the Go-built binaries for one architecture are cached: keyed by the
# pins of hack/tools (go.mod, go.sum, the etcd wrapper), like tools_key, but not
# by hack/build-tools.sh, which these builds do not use.
kind_bin_dir() { # arch
  local key
  key="$(cat "$HACK_DIR/tools/go.mod" "$HACK_DIR/tools/go.sum" "$HACK_DIR/tools/etcd/main.go" \
    | sha256sum | cut -c1-16)"
  echo "$KIND_CACHE/bin/$K8S_VERSION-$key/linux-$1"
}

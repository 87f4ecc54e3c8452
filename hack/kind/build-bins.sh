#!/usr/bin/env bash
# Builds the binaries the locally made kind images hold, for one architecture,
# into $PADDOCK_CACHE/kind/bin/<k8s version>-<pins key>/linux-<arch>/.
# A binary already there is not built again.
#
#   hack/kind/build-bins.sh [amd64|arm64] [name...]
#
# - Kubernetes (kubelet, kubeadm, kubectl, kube-apiserver, kube-controller-manager,
#   kube-scheduler, kube-proxy): from k8s.io/kubernetes at the version hack/tools
#   pins, built inside that module, with the version stamped as the release
#   build does (kubeadm and the kubelet check it; an unstamped build says v0.0.0).
# - etcd and kwok: the same packages hack/build-tools.sh builds.
# - coredns and crictl: from their Go modules (github.com/coredns/coredns at the
#   version kubeadm deploys, sigs.k8s.io/cri-tools), in a generated module under
#   the cache, since neither is a dependency of hack/tools.
# - pause: kubernetes' own build/pause/linux/pause.c from the same module, as a
#   static C binary (arm64 needs Debian's gcc-aarch64-linux-gnu).
# - kindnet-lite: hack/kind/kindnet (see its main.go for why not kindnetd).
# - containerd (only asked for by the arm64 worker): cmd/containerd of
#   github.com/containerd/containerd at the version Debian ships in the node
#   image (CONTAINERD_VERSION in lib.sh), built inside a copy of that module so
#   its own go.mod (replace directives included) and go.sum hold, with
#   hack/kind/containerd-emulated.patch applied (under qemu-user seccomp looks
#   unsupported: RuntimeDefault runs unconfined instead of failing every pod
#   sandbox); CGO off (no btrfs snapshotter, which kind does not use). Cached
#   as containerd-<version>-<patch hash>.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ARCH="${1:-$(host_arch)}"
shift || true
COREDNS_VERSION="${PADDOCK_COREDNS_VERSION:-v1.14.6}"
CRICTL_VERSION="${PADDOCK_CRICTL_VERSION:-v1.37.0}"
ALL=(kubelet kubeadm kubectl kube-proxy kube-apiserver kube-controller-manager kube-scheduler
  etcd kwok coredns crictl pause kindnet-lite)
# What an arm64 worker needs (the control plane stays amd64).
WORKER=(kubelet kubeadm kubectl kube-proxy crictl pause kindnet-lite)
if [[ $# -gt 0 ]]; then
  targets=("$@")
elif [[ "$ARCH" == "$(host_arch)" ]]; then
  targets=("${ALL[@]}")
else
  targets=("${WORKER[@]}")
fi

out="$(kind_bin_dir "$ARCH")"
mkdir -p "$out"
export GOOS=linux GOARCH="$ARCH" CGO_ENABLED=0
# The same flags as hack/build-tools.sh, so Go's build cache is shared with it.
export GOFLAGS="${GOFLAGS:--buildvcs=false} -trimpath"

stamp="k8s.io/component-base/version"
client="k8s.io/client-go/pkg/version"
major="${K8S_VERSION#v}"; major="${major%%.*}"
minor="${K8S_VERSION#v*.}"; minor="${minor%%.*}"
k8s_ldflags="-s -w"
for pkg in "$stamp" "$client"; do
  k8s_ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

gen_module() { # dir package@version -> a module that requires it, ready to build
  local dir="$KIND_CACHE/src/$1" want="$2"
  if [[ "$(cat "$dir/.paddock-want" 2>/dev/null)" != "$want" ]]; then
    rm -rf "$dir"; mkdir -p "$dir"
    (cd "$dir" && GOOS='' GOARCH='' go mod init "paddock.local/$1" >/dev/null 2>&1 \
      && GOOS='' GOARCH='' GOFLAGS=-mod=mod go get "$want" >/dev/null 2>&1) \
      || die "go get $want failed (in $dir)"
    echo "$want" > "$dir/.paddock-want"
  fi
  echo "$dir"
}

# kubeadm imports two modules hack/tools/go.mod does not list
# (github.com/coredns/corefile-migration, k8s.io/system-validators), and that
# go.mod is not ours to change: Kubernetes commands build in a copy of it under
# the cache, where `-mod=mod` adds what is missing at the versions
# k8s.io/kubernetes itself requires. Every other pin stays as hack/tools has it.
k8s_module() {
  local dir
  dir="$KIND_CACHE/src/k8s-$(basename "$(dirname "$out")")"
  if [[ ! -f "$dir/tools.go" ]]; then
    mkdir -p "$dir"
    cp "$HACK_DIR/tools/go.mod" "$HACK_DIR/tools/go.sum" "$dir/"
    cp "$HACK_DIR/tools/tools.go" "$dir/tools.go"
  fi
  echo "$dir"
}

# A copy of one module's source (module@version) under the cache, writable, to
# build inside it with its own go.mod and go.sum; a patch file, if given, applied.
module_copy() { # dir module@version [patch]
  local dir="$KIND_CACHE/src/$1" src
  if [[ ! -f "$dir/go.mod" ]]; then
    src="$(GOOS='' GOARCH='' GOFLAGS=-mod=mod go mod download -json "$2" | jq -r .Dir)"
    [[ -d "$src" ]] || die "go mod download $2 failed"
    rm -rf "$dir" "$dir.tmp"; mkdir -p "$(dirname "$dir")"
    cp -r "$src" "$dir.tmp" && chmod -R u+w "$dir.tmp"
    if [[ -n "${3:-}" ]]; then
      patch -d "$dir.tmp" -p1 --quiet < "$3" >&2 || die "$3 does not apply to $2"
    fi
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

build_one() {
  local name="$1" dst="$out/$1"
  [[ "$name" == containerd ]] && dst="$out/$(containerd_bin_name)"
  [[ -x "$dst" ]] && return 0
  local start=$SECONDS
  log "building $name for linux/$ARCH"
  case "$name" in
    kubelet | kubeadm | kubectl | kube-proxy | kube-apiserver | kube-controller-manager | kube-scheduler)
      (cd "$(k8s_module)" && GOFLAGS="$GOFLAGS -mod=mod" \
        go build -ldflags="$k8s_ldflags" -o "$dst.tmp" "k8s.io/kubernetes/cmd/$name") ;;
    etcd)
      (cd "$HACK_DIR/tools" && go build -ldflags="-s -w" -o "$dst.tmp" ./etcd) ;;
    kwok)
      (cd "$HACK_DIR/tools" && go build -ldflags="-s -w" -o "$dst.tmp" sigs.k8s.io/kwok/cmd/kwok) ;;
    coredns)
      (cd "$(gen_module coredns "github.com/coredns/coredns@$COREDNS_VERSION")" \
        && go build -ldflags="-s -w" -o "$dst.tmp" github.com/coredns/coredns) ;;
    crictl)
      (cd "$(gen_module cri-tools "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION")" \
        && go build -ldflags="-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
             -o "$dst.tmp" sigs.k8s.io/cri-tools/cmd/crictl) ;;
    containerd)
      (cd "$(module_copy "$(containerd_bin_name)" "github.com/containerd/containerd@$CONTAINERD_VERSION" \
               "$KIND_DIR/containerd-emulated.patch")" \
        && GOFLAGS="$GOFLAGS -mod=mod" go build -tags "no_btrfs" \
             -ldflags="-s -w -X github.com/containerd/containerd/version.Version=${CONTAINERD_VERSION#v} -X github.com/containerd/containerd/version.Revision=paddock" \
             -o "$dst.tmp" ./cmd/containerd) ;;
    kindnet-lite)
      (cd "$KIND_DIR/kindnet" && GOFLAGS=-trimpath go build -ldflags="-s -w" -o "$dst.tmp" .) ;;
    pause)
      local cc=gcc src
      src="$(_mod_dir k8s.io/kubernetes)/build/pause/linux/pause.c"
      if [[ "$ARCH" != "$(host_arch)" ]]; then
        cc="$([[ "$ARCH" == arm64 ]] && echo aarch64-linux-gnu-gcc || echo x86_64-linux-gnu-gcc)"
        command -v "$cc" >/dev/null || die "$cc is missing: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
      fi
      "$cc" -Os -Wall -Werror -static -DVERSION=v3.10.2-paddock -o "$dst.tmp" "$src" ;;
    *) die "unknown binary: $name" ;;
  esac
  mv "$dst.tmp" "$dst"
  log "built $name in $((SECONDS - start))s"
}

for t in "${targets[@]}"; do build_one "$t"; done
log "binaries for linux/$ARCH in $out"

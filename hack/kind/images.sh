#!/usr/bin/env bash
# Builds every image the kind e2e needs, locally, from Debian packages and Go
# modules (no registry is involved), into the Docker Engine DOCKER_HOST names.
#
#   hack/kind/images.sh [amd64|arm64] [all|agent]
#
# For the host architecture: the Debian root (debootstrap), a kind base image,
# the control-plane images (kube-apiserver, kube-controller-manager,
# kube-scheduler, kube-proxy, etcd, pause, CoreDNS, kindnet-lite) tagged with the
# names kubeadm and kind expect, a kind node image with those images loaded into
# its containerd, kwok, the tiny agent image and a Python base for the operator.
# For a foreign architecture (arm64, the emulated-worker experiment): the node
# image of a worker only (kube-proxy, pause and kindnet-lite inside) and the
# agent image. `agent` builds only the Debian root and the agent image.
#
# Every image carries the label dev.paddock.key, a hash of what it is built
# from; an image whose key matches is reused, so a second run builds nothing.
# The names of the results go to $PADDOCK_CACHE/kind/images-<arch>.env.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ARCH="${1:-$(host_arch)}"
WHAT="${2:-all}"
HOST_ARCH="$(host_arch)"
IMAGES_DIR="$KIND_DIR/images"
LOGS="$KIND_CACHE/logs"
mkdir -p "$LOGS" "$KIND_CACHE/ctx"
export DOCKER_BUILDKIT=0
ETCD_TAG="$(awk -F'"' '/DefaultEtcdVersion = /{print $2; exit}' \
  "$(_mod_dir k8s.io/kubernetes)/cmd/kubeadm/app/constants/constants.go")"
PAUSE_TAG="$(awk -F'"' '/PauseVersion = /{print $2; exit}' \
  "$(_mod_dir k8s.io/kubernetes)/cmd/kubeadm/app/constants/constants.go")"
COREDNS_TAG="$(awk -F'"' '/CoreDNSVersion = /{print $2; exit}' \
  "$(_mod_dir k8s.io/kubernetes)/cmd/kubeadm/app/constants/constants.go")"
KIND_FILES="$(_mod_dir sigs.k8s.io/kind)/images/base/files"
# containerd's sandbox image in kind's config.toml (kind's node build loads it).
SANDBOX_IMAGE="$(awk -F'"' '/sandbox_image/{print $2; exit}' "$KIND_FILES/etc/containerd/config.toml")"

key_of() { # strings... : a key over the pinned versions, the strings, and the content of any that are files
  local x
  {
    echo "$K8S_VERSION $KIND_VERSION $KWOK_VERSION $DEBIAN_SUITE $ARCH"
    for x in "$@"; do
      if [[ -f "$x" ]]; then cat "$x"; else echo "$x"; fi
    done
  } | sha256sum | cut -c1-12
}

have() { # image key
  [[ "$(docker image inspect -f '{{index .Config.Labels "dev.paddock.key"}}' "$1" 2>/dev/null)" == "$2" ]]
}

build() { # image key dockerfile context [--build-arg ...]
  local image="$1" key="$2" dockerfile="$3" context="$4" start=$SECONDS
  shift 4
  local log_file
  log_file="$LOGS/build-$(echo "$image" | tr '/:' '__').log"
  log "building $image"
  if ! docker build --platform "linux/$ARCH" --label "dev.paddock.key=$key" -f "$dockerfile" \
      -t "$image" "$@" "$context" > "$log_file" 2>&1; then
    tail -n 30 "$log_file" >&2
    die "docker build of $image failed; its log: $log_file"
  fi
  log "built $image in $((SECONDS - start))s"
}

stage() { # name -> a fresh, empty build-context folder
  local dir="$KIND_CACHE/ctx/$ARCH/$1"
  rm -rf "$dir"; mkdir -p "$dir"
  echo "$dir"
}

# ------------------------------------------------------------------ inputs
t0=$SECONDS
DEBIAN_IMAGE="$("$KIND_DIR/debian-image.sh" "$ARCH")"
[[ "$WHAT" == agent ]] || "$KIND_DIR/build-bins.sh" "$ARCH"
BIN="$(kind_bin_dir "$ARCH")"
bin_id() { # binary names... -> their sizes and times (a cheap identity)
  local b
  for b in "$@"; do stat -c '%n %s %Y' "$BIN/$b"; done
}
prefix="$LOCAL_REPO"
[[ "$ARCH" != "$HOST_ARCH" ]] && prefix="$LOCAL_REPO/$ARCH"

busybox_image() { # image binary-or-empty
  local image="$1" binary="${2:-}" k ctx
  k="$(key_of "$IMAGES_DIR/busybox.Dockerfile" "$DEBIAN_IMAGE" \
    "$( [[ -n "$binary" ]] && bin_id "$binary")")"
  have "$image" "$k" && return 0
  ctx="$(stage "$(basename "${image%%:*}")")"
  mkdir -p "$ctx/bin"
  [[ -n "$binary" ]] && cp "$BIN/$binary" "$ctx/bin/"
  touch "$ctx/bin/.keep"
  build "$image" "$k" "$IMAGES_DIR/busybox.Dockerfile" "$ctx" --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE"
}
AGENT_IMAGE="$LOCAL_REPO/agent:1"
AGENT_LOCAL="$prefix/agent:1"
busybox_image "$AGENT_LOCAL"
if [[ "$WHAT" == agent ]]; then
  printf 'AGENT_IMAGE=%s\nAGENT_LOCAL=%s\n' "$AGENT_IMAGE" "$AGENT_LOCAL" > "$KIND_CACHE/agent-$ARCH.env"
  rm -rf "$KIND_CACHE/ctx/$ARCH"
  log "agent image for linux/$ARCH ready: $AGENT_LOCAL"
  exit 0
fi

# ------------------------------------------------------------------ static root
# (for the control-plane images, which only the host's architecture needs)
STATIC_IMAGE="$prefix/static:1"
k="$(key_of "$IMAGES_DIR/static.Dockerfile" "$DEBIAN_IMAGE")"
if [[ "$ARCH" == "$HOST_ARCH" ]] && ! have "$STATIC_IMAGE" "$k"; then
  build "$STATIC_IMAGE" "$k" "$IMAGES_DIR/static.Dockerfile" "$(stage static)" \
    --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE"
fi

# ------------------------------------------------------------------ component images
component() { # image dockerfile binary [base-arg]
  local image="$1" dockerfile="$2" binary="$3" k ctx
  k="$(key_of "$dockerfile" "$STATIC_IMAGE" "$DEBIAN_IMAGE" "$(bin_id "$binary")" \
    "$IMAGES_DIR/kube-proxy-wrapper")"
  have "$image" "$k" && return 0
  ctx="$(stage "$(basename "${image%%:*}")")"
  mkdir -p "$ctx/bin"
  cp "$BIN/$binary" "$ctx/bin/"
  cp "$IMAGES_DIR/kube-proxy-wrapper" "$ctx/"
  chmod 0755 "$ctx/kube-proxy-wrapper" "$ctx/bin/$binary"
  build "$image" "$k" "$dockerfile" "$ctx" \
    --build-arg "STATIC_IMAGE=$STATIC_IMAGE" --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE"
}

# What the node's containerd holds: image name in Docker -> name in the node.
declare -A NODE_IMAGES=()
if [[ "$ARCH" == "$HOST_ARCH" ]]; then
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    component "registry.k8s.io/$c:$K8S_VERSION" "$IMAGES_DIR/component.Dockerfile" "$c"
    NODE_IMAGES["registry.k8s.io/$c:$K8S_VERSION"]="registry.k8s.io/$c:$K8S_VERSION"
  done
  component "registry.k8s.io/etcd:$ETCD_TAG" "$IMAGES_DIR/component.Dockerfile" etcd
  NODE_IMAGES["registry.k8s.io/etcd:$ETCD_TAG"]="registry.k8s.io/etcd:$ETCD_TAG"
  component "registry.k8s.io/coredns/coredns:$COREDNS_TAG" "$IMAGES_DIR/coredns.Dockerfile" coredns
  NODE_IMAGES["registry.k8s.io/coredns/coredns:$COREDNS_TAG"]="registry.k8s.io/coredns/coredns:$COREDNS_TAG"
  KWOK_IMAGE="$LOCAL_REPO/kwok:$KWOK_VERSION"
  component "$KWOK_IMAGE" "$IMAGES_DIR/component.Dockerfile" kwok
fi
# On every node: kube-proxy, the sandbox (pause) and the CNI daemon.
KUBE_PROXY="$prefix/kube-proxy:$K8S_VERSION"
[[ "$ARCH" == "$HOST_ARCH" ]] && KUBE_PROXY="registry.k8s.io/kube-proxy:$K8S_VERSION"
component "$KUBE_PROXY" "$IMAGES_DIR/kube-proxy.Dockerfile" kube-proxy
NODE_IMAGES["$KUBE_PROXY"]="registry.k8s.io/kube-proxy:$K8S_VERSION"
PAUSE="$prefix/pause:$PAUSE_TAG"
[[ "$ARCH" == "$HOST_ARCH" ]] && PAUSE="registry.k8s.io/pause:$PAUSE_TAG"
component "$PAUSE" "$IMAGES_DIR/pause.Dockerfile" pause
NODE_IMAGES["$PAUSE"]="registry.k8s.io/pause:$PAUSE_TAG $SANDBOX_IMAGE"

KINDNET_IMAGE="$LOCAL_REPO/kindnet-lite:1"
KINDNET_LOCAL="$prefix/kindnet-lite:1"
busybox_image "$KINDNET_LOCAL" kindnet-lite
NODE_IMAGES["$KINDNET_LOCAL"]="$KINDNET_IMAGE"

# ------------------------------------------------------------------ kind base image
BASE_IMAGE="$prefix/kind-base:$KIND_VERSION"
k="$(key_of "$IMAGES_DIR/base.Dockerfile" "$KIND_DIR/runc-wrapper" "$DEBIAN_IMAGE" \
  "$(cd "$KIND_FILES" && find . -type f | sort | xargs sha256sum)")"
if ! have "$BASE_IMAGE" "$k"; then
  ctx="$(stage kind-base)"
  cp -r "$KIND_FILES" "$ctx/files"
  chmod -R u+w,go-w "$ctx/files"
  find "$ctx/files" -type f -exec chmod 0644 {} +
  cp "$KIND_DIR/runc-wrapper" "$ctx/"
  build "$BASE_IMAGE" "$k" "$IMAGES_DIR/base.Dockerfile" "$ctx" --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE"
fi

# ------------------------------------------------------------------ kind node image
node_ids=""
for img in "${!NODE_IMAGES[@]}"; do
  node_ids+="$img=${NODE_IMAGES[$img]}@$(docker image inspect -f '{{.Id}}' "$img") "
done
k="$(key_of "$IMAGES_DIR/node.Dockerfile" "$KIND_DIR/cni.yaml" "$BASE_IMAGE" \
  "$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")" "$(bin_id kubelet kubeadm kubectl crictl)" \
  "$(echo "$node_ids" | tr ' ' '\n' | sort)" "$0")"
NODE_IMAGE="$prefix/kind-node:$K8S_VERSION-$k"
if ! have "$NODE_IMAGE" "$k"; then
  start=$SECONDS
  ctx="$(stage kind-node)"
  cp "$BIN/kubelet" "$BIN/kubeadm" "$BIN/kubectl" "$BIN/crictl" "$ctx/"
  chmod 0755 "$ctx/kubelet" "$ctx/kubeadm" "$ctx/kubectl" "$ctx/crictl"
  echo "$K8S_VERSION" > "$ctx/version"
  mkdir -p "$ctx/manifests"
  # kind templates this manifest ("would you kindly template/patch this file").
  sed "s|@KINDNET_IMAGE@|$KINDNET_IMAGE|" "$KIND_DIR/cni.yaml" > "$ctx/manifests/default-cni.yaml"
  build "$prefix/kind-node-stage:1" "$k" "$IMAGES_DIR/node.Dockerfile" "$ctx" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE"

  # Load the images into the node's containerd, as kind's `build node-image`
  # does: containerd in a plain container, `ctr images import --no-unpack`
  # (layers unpack when a pod first uses them), then commit.
  log "loading ${#NODE_IMAGES[@]} images into the node image's containerd"
  builder="paddock-kind-build-$$"
  docker rm -f "$builder" >/dev/null 2>&1 || true
  docker run -d --name "$builder" --platform "linux/$ARCH" --entrypoint sleep \
    --security-opt seccomp=unconfined "$prefix/kind-node-stage:1" infinity >/dev/null
  trap 'docker rm -f "$builder" >/dev/null 2>&1 || true' EXIT
  docker exec "$builder" bash -c 'nohup containerd > /tmp/containerd.log 2>&1 &'
  docker exec "$builder" bash -c 'for i in $(seq 1 120); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.5; done; cat /tmp/containerd.log; exit 1' \
    || die "containerd did not start in the node build container"
  docker save "${!NODE_IMAGES[@]}" \
    | docker exec -i "$builder" ctr --namespace=k8s.io images import --all-platforms --no-unpack --digests - >/dev/null
  for img in "${!NODE_IMAGES[@]}"; do
    for want in ${NODE_IMAGES[$img]}; do
      if [[ "$want" != "$img" ]]; then
        docker exec "$builder" ctr --namespace=k8s.io images tag --force "docker.io/$img" "$want" >/dev/null 2>&1 \
          || docker exec "$builder" ctr --namespace=k8s.io images tag --force "$img" "$want" >/dev/null
      fi
    done
  done
  # Pin them, as kind does, so the kubelet's image GC never removes them.
  docker exec "$builder" bash -c 'for i in $(ctr -n k8s.io images list -q); do ctr -n k8s.io images label "$i" io.cri-containerd.pinned=pinned >/dev/null; done'
  docker exec "$builder" ctr --namespace=k8s.io images list -q | grep -v '^sha256:' | sed 's/^/  /' >&2
  docker exec "$builder" bash -c 'pkill containerd; for i in $(seq 1 40); do pgrep containerd >/dev/null || break; sleep 0.5; done; rm -rf /tmp/* /run/containerd'
  docker commit \
    --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' \
    --change 'CMD []' \
    --change "LABEL dev.paddock.key=$k" \
    "$builder" "$NODE_IMAGE" >/dev/null
  docker rm -f "$builder" >/dev/null
  trap - EXIT
  docker rmi "$prefix/kind-node-stage:1" >/dev/null 2>&1 || true
  log "built $NODE_IMAGE in $((SECONDS - start))s"
  # Older node images are 1+ GB each: drop those no container uses.
  for old in $(docker images --format '{{.Repository}}:{{.Tag}}' "$prefix/kind-node"); do
    [[ "$old" == "$NODE_IMAGE" ]] || docker rmi "$old" >/dev/null 2>&1 || true
  done
  docker image prune -f >/dev/null 2>&1 || true
fi

# ------------------------------------------------------------------ Python base (host only)
if [[ "$ARCH" == "$HOST_ARCH" ]]; then
  extra_ca=(/usr/local/share/ca-certificates/*.crt)
  PYTHON_IMAGE="$LOCAL_REPO/python:3.11-bookworm"
  k="$(key_of "$IMAGES_DIR/python.Dockerfile" "$DEBIAN_IMAGE" \
    "$(cat "${extra_ca[@]}" 2>/dev/null | sha256sum)")"
  if ! have "$PYTHON_IMAGE" "$k"; then
    ctx="$(stage python)"
    mkdir -p "$ctx/extra-ca"
    if [[ -e "${extra_ca[0]}" ]]; then cp "${extra_ca[@]}" "$ctx/extra-ca/"; fi
    build "$PYTHON_IMAGE" "$k" "$IMAGES_DIR/python.Dockerfile" "$ctx" --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE"
  fi
fi

{
  echo "NODE_IMAGE=$NODE_IMAGE"
  echo "AGENT_IMAGE=$AGENT_IMAGE"
  echo "AGENT_LOCAL=$AGENT_LOCAL"
  echo "KINDNET_IMAGE=$KINDNET_IMAGE"
  if [[ "$ARCH" == "$HOST_ARCH" ]]; then
    echo "KWOK_IMAGE=$KWOK_IMAGE"
    echo "PYTHON_IMAGE=$PYTHON_IMAGE"
  fi
} > "$KIND_CACHE/images-$ARCH.env"
# The build contexts (copies of the binaries, ~1 GB) served their purpose.
rm -rf "$KIND_CACHE/ctx/$ARCH"
log "images for linux/$ARCH ready in $((SECONDS - t0))s ($KIND_CACHE/images-$ARCH.env)"

#!/usr/bin/env bash
# One arm64 kind worker on this x86 machine, under qemu user-mode emulation,
# joined to the running e2e cluster, so a real kubelet registers a true
# kubernetes.io/arch=arm64 node and Paddock can place a real arm64 agent
# container on it. hack/kind-e2e.sh runs `up` on every run (CI's included)
# unless PADDOCK_KIND_ARM64=0, and fails when it fails.
#
#   hack/kind/arm64-worker.sh up      build the arm64 images (cached), start and join the worker
#   hack/kind/arm64-worker.sh down    remove it (kind delete cluster also does)
#
# Two kinds of worker (PADDOCK_ARM64_MODE):
# - hybrid (default): the host's node image with the Go-built arm64 kubelet and
#   arm64 containerd (the node image's release, 1.6.20, built for arm64) in
#   place of the amd64 ones. Both run under qemu: the kubelet registers the node
#   with its own GOARCH (kubernetes.io/arch=arm64), and containerd's CRI picks
#   linux/arm64 from a multi-arch image it pulls (its platform is its GOARCH).
#   The runc shim and runc stay native (under qemu they cannot clone
#   namespaces), so do the CNI plugins; a container's arm64 binaries run
#   through binfmt_misc (qemu-aarch64). Under qemu-user, containerd sees no
#   seccomp (qemu refuses prctl(PR_GET_SECCOMP)) and would fail every pod
#   sandbox (the kubelet always asks RuntimeDefault for it): its one patch
#   (hack/kind/containerd-emulated.patch) runs RuntimeDefault unconfined.
# - full: a node image built entirely for arm64 (arm64 debootstrap, Debian's
#   arm64 containerd and runc, arm64 kubelet/kubeadm/kube-proxy/kindnet-lite).
#   It boots and joins, but no pod starts: see docs/development.md.
#
# kind creates all nodes of a cluster from one run and fails the whole cluster
# when one node fails to join, so this worker is added afterwards, the way kind
# adds a worker: a privileged container with kind's labels on the kind network,
# then `kubeadm join`. It is tainted kubernetes.io/arch=arm64:NoSchedule, as
# Graviton node groups often are, so only what tolerates that lands there.
# Progress and errors: $PADDOCK_CACHE/kind/logs/arm64-worker.log.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NODE="$KIND_CLUSTER_NAME-arm64"
MODE="${PADDOCK_ARM64_MODE:-hybrid}"
CONTROL_PLANE="$KIND_CLUSTER_NAME-control-plane"
LOG="$KIND_CACHE/logs/arm64-worker.log"
mkdir -p "$(dirname "$LOG")"

down() {
  docker rm -f -v "$NODE" >/dev/null 2>&1 || true
  if docker inspect "$CONTROL_PLANE" >/dev/null 2>&1; then
    docker exec "$CONTROL_PLANE" kubectl --kubeconfig=/etc/kubernetes/admin.conf \
      delete node "$NODE" --ignore-not-found >/dev/null 2>&1 || true
  fi
}

# The hybrid node image: the host's, with the arm64 kubelet and containerd, and
# containerd reading registry hosts from certs.d (as hack/kind/cluster.yaml sets
# for kind's own nodes), where hack/kind-e2e.sh writes the e2e registry's.
hybrid_dockerfile() {
  # shellcheck disable=SC2016
  cat <<'DOCKERFILE'
ARG NODE_IMAGE
FROM ${NODE_IMAGE}
# arm64 binaries: they run under qemu-aarch64 (binfmt_misc)
COPY kubelet /usr/bin/kubelet
COPY containerd /usr/bin/containerd
RUN ["/usr/bin/kubelet", "--version"]
RUN ["/usr/bin/containerd", "--version"]
RUN printf '\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"\n' >> /etc/containerd/config.toml
DOCKERFILE
}

wait_for() { # seconds description command...
  local seconds="$1" what="$2" deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { log "timed out after ${seconds}s waiting for $what"; return 1; }
    sleep 2
  done
}

up() {
  local t0=$SECONDS
  docker inspect "$CONTROL_PLANE" >/dev/null 2>&1 || die "no kind cluster $KIND_CLUSTER_NAME (hack/kind-e2e.sh up)"
  PADDOCK_KIND_ARM64=1 "$KIND_DIR/docker.sh" install
  local platform=linux/arm64 agent_for_node
  if [[ "$MODE" == full ]]; then
    "$KIND_DIR/images.sh" arm64 >&2
    # shellcheck disable=SC1090
    source "$KIND_CACHE/images-arm64.env"
    agent_for_node="$AGENT_LOCAL"
  else
    "$KIND_DIR/images.sh" arm64 agent >&2
    "$KIND_DIR/build-bins.sh" arm64 kubelet containerd >&2
    # shellcheck disable=SC1090
    source "$KIND_CACHE/images-$(host_arch).env"
    # shellcheck disable=SC1090
    source "$KIND_CACHE/agent-arm64.env"  # after: its AGENT_LOCAL is the arm64 one
    platform="linux/$(host_arch)"
    local host_node="$NODE_IMAGE" kubelet containerd k ctx
    kubelet="$(kind_bin_dir arm64)/kubelet"
    containerd="$(kind_bin_dir arm64)/$(containerd_bin_name)"
    k="$( { docker image inspect -f '{{.Id}}' "$host_node"; stat -c '%s %Y' "$kubelet" "$containerd"; hybrid_dockerfile; } | sha256sum | cut -c1-12)"
    NODE_IMAGE="$LOCAL_REPO/kind-node-arm64-kubelet:$K8S_VERSION-$k"
    if ! docker image inspect "$NODE_IMAGE" >/dev/null 2>&1; then
      ctx="$(mktemp -d "$KIND_CACHE/ctx/hybrid.XXXXXX")"
      cp "$kubelet" "$ctx/kubelet"
      cp "$containerd" "$ctx/containerd"
      hybrid_dockerfile > "$ctx/Dockerfile"
      DOCKER_BUILDKIT=0 docker build -q --build-arg "NODE_IMAGE=$host_node" -t "$NODE_IMAGE" "$ctx" >/dev/null
      rm -rf "$ctx"
      # Each one pins the layers of the host node image it was built on (1+ GB):
      # drop the older ones no container uses.
      local old
      for old in $(docker images --format '{{.Repository}}:{{.Tag}}' "$LOCAL_REPO/kind-node-arm64-kubelet"); do
        [[ "$old" == "$NODE_IMAGE" ]] || docker rmi "$old" >/dev/null 2>&1 || true
      done
    fi
    # The arm64 agent as built (its config says arm64, as the node's containerd is).
    agent_for_node="$AGENT_LOCAL"
    docker rmi "$AGENT_LOCAL-native-runtime" >/dev/null 2>&1 || true  # what this mode used before
  fi
  log "arm64 images ($MODE) ready in $((SECONDS - t0))s"

  down
  local t1=$SECONDS cp_ip
  cp_ip="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$CONTROL_PLANE")"
  # kind's own `docker run` flags for a node (pkg/cluster/internal/providers/docker),
  # plus a hosts entry for the control plane: under qemu-user, the node's
  # iptables-nft cannot talk nf_tables netlink, so kind's entrypoint picks legacy
  # mode, cannot carry Docker's DNS rules over to the gateway address it writes
  # into resolv.conf, and names do not resolve in the node.
  docker run --platform "$platform" --name "$NODE" --hostname "$NODE" \
    --add-host "$CONTROL_PLANE:$cp_ip" \
    --label io.x-k8s.kind.cluster="$KIND_CLUSTER_NAME" --label io.x-k8s.kind.role=worker \
    --privileged --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --tmpfs /tmp --tmpfs /run --volume /var --volume /lib/modules:/lib/modules:ro \
    --detach --tty --net kind --restart=on-failure:1 --init=false --cgroupns=private \
    "$NODE_IMAGE" >/dev/null
  wait_for 600 "systemd in $NODE" docker exec "$NODE" systemctl is-active containerd.service \
    || { docker logs "$NODE" 2>&1 | tail -n 20 >&2; return 1; }
  log "node container up (systemd, containerd) in $((SECONDS - t1))s"
  docker exec "$NODE" systemctl is-system-running >&2 || true
  docker exec "$NODE" systemctl --failed --no-legend --plain >&2 || true
  docker exec "$NODE" uname -m >&2

  local ip join token hash
  ip="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$NODE")"
  join="$(docker exec "$CONTROL_PLANE" kubeadm token create --ttl 30m --print-join-command)"
  token="$(sed -E 's/.*--token ([^ ]+).*/\1/' <<< "$join")"
  hash="$(sed -E 's/.*--discovery-token-ca-cert-hash ([^ ]+).*/\1/' <<< "$join")"
  docker exec -i "$NODE" cp /dev/stdin /kind/kubeadm.conf <<YAML
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
nodeRegistration:
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
  - name: node-ip
    value: "$ip"
  - name: provider-id
    value: "kind://docker/$KIND_CLUSTER_NAME/$NODE"
  - name: node-labels
    value: "paddock.dev/e2e-node=arm64-emulated"
  taints:
  - key: kubernetes.io/arch
    value: arm64
    effect: NoSchedule
discovery:
  bootstrapToken:
    apiServerEndpoint: "$CONTROL_PLANE:6443"
    token: "$token"
    caCertHashes: ["$hash"]
  timeout: 10m0s
YAML
  local t2=$SECONDS
  log "kubeadm join (emulated arm64; slow)"
  if ! docker exec "$NODE" kubeadm join --config /kind/kubeadm.conf --skip-phases=preflight --v=1 >> "$LOG" 2>&1; then
    tail -n 20 "$LOG" >&2
    docker exec "$NODE" journalctl -u kubelet --no-pager 2>&1 | tail -n 20 >&2 || true
    return 1
  fi
  log "joined in $((SECONDS - t2))s"

  # The arm64 agent image, under the name the tests use.
  docker save "$agent_for_node" | docker exec -i "$NODE" ctr -n k8s.io images import --all-platforms - >/dev/null
  docker exec "$NODE" ctr -n k8s.io images tag --force "$agent_for_node" "$AGENT_IMAGE" >/dev/null

  local kc=(docker exec "$CONTROL_PLANE" kubectl --kubeconfig=/etc/kubernetes/admin.conf)
  wait_for 900 "$NODE Ready" bash -c \
    "docker exec '$CONTROL_PLANE' kubectl --kubeconfig=/etc/kubernetes/admin.conf get node '$NODE' -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True" \
    || { "${kc[@]}" describe node "$NODE" | tail -n 30 >&2; "${kc[@]}" get pods -A -o wide --field-selector spec.nodeName="$NODE" >&2; return 1; }
  "${kc[@]}" get node "$NODE" -L kubernetes.io/arch -o wide >&2
  log "arm64 worker $NODE Ready in $((SECONDS - t1))s (images: $((t1 - t0))s)"
}

case "${1:-}" in
  up) up 2>&1 | tee -a "$LOG" >&2; exit "${PIPESTATUS[0]}" ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac

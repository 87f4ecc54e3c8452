#!/usr/bin/env bash
# The kind end-to-end suite: a kind cluster from locally built images, Paddock
# installed in it by Helm, and tests/e2e run against it.
#
#   hack/kind-e2e.sh            up, test, down (what CI runs)
#   hack/kind-e2e.sh up         Docker Engine, images, cluster, kwok; prints how to use it
#   hack/kind-e2e.sh test       pytest tests/e2e against the running cluster (extra args go to pytest)
#   hack/kind-e2e.sh down       delete the cluster and stop the private Docker Engine
#   hack/kind-e2e.sh status     say what runs
#   hack/kind-e2e.sh env        export lines: eval "$(hack/kind-e2e.sh env)"
#
# Skips are rare, said, and never silent. `hack/kind-e2e.sh` (and `up`) print
# "skipped: <reason>" and exit 0 only
# - where no Docker Engine can run: none answers, and this is not root, or
#   there is neither a dockerd nor apt-get to install one (hack/kind/docker.sh);
# - when asked: PADDOCK_SKIP_KIND=1, or PADDOCK_KIND_ONLY_WARM=1 with no cached
#   node image.
# Where an engine can run (root with apt, as on this project's machines and
# CI's), anything short of the whole suite passing exits non-zero: apt-get or
# dockerd failing, the arm64 worker not joining, a test failing, and a test
# skipping (tests/e2e/conftest.py turns a skip into a failure under this
# script). A test left out on purpose is deselected, and the script says so.
# Everything built is cached under $PADDOCK_CACHE/kind (see
# docs/development.md, "kind end to end").
#
# Settings: PADDOCK_SKIP_KIND=1 skips the whole suite (`all`);
# PADDOCK_KIND_ARM64=0 leaves out the emulated arm64 worker (joined by default)
# and deselects the one test that needs it; PADDOCK_KIND_KEEP=1 keeps the
# cluster (and engine) after `all`; PADDOCK_KIND_NODE_IMAGE uses another node
# image (e.g. a public kindest/node); PADDOCK_KIND_ONLY_WARM=1 skips (exit 0)
# unless the node image is already built, so a run never pays the cold build;
# PADDOCK_KIND_CLUSTER names the cluster (default paddock-e2e; .ci/run uses
# paddock-ci).
#
# Sharing the machine: every checkout uses the same private engine (socket in
# /run/paddock-docker, data root in the cache), so `all`, `up` and `down` take
# a lock ($PADDOCK_CACHE/kind-e2e.lock) and wait for one another. `all` stops
# the engine at the end when it started it or when no container is left on it,
# and deletes only its own cluster. The cluster's API server listens on 127.0.0.1:PADDOCK_PORT_BASE+643,
# a port of the block hack/cluster.sh takes its ports from but never uses, so
# it cannot collide with the local control plane of the same port base.
#
# The image registry of the image-check tests (issue #17): `up` starts the
# CNCF Distribution registry hack/build-registry-tools.sh builds, as a process
# of this host bound to the kind network's gateway address (plain HTTP, port
# PADDOCK_PORT_BASE+644, storage under .local/kind/registry), pushes the test
# images to it (a multi-arch index of the real amd64 and arm64 agent images,
# and the amd64 image alone), and points every node's containerd at it
# (certs.d/<host>/hosts.toml: plain HTTP). `down` stops it. The nodes pull
# from it, and the in-cluster operator checks the same images in it.
set -euo pipefail
source "$(dirname "$0")/kind/lib.sh"

STATE_DIR="$REPO_ROOT/.local/kind"
KCFG="$STATE_DIR/kubeconfig"
TIMINGS="$STATE_DIR/timings.txt"
PYTEST_LOG="$STATE_DIR/pytest.log"
SKIPPED="$STATE_DIR/left-out.txt"
OPERATOR_IMAGE="$LOCAL_REPO/paddock:e2e"
NAMESPACE="${PADDOCK_E2E_NAMESPACE:-paddock-system}"
API_PORT="${PADDOCK_KIND_API_PORT:-$((${PADDOCK_PORT_BASE:-36000} + 643))}"
KIND_LOCK="${PADDOCK_KIND_LOCK:-$PADDOCK_CACHE/kind-e2e.lock}"
LOCK_WAIT="${PADDOCK_KIND_LOCK_WAIT:-1800}"
ENGINE_WAS_UP=0
# The emulated arm64 worker joins unless PADDOCK_KIND_ARM64=0 (exported: hack/kind/docker.sh
# installs qemu-user-static for it).
export PADDOCK_KIND_ARM64="${PADDOCK_KIND_ARM64:-1}"
ARM64_TEST="tests/e2e/test_placement.py::test_real_arm64_agent_on_emulated_arm64_worker"
# The tests that need the arm64 worker (left out, and said, with PADDOCK_KIND_ARM64=0).
ARM64_TESTS=("$ARM64_TEST"
  "tests/e2e/test_images.py::test_multi_arch_image_runs_its_arm64_variant_on_the_arm64_worker")
REGISTRY_PORT="${PADDOCK_KIND_REGISTRY_PORT:-$((${PADDOCK_PORT_BASE:-36000} + 644))}"
REGISTRY_STATE="$STATE_DIR/registry"
REGISTRY_ENV="$STATE_DIR/registry.env"
# The pod network of hack/kind/cluster.yaml (its traffic to the registry is masqueraded).
POD_SUBNET="10.244.0.0/16"

phase_start=$SECONDS
timing() { # label: records the seconds since the previous call
  local now=$SECONDS
  printf '%-28s %5ss\n' "$1" "$((now - phase_start))" | tee -a "$TIMINGS" >&2
  phase_start=$now
}

skip() {
  echo "skipped: $*"
  exit 0
}

# One run at a time per cache (see the header). The lock is fd 9, held until
# this script exits; the engine is started with fd 9 closed so that it does
# not keep holding it.
take_lock() {
  if ! { mkdir -p "$(dirname "$KIND_LOCK")" && touch "$KIND_LOCK"; } 2>/dev/null; then
    log "cannot write $KIND_LOCK; running without the lock"
    return 0
  fi
  exec 9>>"$KIND_LOCK"
  if ! flock -n 9; then
    log "another kind e2e run holds $KIND_LOCK; waiting up to ${LOCK_WAIT}s"
    flock -w "$LOCK_WAIT" 9 || die "$KIND_LOCK still held after ${LOCK_WAIT}s"
  fi
}

# A Docker Engine (started when none runs), or "skipped: <reason>" and exit 0.
# hack/kind/docker.sh start exits 3 only when no engine can run here (not root,
# or no dockerd and no apt-get); any other failure of it is a real one.
engine_or_skip() {
  local rc=0 out
  if "$KIND_DIR/docker.sh" status >/dev/null 2>&1; then ENGINE_WAS_UP=1; fi
  out="$("$KIND_DIR/docker.sh" start 9>&- 2>&1)" || rc=$?
  echo "$out" >&2
  if [[ $rc -eq 3 ]]; then
    skip "no Docker Engine can run here: $(echo "$out" | grep -v '^\[' | tail -n 1)"
  elif [[ $rc -ne 0 ]]; then
    die "a Docker Engine can run here (root, apt) but hack/kind/docker.sh start failed ($rc): $(echo "$out" | grep -v '^\[' | tail -n 1)"
  fi
  eval "$("$KIND_DIR/docker.sh" env)"
  mkdir -p "$STATE_DIR" "$KIND_CACHE/logs"
}

tools() {
  "$HACK_DIR/build-tools.sh" >&2
  PATH="$(tools_bin_dir):$PATH"
  export PATH
}

kubectl_() { kubectl --kubeconfig "$KCFG" "$@"; }

# The node image the last build made is still in the engine.
warm() {
  local env image
  env="$KIND_CACHE/images-$(host_arch).env"
  [[ -f "$env" ]] || return 1
  image="$(sed -n 's/^NODE_IMAGE=//p' "$env")"
  [[ -n "$image" ]] && docker image inspect "$image" >/dev/null 2>&1
}

cluster_exists() {
  kind get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER_NAME"
}

cluster_image() {
  docker inspect -f '{{.Config.Image}}' "$KIND_CLUSTER_NAME-control-plane" 2>/dev/null || true
}

load_images() {
  local nodes
  # Only the host's architecture: an emulated arm64 worker gets its own images.
  nodes="$(kind get nodes --name "$KIND_CLUSTER_NAME" | grep -v -- '-arm64' | paste -sd, -)"
  log "loading images into $nodes"
  kind load docker-image --name "$KIND_CLUSTER_NAME" --nodes "$nodes" \
    "$OPERATOR_IMAGE" "$AGENT_LOCAL" "$KWOK_IMAGE" >&2
  if [[ "$AGENT_LOCAL" != "$AGENT_IMAGE" ]]; then
    local n
    for n in ${nodes//,/ }; do
      docker exec "$n" ctr -n k8s.io images tag --force "$AGENT_LOCAL" "$AGENT_IMAGE" >/dev/null
    done
  fi
}

# ------------------------------------------------------------------ the image registry
# The kind network's IPv4 gateway: this host's address on the nodes' network,
# reachable from every node (and, masqueraded, from pods).
kind_gateway() {
  docker network inspect kind -f '{{range .IPAM.Config}}{{.Gateway}} {{end}}' \
    | tr ' ' '\n' | grep -E '^[0-9]+(\.[0-9]+){3}$' | head -n 1
}

registry_pid() {
  local pid
  pid="$(cat "$REGISTRY_STATE/registry.pid" 2>/dev/null || true)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

registry_down() {
  local pid
  if pid="$(registry_pid)"; then
    kill "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  fi
  rm -rf "$REGISTRY_STATE" "$REGISTRY_ENV"
}

registry_bin_dir() { "$HACK_DIR/build-registry-tools.sh" --dirs | sed -n "${1}p"; }

# The registry on the gateway address, fresh storage each `up`.
registry_up() {
  local gateway host
  gateway="$(kind_gateway)"
  [[ -n "$gateway" ]] || die "the kind network has no IPv4 gateway"
  host="$gateway:$REGISTRY_PORT"
  "$HACK_DIR/build-registry-tools.sh" >&2
  registry_down
  mkdir -p "$REGISTRY_STATE/data"
  cat > "$REGISTRY_STATE/config.yaml" <<YAML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $REGISTRY_STATE/data}
  delete: {enabled: true}
http:
  addr: $host
YAML
  # Its own session, without the lock's fd 9: it outlives `up` until `down`.
  setsid nohup "$(registry_bin_dir 1)/registry" serve "$REGISTRY_STATE/config.yaml" \
    > "$REGISTRY_STATE/registry.log" 2>&1 9>&- < /dev/null &
  echo $! > "$REGISTRY_STATE/registry.pid"
  local deadline=$((SECONDS + 30))
  until curl -sf "http://$host/v2/" >/dev/null; do
    registry_pid >/dev/null || { tail -n 5 "$REGISTRY_STATE/registry.log" >&2; die "the registry exited"; }
    ((SECONDS < deadline)) || die "the registry on $host did not answer in 30s"
    sleep 0.5
  done
  echo "KIND_REGISTRY=$host" > "$REGISTRY_ENV"
  log "image registry on http://$host (nodes and pods reach it on the kind network)"
  push_test_images "$host"
}

# The images of tests/e2e/test_images.py: the real agent images (busybox), amd64
# alone, and a multi-arch OCI index of amd64 and arm64; recorded in $REGISTRY_ENV.
# Each gets a label, so its config (the image ID) differs from the agent images
# loaded into the nodes: since Kubernetes 1.33 the kubelet's pull records
# (KubeletEnsureSecretPulledImages) make an image ID it pulled under one name no
# longer "preloaded" under another, and a pod asking for the preloaded name
# with imagePullPolicy Never then fails with ErrImageNeverPull.
push_test_images() { # host
  local host="$1" crane tmp arm64_agent
  crane="$(registry_bin_dir 2)/crane"
  tmp="$(mktemp -d "$STATE_DIR/push.XXXXXX")"
  if [[ "$PADDOCK_KIND_ARM64" == 1 ]]; then
    # The arm64 agent image, built by hack/kind/images.sh arm64 agent (cached).
    "$KIND_DIR/images.sh" arm64 agent >&2
    arm64_agent="$(sed -n 's/^AGENT_LOCAL=//p' "$KIND_CACHE/agent-arm64.env")"
  else
    # No arm64 node to run it (and no qemu to build it): the amd64 agent with a
    # config saying arm64, which only the image check reads.
    arm64_agent="$LOCAL_REPO/agent:1-config-arm64"
    docker tag "$AGENT_LOCAL" "$arm64_agent"
    "$KIND_DIR/set-arch.sh" "$arm64_agent" arm64
  fi
  docker save "$AGENT_LOCAL" > "$tmp/amd64.tar"
  docker save "$arm64_agent" > "$tmp/arm64.tar"
  local repo="$host/paddock-e2e/agent" part
  for part in amd64 arm64; do
    "$crane" push --insecure "$tmp/$part.tar" "$repo:$part-part" >/dev/null
    "$crane" mutate --insecure --label "dev.paddock.e2e=registry-$part" \
      -t "$repo:$part-part" "$repo:$part-part" >/dev/null
  done
  "$crane" copy --insecure "$repo:amd64-part" "$repo:amd64-only" >/dev/null
  "$crane" index append --insecure -m "$repo:amd64-part" -m "$repo:arm64-part" \
    -t "$repo:multi-arch" >/dev/null
  rm -rf "$tmp"
  local arm64_manifest arm64_config
  arm64_manifest="$("$crane" manifest --insecure "$repo:multi-arch" \
    | jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest')"
  [[ "$arm64_manifest" == sha256:* ]] || die "the multi-arch index has no arm64 entry"
  arm64_config="$("$crane" manifest --insecure "$repo@$arm64_manifest" | jq -r .config.digest)"
  {
    echo "KIND_REGISTRY=$host"
    echo "MULTI_ARCH_IMAGE=$repo:multi-arch"
    echo "MULTI_ARCH_ARM64_CONFIG=$arm64_config"
    echo "AMD64_ONLY_IMAGE=$repo:amd64-only"
  } > "$REGISTRY_ENV"
  log "pushed $repo:multi-arch (linux/amd64, linux/arm64 $arm64_manifest) and $repo:amd64-only"
}

# Every node's containerd pulls from the registry over plain HTTP (the node
# image's config.toml has config_path = /etc/containerd/certs.d, read at each
# pull), and pods' traffic to it is masqueraded behind the node's address:
# hack/kind/kindnet masquerades nothing, and this host has no route back to
# the pod network.
registry_on_nodes() {
  local host node gateway
  host="$(sed -n 's/^KIND_REGISTRY=//p' "$REGISTRY_ENV")"
  gateway="${host%:*}"
  for node in $(kind get nodes --name "$KIND_CLUSTER_NAME"); do
    docker exec -i "$node" sh -c "mkdir -p '/etc/containerd/certs.d/$host' && cat > '/etc/containerd/certs.d/$host/hosts.toml'" <<TOML
server = "http://$host"

[host."http://$host"]
  capabilities = ["pull", "resolve"]
TOML
    local rule=(POSTROUTING -s "$POD_SUBNET" -d "$gateway/32" -p tcp --dport "${host##*:}" -j MASQUERADE)
    docker exec "$node" iptables -t nat -C "${rule[@]}" 2>/dev/null \
      || docker exec "$node" iptables -t nat -A "${rule[@]}"
  done
  log "every node pulls from http://$host"
}

deploy_kwok() {
  local dir stages="$STATE_DIR/kwok-stages.yaml" f
  dir="$(_mod_dir sigs.k8s.io/kwok)/kustomize"
  # The same Stage documents hack/cluster.sh gives its kwok.
  : > "$stages"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    { echo "---"; cat "$dir/stage/$f"; } >> "$stages"
  done
  for f in service_account role role_binding flow_schema; do
    kubectl_ apply -f "$dir/rbac/$f.yaml" >/dev/null
  done
  kubectl_ -n kube-system create configmap kwok --from-file=kwok.yaml="$stages" \
    --dry-run=client -o yaml | kubectl_ apply -f - >/dev/null
  sed "s|@KWOK_IMAGE@|$KWOK_IMAGE|" "$KIND_DIR/kwok.yaml" | kubectl_ apply -f - >/dev/null
  kubectl_ -n kube-system rollout status deployment/kwok-controller --timeout=180s >&2
}

up() {
  local t0=$SECONDS
  tools
  timing "go tools (kind, helm, kubectl)"
  "$KIND_DIR/images.sh" "$(host_arch)" >&2
  # shellcheck disable=SC1090
  source "$KIND_CACHE/images-$(host_arch).env"
  timing "kind images"
  [[ -f "$REPO_ROOT/Dockerfile" ]] || die "no Dockerfile at the repository root to build the operator image from"
  local old_operator
  old_operator="$(docker image inspect -f '{{.Id}}' "$OPERATOR_IMAGE" 2>/dev/null || true)"
  log "building $OPERATOR_IMAGE (BASE_IMAGE=$PYTHON_IMAGE)"
  if ! DOCKER_BUILDKIT=0 docker build --build-arg "BASE_IMAGE=$PYTHON_IMAGE" -t "$OPERATOR_IMAGE" \
      "$REPO_ROOT" > "$KIND_CACHE/logs/build-operator.log" 2>&1; then
    tail -n 30 "$KIND_CACHE/logs/build-operator.log" >&2
    die "the operator image did not build; log: $KIND_CACHE/logs/build-operator.log"
  fi
  # The previous operator image, left untagged by this build (300 MB per operator change).
  if [[ -n "$old_operator" && "$old_operator" != "$(docker image inspect -f '{{.Id}}' "$OPERATOR_IMAGE")" ]]; then
    docker rmi "$old_operator" >/dev/null 2>&1 || true
  fi
  timing "operator image"

  local node_image="${PADDOCK_KIND_NODE_IMAGE:-$NODE_IMAGE}"
  if cluster_exists && [[ "$(cluster_image)" != "$node_image" ]]; then
    log "cluster $KIND_CLUSTER_NAME runs $(cluster_image); recreating it with $node_image"
    kind delete cluster --name "$KIND_CLUSTER_NAME" >&2
  fi
  if ! cluster_exists; then
    if (exec 3<>"/dev/tcp/127.0.0.1/$API_PORT") 2>/dev/null; then
      die "127.0.0.1:$API_PORT (the kind API server's port) is taken; set PADDOCK_PORT_BASE or PADDOCK_KIND_API_PORT"
    fi
    # hack/kind/cluster.yaml with the API server's address and port.
    sed "s|^networking:|networking:\n  apiServerAddress: 127.0.0.1\n  apiServerPort: $API_PORT|" \
      "$KIND_DIR/cluster.yaml" > "$STATE_DIR/cluster.yaml"
    log "creating kind cluster $KIND_CLUSTER_NAME from $node_image (API server 127.0.0.1:$API_PORT)"
    kind create cluster --name "$KIND_CLUSTER_NAME" --image "$node_image" \
      --config "$STATE_DIR/cluster.yaml" --kubeconfig "$KCFG" --wait 5m >&2
  else
    kind get kubeconfig --name "$KIND_CLUSTER_NAME" > "$KCFG"
  fi
  timing "kind create cluster"
  load_images
  timing "kind load docker-image"
  deploy_kwok
  timing "kwok"
  if [[ "$PADDOCK_KIND_ARM64" == 1 ]]; then
    "$KIND_DIR/arm64-worker.sh" up >&2 \
      || die "the emulated arm64 worker did not join (log: $KIND_CACHE/logs/arm64-worker.log; PADDOCK_KIND_ARM64=0 leaves it out)"
    timing "arm64 worker"
  else
    log "no arm64 worker: PADDOCK_KIND_ARM64=0 was set"
  fi
  registry_up
  registry_on_nodes
  timing "image registry"
  kubectl_ get nodes -o wide >&2
  log "kind e2e cluster up in $((SECONDS - t0))s; eval \"\$(hack/kind-e2e.sh env)\" to use it"
}

env_lines() {
  echo "export KUBECONFIG='$KCFG'"
  echo "export PATH='$(tools_bin_dir)':\"\$PATH\""
  "$KIND_DIR/docker.sh" env
}

run_tests() {
  tools
  [[ -s "$KCFG" ]] || die "no kind cluster: run hack/kind-e2e.sh up"
  # shellcheck disable=SC1090
  source "$KIND_CACHE/images-$(host_arch).env"
  "$HACK_DIR/venv.sh" >&2
  local arm64_node="" leave_out=() t
  if kubectl_ get node "$KIND_CLUSTER_NAME-arm64" >/dev/null 2>&1; then
    arm64_node="$KIND_CLUSTER_NAME-arm64"
  elif [[ "$PADDOCK_KIND_ARM64" == 0 ]]; then
    # Asked for: left out, and said. Otherwise the tests run, and their skips fail.
    for t in "${ARM64_TESTS[@]}"; do
      echo "skipped (PADDOCK_KIND_ARM64=0 was set): $t" | tee -a "$SKIPPED" >&2
      leave_out+=(--deselect "$t")  # a node id, relative to the repository root
    done
  fi
  # The registry `up` started (tests/e2e/test_images.py); missing, those tests fail.
  local KIND_REGISTRY="" MULTI_ARCH_IMAGE="" MULTI_ARCH_ARM64_CONFIG="" AMD64_ONLY_IMAGE=""
  # shellcheck disable=SC1090
  [[ -f "$REGISTRY_ENV" ]] && source "$REGISTRY_ENV"
  local rc=0
  # Every skip fails (tests/e2e/conftest.py); the output is kept for the summary.
  PADDOCK_E2E_FAIL_ON_SKIP=1 \
  PADDOCK_E2E_KUBECONFIG="$KCFG" \
  PADDOCK_E2E_IMAGE="$OPERATOR_IMAGE" \
  PADDOCK_E2E_AGENT_IMAGE="$AGENT_IMAGE" \
  PADDOCK_E2E_NAMESPACE="$NAMESPACE" \
  PADDOCK_E2E_ARM64_NODE="$arm64_node" \
  PADDOCK_E2E_REGISTRY="$KIND_REGISTRY" \
  PADDOCK_E2E_MULTI_ARCH_IMAGE="$MULTI_ARCH_IMAGE" \
  PADDOCK_E2E_MULTI_ARCH_ARM64_CONFIG="$MULTI_ARCH_ARM64_CONFIG" \
  PADDOCK_E2E_AMD64_ONLY_IMAGE="$AMD64_ONLY_IMAGE" \
    "$VENV_DIR/bin/python" -m pytest "$REPO_ROOT/tests/e2e" -v -p no:cacheprovider \
      "${leave_out[@]}" "$@" 2>&1 | tee "$PYTEST_LOG" || rc=$?
  timing "tests/e2e"
  return $rc
}

# What ran, in one line: pytest's result line, the arm64 worker, what was left out.
summary() {
  local result arm64="no arm64 worker" t ran=0 passed=0
  result="$(grep -E '^=+ .*( in [0-9.]+s)' "$PYTEST_LOG" 2>/dev/null | tail -n 1 | tr -d '=' | xargs || true)"
  for t in "${ARM64_TESTS[@]}"; do
    grep -q "${t##*::} " "$PYTEST_LOG" 2>/dev/null && ran=$((ran + 1))
    grep -q "${t##*::} PASSED" "$PYTEST_LOG" 2>/dev/null && passed=$((passed + 1))
  done
  if ((ran > 0 && passed == ran)); then
    arm64="the arm64 tests ($passed) ran on $KIND_CLUSTER_NAME-arm64 and passed"
  elif ((ran > 0)); then
    arm64="the arm64 tests ran and $((ran - passed)) of $ran did not pass"
  fi
  echo "kind e2e: tests/e2e: ${result:-did not run}; $arm64$( [[ -s "$SKIPPED" ]] && echo "; $(wc -l < "$SKIPPED") left out on request")"
}

down() { # [keep-engine]: delete the cluster but leave the engine running
  local rc=0
  if ! "$KIND_DIR/docker.sh" status >/dev/null 2>&1; then
    log "no Docker Engine runs: nothing to delete"
    return 0
  fi
  eval "$("$KIND_DIR/docker.sh" env)"
  tools
  registry_down
  if cluster_exists; then
    kind delete cluster --name "$KIND_CLUSTER_NAME" >&2 || rc=$?
  fi
  rm -f "$KCFG"
  if [[ "${1:-}" == keep-engine && -n "$(docker ps -q)" ]]; then
    log "leaving the Docker Engine running: it ran before this run, and containers still run on it"
  else
    "$KIND_DIR/docker.sh" stop >&2 || rc=$?
  fi
  return $rc
}

status() {
  "$KIND_DIR/docker.sh" status || return 1
  eval "$("$KIND_DIR/docker.sh" env)"
  tools
  if cluster_exists; then
    echo "kind cluster $KIND_CLUSTER_NAME ($(cluster_image))"
    kubectl_ get nodes
  else
    echo "no kind cluster $KIND_CLUSTER_NAME"
    return 1
  fi
}

# After `all`, pass or fail: delete the cluster and stop the engine, print timings.
finish() {
  local rc=$?
  trap - EXIT
  if [[ "${PADDOCK_KIND_KEEP:-0}" != 1 ]]; then
    if [[ $ENGINE_WAS_UP == 1 ]]; then down keep-engine || true; else down || true; fi
    timing "down"
  fi
  echo "timings (s):" >&2
  cat "$TIMINGS" >&2
  summary
  if [[ $rc -eq 0 ]]; then log "kind e2e passed"; else log "kind e2e FAILED ($rc)"; fi
  exit $rc
}

cmd="${1:-all}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
  all)
    if [[ "${PADDOCK_SKIP_KIND:-0}" == 1 ]]; then
      skip "PADDOCK_SKIP_KIND=1 was set: the kind e2e suite did not run"
    fi
    take_lock
    engine_or_skip
    : > "$TIMINGS"
    rm -f "$PYTEST_LOG" "$SKIPPED"
    timing "docker engine"
    if [[ "${PADDOCK_KIND_ONLY_WARM:-0}" == 1 ]] && ! warm; then
      [[ $ENGINE_WAS_UP == 1 ]] || "$KIND_DIR/docker.sh" stop >&2
      skip "PADDOCK_KIND_ONLY_WARM=1 and no cached kind node image (see docs/development.md for the cold build time)"
    fi
    trap finish EXIT
    # A CI job's timeout or ^C: still delete the cluster and stop the engine.
    trap 'exit 143' TERM
    trap 'exit 130' INT
    trap 'exit 129' HUP
    up
    run_tests "$@"
    ;;
  up)
    take_lock
    engine_or_skip
    : > "$TIMINGS"
    timing "docker engine"
    up
    ;;
  test)
    eval "$("$KIND_DIR/docker.sh" env)"
    mkdir -p "$STATE_DIR"
    rm -f "$SKIPPED"
    rc=0
    run_tests "$@" || rc=$?
    summary
    exit $rc
    ;;
  down) take_lock; down ;;
  status) status ;;
  env) env_lines ;;
  *) echo "usage: $0 [all|up|test|down|status|env] [pytest args]" >&2; exit 2 ;;
esac

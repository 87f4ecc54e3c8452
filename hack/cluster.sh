#!/usr/bin/env bash
# The local control plane: real etcd, kube-apiserver, kube-controller-manager
# and kube-scheduler built from the Kubernetes Go modules, plus kwok, which
# simulates Graviton nodes and marks the pods kube-scheduler binds as Running.
# No Docker, no containers: plain processes on loopback ports.
#
#   hack/cluster.sh up       build (once) and start everything, create the fake node pools
#   hack/cluster.sh up --karpenter
#                            also real Karpenter (its kwok cloud provider, built once by
#                            hack/build-karpenter.sh): its CRDs, a KWOKNodeClass `default`, and
#                            the controller against this API server, launching kwok Nodes of
#                            Graviton instance types (c7g/c8g/m8g/r8g, from
#                            paddock.autoscaling.instance_types). PADDOCK_KARPENTER=1 does the same.
#   hack/cluster.sh down     stop everything and delete the cluster's data
#   hack/cluster.sh status   say what runs
#   hack/cluster.sh env      print export lines: eval "$(hack/cluster.sh env)"
#                            (KUBECONFIG, PATH with kubectl and crane, PADDOCK_REGISTRY...)
#   hack/cluster.sh stop|start|restart COMPONENT [EXTRA-FLAGS...]
#                            stop or start one component (etcd, kube-apiserver,
#                            kube-controller-manager, kube-scheduler, kwok) for fault
#                            tests; start reuses the flags `up` gave it, plus any
#                            EXTRA-FLAGS for this run only (e.g. --watch-cache=false)
#
# State (certificates, etcd data, logs, kubeconfigs) lives in .local/cluster
# (git-ignored; PADDOCK_CLUSTER_DIR overrides). Ports come from
# PADDOCK_PORT_BASE (default 36000): etcd +0/+1, apiserver +443, kwok +10
# (PADDOCK_KWOK_PORT overrides), the image registry +500 and the registry that needs a
# password +501; Karpenter's metrics and health probe on free ports
# (PADDOCK_KARPENTER_METRICS_PORT / _HEALTH_PORT override), written to run/karpenter.ports.
# The registries (CNCF Distribution, hack/build-registry-tools.sh) are where the
# image-check tests push their images with crane; PADDOCK_REGISTRY=none leaves
# them out (nothing built, nothing started).
# PADDOCK_NODE_MONITOR_GRACE (default 20s): how long a node may miss its
# heartbeat before it is NotReady; bench/e2e.py raises it, because kwok on two
# busy cores cannot renew 5,000 node leases in time.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

PORT_BASE="${PADDOCK_PORT_BASE:-36000}"
ETCD_PORT=$((PORT_BASE + 0))
ETCD_PEER_PORT=$((PORT_BASE + 1))
APISERVER_PORT=$((PORT_BASE + 443))
KCM_PORT=$((PORT_BASE + 257))
SCHEDULER_PORT=$((PORT_BASE + 259))
KWOK_PORT="${PADDOCK_KWOK_PORT:-$((PORT_BASE + 10))}"  # override when an ephemeral port holds it
REGISTRY_PORT=$((PORT_BASE + 500))
REGISTRY_AUTH_PORT=$((PORT_BASE + 501))
# Karpenter's metrics and health ports: free ports picked at start unless set (a fixed port of
# the base was held by other clusters' ephemeral client ports on busy shared machines).
KARPENTER_METRICS_PORT="${PADDOCK_KARPENTER_METRICS_PORT:-}"
KARPENTER_HEALTH_PORT="${PADDOCK_KARPENTER_HEALTH_PORT:-}"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
if [[ "${PADDOCK_REGISTRY:-}" != "none" ]]; then COMPONENTS+=(registry registry-auth); fi
REGISTRY_DIR="$CLUSTER_DIR/registry"
# Karpenter is optional: it counts as a component only where `up --karpenter` started it.
PKI="$CLUSTER_DIR/pki"
LOGS="$CLUSTER_DIR/logs"
RUN="$CLUSTER_DIR/run"
ADMIN_KUBECONFIG="$CLUSTER_DIR/admin.kubeconfig"
BIN="$(tools_bin_dir)"

# Where a component's binary is: the registries come from their own cache key.
registry_dirs() { "$HACK_DIR/build-registry-tools.sh" --dirs; }
bin_of() {
  case "$1" in
    registry | registry-auth) echo "$(registry_dirs | sed -n 1p)/registry" ;;
    *) echo "$BIN/$1" ;;
  esac
}

pid_of() { cat "$RUN/$1.pid" 2>/dev/null || true; }
karpenter_on() { [[ -f "$RUN/karpenter.enabled" ]]; }
components() { # the components of this cluster, in start order
  printf '%s\n' "${COMPONENTS[@]}"
  if karpenter_on; then echo karpenter; fi
}
is_running() {
  local pid; pid="$(pid_of "$1")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# ---------------------------------------------------------------- certificates
make_cert() { # name subject [server]
  local name="$1" subject="$2" server="${3:-}"
  [[ -f "$PKI/$name.crt" ]] && return 0
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subject" \
    -out "$PKI/$name.csr" 2>/dev/null
  local ext="$PKI/$name.ext"
  if [[ -n "$server" ]]; then
    printf 'subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.96.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > "$ext"
  else
    printf 'extendedKeyUsage=clientAuth\n' > "$ext"
  fi
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -CAcreateserial -days 3650 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

make_pki() {
  mkdir -p "$PKI"
  if [[ ! -f "$PKI/ca.crt" ]]; then
    openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -days 3650 \
      -subj "/CN=paddock-local-ca" -out "$PKI/ca.crt" 2>/dev/null
  fi
  [[ -f "$PKI/sa.key" ]] || {
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  }
  make_cert apiserver "/CN=kube-apiserver" server
  make_cert admin "/O=system:masters/CN=paddock-admin"
  make_cert controller-manager "/CN=system:kube-controller-manager"
  make_cert scheduler "/CN=system:kube-scheduler"
  make_cert kwok "/O=system:masters/CN=kwok"
}

write_kubeconfig() { # file cert-name
  cat > "$1" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: paddock-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: paddock-local
  context: {cluster: paddock-local, user: $2}
current-context: paddock-local
KUBECONFIG
}

# ---------------------------------------------------------------- kwok stages
# kwok started alone needs its Stage documents (what kwokctl normally supplies):
# taken from the kwok module at the version hack/tools pins, never hand-copied.
write_kwok_config() {
  local out="$CLUSTER_DIR/kwok.yaml" dir
  [[ -s "$out" ]] && return 0
  dir="$(cd "$HACK_DIR/tools" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok 2>/dev/null)" \
    || die "cannot find the kwok module (needs go and the module cache; run hack/build-tools.sh)"
  local stages="$dir/kustomize/stage"
  {
    for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
             pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      echo "---"; cat "$stages/$f"
    done
  } > "$out"
}

# ---------------------------------------------------------------- audit log
# Who called what, for least-privilege tests (tests/helm/test_rbac_audit.py compares
# what the operator's ServiceAccount used with the chart's RBAC) and for debugging
# a 403. Metadata level (user, verb, resource, response code; no bodies), one
# entry per request (RequestReceived omitted). The control plane's own chatter
# (kwok's pod and node status updates, the scheduler's bindings, kube-system
# reads) is left out so a 50,000-pod benchmark costs little; every request of
# every ServiceAccount is kept. Rotation (--audit-log-max*) caps the disk use at
# about 300 MB.
write_audit_policy() {
  cat > "$CLUSTER_DIR/audit-policy.yaml" <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  # Every request of every ServiceAccount, first, so no later rule can drop one.
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  # kwok (node heartbeats, 50,000 pod status updates), the scheduler's bindings,
  # the controller manager's own identity and the API server's loopback client.
  - level: None
    users: ["kwok", "system:kube-scheduler", "system:kube-controller-manager", "system:apiserver"]
  - level: None
    verbs: ["get", "list", "watch"]
    namespaces: ["kube-system"]
  - level: None
    nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version", "/openapi*"]
  - level: Metadata
YAML
}

# ---------------------------------------------------------------- image registries
# Two CNCF Distribution registries on loopback, plain HTTP (Docker and containerd
# treat 127.0.0.0/8 as insecure by default, and so does Paddock's image check):
# `registry` is anonymous; `registry-auth` needs the user `paddock` and the
# password in $REGISTRY_DIR/auth/password (made here, random, never printed).
write_registry_configs() {
  local name port auth
  for name in registry registry-auth; do
    mkdir -p "$REGISTRY_DIR/$name"
    port=$REGISTRY_PORT auth=""
    if [[ "$name" == registry-auth ]]; then
      port=$REGISTRY_AUTH_PORT
      make_htpasswd
      auth="auth:
  htpasswd:
    realm: paddock-local
    path: $REGISTRY_DIR/auth/htpasswd"
    fi
    cat > "$REGISTRY_DIR/$name.yaml" <<YAML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $REGISTRY_DIR/$name}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$port
$auth
YAML
  done
}

make_htpasswd() { # bcrypt, as the registry requires: htpasswd if installed, else Python's crypt
  local dir="$REGISTRY_DIR/auth"
  [[ -s "$dir/htpasswd" ]] && return 0
  mkdir -p "$dir" && chmod 700 "$dir"
  (umask 077; openssl rand -hex 16 > "$dir/password")
  local password; password="$(cat "$dir/password")"
  if command -v htpasswd >/dev/null; then
    htpasswd -Bbn paddock "$password" > "$dir/htpasswd"
  else
    PW="$password" python3 -W ignore -c \
      'import crypt, os; print("paddock:" + crypt.crypt(os.environ["PW"], crypt.mksalt(crypt.METHOD_BLOWFISH)))' \
      > "$dir/htpasswd"
  fi
  grep -q '^paddock:\$2' "$dir/htpasswd" || die "could not make a bcrypt htpasswd entry"
}

start_registries() {
  [[ "${PADDOCK_REGISTRY:-}" == "none" ]] && return 0
  "$HACK_DIR/build-registry-tools.sh"
  write_registry_configs
  start registry serve "$REGISTRY_DIR/registry.yaml"
  start registry-auth serve "$REGISTRY_DIR/registry-auth.yaml"
  wait_until 30 "the image registry" curl -sf "http://127.0.0.1:$REGISTRY_PORT/v2/"
  wait_until 30 "the password registry" bash -c \
    "[[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$REGISTRY_AUTH_PORT/v2/) == 401 ]]"
}

# ---------------------------------------------------------------- processes
start() { # name args...
  local name="$1"; shift
  if is_running "$name"; then return 0; fi
  # The flags are kept so `hack/cluster.sh start NAME` can start it again the same way.
  printf '%s\0' "$@" > "$RUN/$name.args"
  nohup "$(bin_of "$name")" "$@" >> "$LOGS/$name.log" 2>&1 &
  echo $! > "$RUN/$name.pid"
}

wait_until() { # seconds description command...
  local seconds="$1" what="$2"; shift 2
  local deadline=$((SECONDS + seconds)) name
  until "$@" >/dev/null 2>&1; do
    for name in $(components); do
      if [[ -f "$RUN/$name.pid" ]] && ! is_running "$name"; then
        tail -n 5 "$LOGS/$name.log" >&2
        die "$name exited while waiting for $what; its log: $LOGS/$name.log"
      fi
    done
    if ((SECONDS >= deadline)); then
      die "$what not ready after ${seconds}s; see $LOGS/"
    fi
    sleep 0.5
  done
}

kubectl_admin() { "$BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }

up() {
  "$HACK_DIR/build-tools.sh"
  mkdir -p "$LOGS" "$RUN" "$CLUSTER_DIR/etcd"
  chmod 700 "$CLUSTER_DIR/etcd"
  make_pki
  write_kubeconfig "$ADMIN_KUBECONFIG" admin
  write_kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" controller-manager
  write_kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" scheduler
  write_kubeconfig "$CLUSTER_DIR/kwok.kubeconfig" kwok
  write_kwok_config
  cat > "$CLUSTER_DIR/scheduler.yaml" <<YAML
# Bin-packing scoring, so kube-scheduler fills nodes the way Paddock's
# first-fit simulation expects and keeps large free blocks whole.
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $CLUSTER_DIR/scheduler.kubeconfig
  qps: 200
  burst: 400
leaderElection:
  leaderElect: false
profiles:
- schedulerName: default-scheduler
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources:
        - {name: cpu, weight: 1}
        - {name: memory, weight: 1}
YAML

  write_audit_policy

  local t0=$SECONDS
  start etcd --name=paddock-local --data-dir="$CLUSTER_DIR/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="paddock-local=http://127.0.0.1:$ETCD_PEER_PORT" \
    --quota-backend-bytes=8589934592 --unsafe-no-fsync=true --log-level=warn
  wait_until 30 etcd curl -sf "http://127.0.0.1:$ETCD_PORT/health"

  start kube-apiserver --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --cert-dir="$PKI" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" --authorization-mode=Node,RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --api-audiences=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range=10.96.0.0/16 --allow-privileged=true \
    --endpoint-reconciler-type=none \
    --max-requests-inflight=1000 --max-mutating-requests-inflight=500 \
    --profiling=false --v=1 \
    --enable-admission-plugins=OwnerReferencesPermissionEnforcement \
    --audit-policy-file="$CLUSTER_DIR/audit-policy.yaml" --audit-log-path="$LOGS/audit.log" \
    --audit-log-format=json --audit-log-maxsize=100 --audit-log-maxbackup=2 --audit-log-maxage=1
  wait_until 90 kube-apiserver kubectl_admin get --raw /readyz

  start kube-controller-manager --kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --leader-elect=false \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --use-service-account-credentials=true --kube-api-qps=200 --kube-api-burst=400 \
    --concurrent-deployment-syncs=10 --concurrent-replicaset-syncs=10 \
    --node-monitor-grace-period="${PADDOCK_NODE_MONITOR_GRACE:-20s}" --terminated-pod-gc-threshold=500 --v=1

  start kube-scheduler --config="$CLUSTER_DIR/scheduler.yaml" \
    --authentication-kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
    --authorization-kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --v=1

  start kwok --kubeconfig="$CLUSTER_DIR/kwok.kubeconfig" --config="$CLUSTER_DIR/kwok.yaml" \
    --manage-all-nodes=false --manage-nodes-with-label-selector=type=kwok \
    --node-lease-duration-seconds=40 --server-address="127.0.0.1:$KWOK_PORT" \
    --cidr=10.244.0.0/16 --node-ip=127.0.0.1

  start_registries
  wait_until 60 "the default ServiceAccount" kubectl_admin get serviceaccount default -n default
  if [[ "${PADDOCK_NODES:-default}" != "none" ]]; then
    "$HACK_DIR/fake-nodes.py" --default | kubectl_admin apply --server-side -f - >/dev/null
    wait_until 60 "kwok nodes" bash -c \
      "! '$BIN/kubectl' --kubeconfig '$ADMIN_KUBECONFIG' get nodes -l type=kwok --no-headers | grep -v ' Ready '"
  fi
  if [[ "${PADDOCK_KARPENTER:-0}" == 1 ]]; then
    karpenter_up
  fi
  log "control plane up in $((SECONDS - t0))s; run: eval \"\$(hack/cluster.sh env)\""
}

# ---------------------------------------------------------------- Karpenter (optional)
# Real Karpenter, unchanged: the `kwok/` cloud provider of the sigs.k8s.io/karpenter module.
# Its "cloud" creates plain Node objects; this cluster's kwok makes them behave (Ready, pods
# Running) when they carry the label type=kwok, so NodePools here put that label in their
# template (spec.template.metadata.labels). Karpenter runs out of cluster with the admin
# kubeconfig, no leader election, a short batch window (tests wait for launches).
karpenter_up() {
  local dir; dir="$("$HACK_DIR/build-karpenter.sh" --path)"
  touch "$RUN/karpenter.enabled"
  kubectl_admin apply --server-side -f "$dir/crds" >/dev/null
  kubectl_admin wait --for=condition=Established --timeout=60s \
    crd/nodepools.karpenter.sh crd/nodeclaims.karpenter.sh crd/kwoknodeclasses.karpenter.kwok.sh >/dev/null
  PYTHONPATH="$REPO_ROOT/operator" python3 -m paddock.autoscaling.instance_types --kwok \
    > "$CLUSTER_DIR/karpenter-instance-types.json"
  # The KWOKNodeClass every local NodePool refers to; nothing in the kwok provider marks it
  # Ready (a real EC2NodeClass is marked by its controller), so it is marked here.
  printf '%s\n' 'apiVersion: karpenter.kwok.sh/v1alpha1' 'kind: KWOKNodeClass' \
    'metadata: {name: default}' | kubectl_admin apply --server-side -f - >/dev/null
  kubectl_admin patch kwoknodeclass default --subresource=status --type=merge -p \
    "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Ready\",\"message\":\"\",\"observedGeneration\":1,\"lastTransitionTime\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}]}}" >/dev/null
  start_karpenter "$dir/karpenter"
  wait_until 60 karpenter curl -sf "http://127.0.0.1:$KARPENTER_HEALTH_PORT/healthz"
  log "karpenter up (metrics :$KARPENTER_METRICS_PORT, log $LOGS/karpenter.log)"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_karpenter() { # binary
  if is_running karpenter; then
    read -r KARPENTER_METRICS_PORT KARPENTER_HEALTH_PORT < "$RUN/karpenter.ports"
    return 0
  fi
  KARPENTER_METRICS_PORT="${KARPENTER_METRICS_PORT:-$(free_port)}"
  KARPENTER_HEALTH_PORT="${KARPENTER_HEALTH_PORT:-$(free_port)}"
  echo "$KARPENTER_METRICS_PORT $KARPENTER_HEALTH_PORT" > "$RUN/karpenter.ports"
  printf '%s\0' "$1" > "$RUN/karpenter.args"
  KUBECONFIG="$ADMIN_KUBECONFIG" DISABLE_LEADER_ELECTION=true \
    METRICS_PORT="$KARPENTER_METRICS_PORT" HEALTH_PROBE_PORT="$KARPENTER_HEALTH_PORT" \
    INSTANCE_TYPES_FILE_PATH="$CLUSTER_DIR/karpenter-instance-types.json" \
    BATCH_IDLE_DURATION="${PADDOCK_KARPENTER_BATCH_IDLE:-1s}" \
    BATCH_MAX_DURATION="${PADDOCK_KARPENTER_BATCH_MAX:-3s}" LOG_LEVEL=info \
    nohup "$1" >> "$LOGS/karpenter.log" 2>&1 &
  echo $! > "$RUN/karpenter.pid"
}

down() {
  local name pid
  local -a all=(${COMPONENTS[@]} karpenter)
  for ((i = ${#all[@]} - 1; i >= 0; i--)); do
    name="${all[$i]}"
    pid="$(pid_of "$name")"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/$name.pid"
  done
  # The data goes with the processes: the next `up` starts from an empty cluster.
  rm -rf "$CLUSTER_DIR/etcd" "$CLUSTER_DIR/kwok.yaml" "$REGISTRY_DIR" "$RUN/karpenter.enabled"
  log "control plane stopped"
}

status() {
  local rc=0 name
  for name in $(components); do
    if is_running "$name"; then
      printf '%-24s running (pid %s)\n' "$name" "$(pid_of "$name")"
    else
      printf '%-24s stopped\n' "$name"; rc=1
    fi
  done
  if [[ $rc -eq 0 ]] && kubectl_admin get --raw /readyz >/dev/null 2>&1; then
    echo "API server ready at https://127.0.0.1:$APISERVER_PORT (KUBECONFIG=$ADMIN_KUBECONFIG)"
  else
    rc=1
  fi
  return $rc
}

env_lines() {
  echo "export KUBECONFIG='$ADMIN_KUBECONFIG'"
  if [[ "${PADDOCK_REGISTRY:-}" == "none" ]]; then
    echo "export PATH='$BIN':\"\$PATH\""
    return 0
  fi
  local crane_dir; crane_dir="$(registry_dirs | sed -n 2p)"
  echo "export PATH='$BIN':'$crane_dir':\"\$PATH\""
  echo "export PADDOCK_REGISTRY='127.0.0.1:$REGISTRY_PORT'"
  echo "export PADDOCK_REGISTRY_AUTH='127.0.0.1:$REGISTRY_AUTH_PORT'"
  echo "export PADDOCK_REGISTRY_AUTH_USER=paddock"
  echo "export PADDOCK_REGISTRY_AUTH_PASSWORD_FILE='$REGISTRY_DIR/auth/password'"
}

# ---------------------------------------------------------------- one component (fault tests)
component() { # name: die unless it is one of ours
  local name
  for name in "${COMPONENTS[@]}"; do [[ "$name" == "$1" ]] && return 0; done
  die "unknown component '$1' (one of: ${COMPONENTS[*]})"
}

stop_component() { # name
  component "$1"
  local pid; pid="$(pid_of "$1")"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$1.pid"
  log "$1 stopped"
}

start_component() { # name [extra flags...]: the flags `up` used, then the extras
  local name="$1"; shift
  component "$name"
  [[ -f "$RUN/$name.args" ]] || die "$name was never started here: run hack/cluster.sh up first"
  local -a args=()
  mapfile -d '' args < "$RUN/$name.args"
  local saved="$RUN/$name.args.saved"
  cp "$RUN/$name.args" "$saved"
  start "$name" "${args[@]}" "$@"
  mv "$saved" "$RUN/$name.args"  # extras are for this run only
  case "$name" in
    etcd) wait_until 30 etcd curl -sf "http://127.0.0.1:$ETCD_PORT/health" ;;
    kube-apiserver) wait_until 90 kube-apiserver kubectl_admin get --raw /readyz ;;
    registry) wait_until 30 "the image registry" curl -sf "http://127.0.0.1:$REGISTRY_PORT/v2/" ;;
    *) sleep 0.5; is_running "$name" || die "$name exited at once; its log: $LOGS/$name.log" ;;
  esac
  log "$name started (pid $(pid_of "$name"))"
}

case "${1:-}" in
  up)
    if [[ "${2:-}" == "--karpenter" ]]; then export PADDOCK_KARPENTER=1; fi
    if [[ "${2:-}" == "--karpenter" ]] && status >/dev/null 2>&1 && ! karpenter_on; then
      karpenter_up  # add Karpenter to a running control plane
    else
      up
    fi
    ;;
  down) down ;;
  status) status ;;
  env) env_lines ;;
  stop) stop_component "${2:?usage: $0 stop COMPONENT}" ;;
  start) start_component "${2:?usage: $0 start COMPONENT [FLAGS...]}" "${@:3}" ;;
  restart)
    stop_component "${2:?usage: $0 restart COMPONENT [FLAGS...]}"
    start_component "$2" "${@:3}"
    ;;
  *) echo "usage: $0 up|down|status|env|stop|start|restart" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# The five-minute tour: local control plane with fake Graviton pools, the CRDs,
# the operator, and the examples; prints where every agent runs.
#
#   hack/demo.sh          bring everything up and apply examples/
#   PADDOCK_KARPENTER=1 hack/demo.sh   also real Karpenter and examples/karpenter/ (autoscaled pool)
#   hack/demo.sh stop     stop the operator (hack/cluster.sh down stops the rest)
#
# The operator runs in the background; its JSON log is .local/demo/operator.log.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
DEMO_DIR="$REPO_ROOT/.local/demo"
PID_FILE="$DEMO_DIR/operator.pid"

stop_operator() {
  local pid; pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"; log "operator stopped"
  fi
  rm -f "$PID_FILE"
}

if [[ "${1:-}" == "stop" ]]; then stop_operator; exit 0; fi

mkdir -p "$DEMO_DIR"
"$HACK_DIR/venv.sh"
if [[ "${PADDOCK_KARPENTER:-0}" == 1 ]]; then
  # real Karpenter: the demo gains an autoscaled pool
  "$HACK_DIR/cluster.sh" up --karpenter
else
  "$HACK_DIR/cluster.sh" up
fi
eval "$("$HACK_DIR/cluster.sh" env)"

log "installing the CRDs from crds/"
kubectl apply --server-side --force-conflicts -f "$REPO_ROOT/crds" >/dev/null
# `kubectl wait` fails at once while a just-created CRD has no conditions yet: retry.
deadline=$((SECONDS + 60))
until kubectl wait --for=condition=Established --timeout=60s \
  crd/corepools.paddock.dev crd/corebudgets.paddock.dev crd/agentworkloads.paddock.dev \
  >/dev/null 2>&1; do
  ((SECONDS < deadline)) || die "the CRDs were not Established within 60 s"
  sleep 1
done

stop_operator
log "starting the operator (log: $DEMO_DIR/operator.log)"
nohup "$VENV_DIR/bin/paddock" run --metrics-port "${PADDOCK_METRICS_PORT:-18080}" \
  --health-port "${PADDOCK_HEALTH_PORT:-18081}" > "$DEMO_DIR/operator.log" 2>&1 &
echo $! > "$PID_FILE"
deadline=$((SECONDS + 60))
until curl -sf "http://127.0.0.1:${PADDOCK_HEALTH_PORT:-18081}/readyz" >/dev/null; do
  kill -0 "$(cat "$PID_FILE")" 2>/dev/null || { tail -20 "$DEMO_DIR/operator.log"; die "the operator exited"; }
  ((SECONDS < deadline)) || die "the operator is not ready after 60s; see $DEMO_DIR/operator.log"
  sleep 0.5
done

log "applying examples/"
kubectl apply -f "$REPO_ROOT/examples" >/dev/null
if [[ "${PADDOCK_KARPENTER:-0}" == 1 ]]; then
  log "applying examples/karpenter/ (NodePool graviton-auto, its CorePool, burst-coder)"
  kubectl apply -f "$REPO_ROOT/examples/karpenter" >/dev/null
fi
expected="$(kubectl get aw -A --no-headers | wc -l)"
deadline=$((SECONDS + 90))
until [[ "$(kubectl get aw -A --no-headers | awk '$(NF-2) == "Running"' | wc -l)" -eq "$expected" ]]; do
  ((SECONDS < deadline)) || { log "not every agent is Running yet; here is where they are:"; break; }
  sleep 1
done
kubectl get cpool,cbudget
echo
kubectl get aw -A
echo
echo "Try: kubectl get aw -A -o wide;  kubectl describe aw -n team-research llama-server"
echo "Stop: hack/demo.sh stop && hack/cluster.sh down"

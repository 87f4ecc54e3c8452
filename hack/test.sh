#!/usr/bin/env bash
# The one full test command: lint and type-check, then unit tests, then
# integration tests against the local control plane (started here when it is
# not running, and stopped again afterwards if this script started it).
#
#   hack/test.sh                 everything
#   hack/test.sh -k budget       extra arguments go to both pytest runs
#
# The kind e2e suite is separate: hack/kind-e2e.sh (it needs Docker).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"

"$HACK_DIR/venv.sh"
PY="$VENV_DIR/bin/python"

log "lint: ruff and mypy"
"$PY" -m ruff check .
"$PY" -m ruff format --check .
"$PY" -m mypy

started_cluster=0
if ! "$HACK_DIR/cluster.sh" status >/dev/null 2>&1; then
  "$HACK_DIR/cluster.sh" up
  started_cluster=1
fi
cleanup() {
  if [[ $started_cluster -eq 1 && "${PADDOCK_KEEP_CLUSTER:-0}" != 1 ]]; then
    "$HACK_DIR/cluster.sh" down
  fi
}
trap cleanup EXIT
eval "$("$HACK_DIR/cluster.sh" env)"

# pytest exits 5 when it collected nothing: a failure for the full run, never a
# pass. With a filter (hack/test.sh -k name) a suite may rightly select nothing.
filtered=$#
run_pytest() {
  local rc=0
  "$PY" -m pytest "$@" || rc=$?
  if [[ $rc -eq 5 && $filtered -eq 0 ]]; then die "pytest collected no tests for: $*"; fi
  if [[ $rc -eq 5 ]]; then return 0; fi
  return $rc
}
log "unit tests"
run_pytest tests/unit "$@"
"$HACK_DIR/build-prometheus.sh"  # Prometheus, built once per version (tests/integration/test_dashboard.py)
log "integration tests (KUBECONFIG=$KUBECONFIG)"
run_pytest tests/integration "$@"
# A separate run: its operator (with the chart's RBAC) must not overlap the
# integration suite's operator, or two leaders would schedule at once.
log "helm chart tests"
"$HACK_DIR/build-lint-tools.sh"  # kube-score, built once per version (tests/helm/test_kube_score.py)
run_pytest tests/helm "$@"

#!/usr/bin/env bash
# Regenerate crds/ and docs/api.md from the models in operator/paddock/api/ (--check: only verify).
# The AgentWorkload pod template comes from operator/paddock/api/k8s/podtemplatespec.json, the
# Kubernetes PodSpec schema: --from-cluster first refreshes it from the running local control
# plane (hack/gen-pod-schema.py; needs `eval "$(hack/cluster.sh env)"`), e.g. after a Kubernetes
# bump in hack/tools/go.mod. Without it, generation needs no cluster and is deterministic.
set -euo pipefail; cd "$(dirname "$0")/.."; PY="${PYTHON:-.venv/bin/python}"
if [[ "${1:-}" == "--from-cluster" ]]; then shift; "$PY" hack/gen-pod-schema.py; fi
"$PY" -m paddock.api.crdgen "$@" && "$PY" -m paddock.api.docgen "$@"

#!/usr/bin/env bash
# Regenerate crds/ and docs/api.md from the models in operator/paddock/api/ (--check: only verify).
set -euo pipefail; cd "$(dirname "$0")/.."; PY="${PYTHON:-.venv/bin/python}"
"$PY" -m paddock.api.crdgen "$@" && "$PY" -m paddock.api.docgen "$@"

#!/usr/bin/env bash
# Check the Helm chart in one command: lint, CRD drift, render, server-side validation.
#
#   hack/helm-check.sh             everything, against the cluster KUBECONFIG points at
#   hack/helm-check.sh --offline   lint, CRD drift and render only (no API server)
#
# 1. `helm lint --strict` with the default values and with every values file in
#    charts/paddock/ci/ and tests/helm/values/.
# 2. The chart's CRDs, as `helm package` puts them in the archive (through the
#    charts/paddock/crds -> ../../crds symlink), are byte for byte crds/*.yaml.
# 3. `helm template` with each of those values sets, then
#    `kubectl apply --dry-run=server --validate=strict` into a scratch namespace
#    that enforces the restricted Pod Security Standard: the API server checks
#    every field against its schemas and any PodSecurity warning fails the check.
#    Kinds whose CRDs the cluster lacks (the ServiceMonitor) are skipped, and said so.
#
# Environment: KUBE_VERSION (helm's --kube-version; default: the server's
# major.minor, or 1.30.0 offline); HELM and KUBECTL (binaries; default: PATH,
# as `eval "$(hack/cluster.sh env)"` sets it).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"

offline=0
case "${1:-}" in
  --offline) offline=1 ;;
  "") ;;
  *) echo "usage: $0 [--offline]" >&2; exit 2 ;;
esac

HELM="${HELM:-$(command -v helm || true)}"
KUBECTL="${KUBECTL:-$(command -v kubectl || true)}"
[[ -n "$HELM" ]] || die 'helm is not on PATH: run eval "$(hack/cluster.sh env)"'
CHART=charts/paddock
work="$(mktemp -d)"
scratch=""
cleanup() {
  rm -rf "$work"
  if [[ -n "$scratch" ]]; then
    "$KUBECTL" delete namespace "$scratch" --wait=false >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# Helm follows the crds symlink and says so on stderr for every load; that line is
# expected, so it is filtered out of the output (and only that line).
quiet_symlink() { grep -v 'found symbolic link in path: .*/charts/paddock/crds resolves to' >&2 || true; }
helm_() { "$HELM" "$@" 2> >(quiet_symlink); }

if [[ $offline -eq 0 ]]; then
  [[ -n "$KUBECTL" ]] || die 'kubectl is not on PATH: run eval "$(hack/cluster.sh env)"'
  "$KUBECTL" get --raw /readyz >/dev/null 2>&1 \
    || die "no API server ready at KUBECONFIG=${KUBECONFIG:-~/.kube/config} (hack/cluster.sh up, or --offline)"
fi
if [[ -z "${KUBE_VERSION:-}" ]]; then
  KUBE_VERSION=1.30.0
  if [[ $offline -eq 0 ]]; then
    # major/minor, not gitVersion: a source build of the API server reports v0.0.0-master.
    KUBE_VERSION="$("$KUBECTL" get --raw /version \
      | python3 -c "import json, sys; v = json.load(sys.stdin); print(v['major'] + '.' + v['minor'].rstrip('+') + '.0')")"
  fi
fi

values_sets=("")
for f in "$CHART"/ci/*.yaml tests/helm/values/*.yaml; do
  [[ -f "$f" ]] && values_sets+=("$f")
done
label() { if [[ -z "$1" ]]; then echo "default values"; else echo "$1"; fi; }

# ---------------------------------------------------------------- 1. lint
for v in "${values_sets[@]}"; do
  args=(); [[ -z "$v" ]] || args=(-f "$v")
  helm_ lint --strict --quiet --kube-version "$KUBE_VERSION" ${args[@]+"${args[@]}"} "$CHART" >"$work/lint.out" \
    || { cat "$work/lint.out" >&2; die "helm lint --strict failed with $(label "$v")"; }
  log "lint ok: $(label "$v")"
done

# ---------------------------------------------------------------- 2. CRD drift
helm_ package "$CHART" --destination "$work/pkg" >/dev/null
mkdir -p "$work/unpacked"
tar -xzmf "$work"/pkg/paddock-*.tgz -C "$work/unpacked"
diff -r crds "$work/unpacked/paddock/crds" \
  || die "the packaged chart's crds/ differs from crds/ (is charts/paddock/crds still a symlink to ../../crds?)"
log "crds ok: the packaged chart carries exactly crds/ ($(ls crds | wc -l) files)"

# ---------------------------------------------------------------- 3. render + validate
if [[ $offline -eq 0 ]]; then
  scratch="paddock-helm-check-$RANDOM$RANDOM"
  "$KUBECTL" create namespace "$scratch" >/dev/null
  "$KUBECTL" label namespace "$scratch" >/dev/null \
    pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted
  has_servicemonitor=0
  "$KUBECTL" get crd servicemonitors.monitoring.coreos.com >/dev/null 2>&1 && has_servicemonitor=1
fi
for v in "${values_sets[@]}"; do
  out="$work/rendered.yaml"
  args=(); [[ -z "$v" ]] || args=(-f "$v")
  helm_ template paddock "$CHART" --namespace "${scratch:-paddock-system}" \
    --kube-version "$KUBE_VERSION" ${args[@]+"${args[@]}"} >"$out" \
    || die "helm template failed with $(label "$v")"
  if [[ $offline -eq 1 ]]; then
    log "render ok: $(label "$v")"
    continue
  fi
  if [[ $has_servicemonitor -eq 0 ]] && grep -q '^kind: ServiceMonitor' "$out"; then
    log "  (the cluster has no ServiceMonitor CRD: that kind is not validated for $(label "$v"))"
    python3 - "$out" <<'PY'
import sys
docs = open(sys.argv[1]).read().split("\n---\n")
kept = [d for d in docs if "\nkind: ServiceMonitor\n" not in f"\n{d}\n"]
open(sys.argv[1], "w").write("\n---\n".join(kept))
PY
  fi
  "$KUBECTL" apply --dry-run=server --validate=strict -n "$scratch" -f "$out" >"$work/apply.out" 2>"$work/apply.err" \
    || { cat "$work/apply.err" >&2; die "server-side validation failed with $(label "$v")"; }
  if grep -qi 'PodSecurity\|warning' "$work/apply.err"; then
    cat "$work/apply.err" >&2
    die "warnings from the API server with $(label "$v")"
  fi
  log "valid: $(label "$v") ($(wc -l <"$work/apply.out") objects, restricted Pod Security)"
done
log "helm chart checks passed"

#!/usr/bin/env bash
# Builds the chart linters the tests run (today: kube-score) with `go install`
# into a cache keyed by the tool's version, e.g.
# ~/.cache/paddock/bin/lint/kube-score-v1.20.0. A second run does nothing.
# Kept apart from hack/build-tools.sh on purpose: that script's contents key
# the Kubernetes build cache, and a linter bump must not rebuild Kubernetes.
#
#   hack/build-lint-tools.sh          build what is missing, print nothing else
#   hack/build-lint-tools.sh --path   also print the kube-score path on stdout
#
# PADDOCK_KUBE_SCORE names a kube-score binary you already have (no build).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

KUBE_SCORE_VERSION=v1.20.0
LINT_DIR="$PADDOCK_CACHE/bin/lint"
KUBE_SCORE="$LINT_DIR/kube-score-$KUBE_SCORE_VERSION"

build_kube_score() {
  if [[ -n "${PADDOCK_KUBE_SCORE:-}" ]]; then
    [[ -x "$PADDOCK_KUBE_SCORE" ]] || die "PADDOCK_KUBE_SCORE=$PADDOCK_KUBE_SCORE is not executable"
    KUBE_SCORE="$PADDOCK_KUBE_SCORE"
    return 0
  fi
  [[ -x "$KUBE_SCORE" ]] && return 0
  command -v go >/dev/null || die "go is not installed; install Go or set PADDOCK_KUBE_SCORE"
  mkdir -p "$LINT_DIR"
  # go install names the binary after its package; build into a private folder,
  # then rename atomically, so a half-built binary is never found in the cache.
  local tmp; tmp="$(mktemp -d "$LINT_DIR/.build.XXXXXX")"
  trap 'rm -rf "$tmp"' RETURN
  local t0=$SECONDS
  log "building kube-score $KUBE_SCORE_VERSION (once) into $LINT_DIR"
  GOBIN="$tmp" GOFLAGS="${GOFLAGS:--buildvcs=false} -trimpath" \
    nice -n 10 go install -ldflags="-s -w" \
    "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION"
  mv "$tmp/kube-score" "$KUBE_SCORE"
  log "kube-score built in $((SECONDS - t0))s"
}

build_kube_score
if [[ "${1:-}" == "--path" ]]; then
  echo "$KUBE_SCORE"
fi

#!/usr/bin/env bash
# Builds the Prometheus server that tests/integration/test_dashboard.py runs to
# evaluate the chart's Grafana dashboard queries (charts/paddock/dashboards/)
# against a live operator. `go install` at a pinned version into a cache keyed
# by that version: ~/.cache/paddock/bin/prometheus-v0.316.0/prometheus. A second
# run does nothing.
# Kept apart from hack/build-tools.sh on purpose: that script's contents key the
# Kubernetes build cache, and a Prometheus bump must not rebuild Kubernetes.
# Built with the `remove_all_sd` tag: the tests scrape a static target, and the
# cloud service-discovery SDKs would only make the build several times longer.
#
#   hack/build-prometheus.sh          build it if it is missing
#   hack/build-prometheus.sh --path   also print the binary's path on stdout
#
# PADDOCK_PROMETHEUS_BIN names a binary you already have (no build).
# On a shared machine, one Go build at a time: PADDOCK_GO_BUILD_LOCK names a
# lock file that wraps the build in flock (the project's machines use
# /work/wt/go-build.lock).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

PROMETHEUS_VERSION=v0.316.0
PROMETHEUS_DIR="$PADDOCK_CACHE/bin/prometheus-$PROMETHEUS_VERSION"
PROMETHEUS_PKG="github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION"

build() {
  [[ -x "$PROMETHEUS_DIR/prometheus" ]] && return 0
  command -v go >/dev/null || die "go is not installed; install Go or set PADDOCK_PROMETHEUS_BIN"
  mkdir -p "$PROMETHEUS_DIR"
  # Build into a private folder, then rename, so a half-built binary is never found.
  local tmp; tmp="$(mktemp -d "$PROMETHEUS_DIR/.build.XXXXXX")"
  trap 'rm -rf "$tmp"' RETURN
  local t0=$SECONDS
  log "building prometheus ($PROMETHEUS_PKG, once) into $PROMETHEUS_DIR"
  GOBIN="$tmp" GOFLAGS="${GOFLAGS:--buildvcs=false} -trimpath" \
    nice -n "${PADDOCK_BUILD_NICE:-10}" go install -tags remove_all_sd -ldflags="-s -w" "$PROMETHEUS_PKG"
  mv "$tmp/prometheus" "$PROMETHEUS_DIR/prometheus"
  log "prometheus built in $((SECONDS - t0))s"
}

# Something to build and a lock to share: run again under the lock (so a build
# another process finished meanwhile is found, not repeated).
if [[ -n "${PADDOCK_GO_BUILD_LOCK:-}" && -z "${_PADDOCK_GO_LOCKED:-}" ]] &&
  [[ -z "${PADDOCK_PROMETHEUS_BIN:-}" && ! -x "$PROMETHEUS_DIR/prometheus" ]]; then
  _PADDOCK_GO_LOCKED=1 exec flock "$PADDOCK_GO_BUILD_LOCK" "$0" "$@"
fi

if [[ -n "${PADDOCK_PROMETHEUS_BIN:-}" ]]; then
  binary="$PADDOCK_PROMETHEUS_BIN"
else
  build
  binary="$PROMETHEUS_DIR/prometheus"
fi
if [[ "${1:-}" == "--path" ]]; then
  echo "$binary"
fi

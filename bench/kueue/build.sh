#!/usr/bin/env bash
# Builds Kueue's scheduler performance harness (test/performance/scheduler: `minimalkueue`, the
# core controllers and scheduler of Kueue, and `runner`, Kueue's generator/recorder) from the
# sigs.k8s.io/kueue module pinned in bench/kueue/go.mod, unchanged, into a cache keyed by the
# pinned version: ~/.cache/paddock/bin/kueue-<version>/. A second run with the same go.mod and
# go.sum does nothing. The cache also gets `src`, a link to the module's source, which the runner
# needs as PROJECT_DIR and which holds Kueue's CRDs and generator configs.
#
# Prints the cache folder on stdout (progress on stderr). Needs go and the Go module proxy.
# Builds at low priority (nice 15): the machine is shared, nobody waits for this interactively.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
log() { printf '[%s] kueue-build: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
command -v go >/dev/null || { log "go is not installed (Go >= 1.25 and the module proxy are needed)"; exit 1; }

cd "$here"
version="$(go list -m -f '{{.Version}}' sigs.k8s.io/kueue)"
cache="${PADDOCK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/paddock}/bin/kueue-$version"
stamp="$(cat go.mod go.sum | sha256sum | cut -c1-16)"
mkdir -p "$cache"

# One build at a time per cache folder; a second caller waits and then finds it built.
exec 9>"$cache/.lock"
flock 9

ready() {
  [[ -x "$cache/minimalkueue" && -x "$cache/runner" && -d "$cache/src/config/components/crd/bases" ]] \
    && [[ "$(cat "$cache/stamp" 2>/dev/null)" == "$stamp" ]]
}

if ready; then
  log "ready in $cache"
  echo "$cache"
  exit 0
fi

export GOFLAGS="${GOFLAGS:--buildvcs=false} -trimpath"
log "downloading sigs.k8s.io/kueue $version and its dependencies"
nice -n 15 go mod download
src="$(go list -m -f '{{.Dir}}' sigs.k8s.io/kueue)"
ln -sfn "$src" "$cache/src"
rm -f "$cache/stamp"
for program in minimalkueue runner; do
  start=$SECONDS
  log "building $program (low priority; a few minutes on two busy cores)"
  CGO_ENABLED=0 nice -n 15 go build -ldflags="-s -w" -o "$cache/$program.tmp" \
    "sigs.k8s.io/kueue/test/performance/scheduler/$program"
  mv "$cache/$program.tmp" "$cache/$program"
  log "built $program in $((SECONDS - start))s"
done
echo "$stamp" >"$cache/stamp"
log "ready in $cache"
echo "$cache"

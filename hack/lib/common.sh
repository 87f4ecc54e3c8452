# Shared settings for the hack/ scripts. Source it; do not run it.
# Every path that outlives one run lives outside the repository, under
# PADDOCK_CACHE (binaries) or the git-ignored .local/ (cluster state).

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_ROOT="$(cd "$HACK_DIR/.." && pwd)"
PADDOCK_CACHE="${PADDOCK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/paddock}"
CLUSTER_DIR="${PADDOCK_CLUSTER_DIR:-$REPO_ROOT/.local/cluster}"
VENV_DIR="${PADDOCK_VENV:-$REPO_ROOT/.venv}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The cache key: a change to the pinned versions builds a new set.
tools_key() {
  cat "$HACK_DIR/tools/go.mod" "$HACK_DIR/tools/go.sum" "$HACK_DIR/tools/etcd/main.go" \
    "$HACK_DIR/build-tools.sh" \
    | sha256sum | cut -c1-16
}

# Where the binaries are: PADDOCK_BIN_DIR (a folder of release binaries the
# user already has) wins; otherwise the version-keyed build cache.
tools_bin_dir() {
  if [[ -n "${PADDOCK_BIN_DIR:-}" ]]; then
    echo "$PADDOCK_BIN_DIR"
  else
    echo "$PADDOCK_CACHE/bin/$(tools_key)"
  fi
}

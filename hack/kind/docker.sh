#!/usr/bin/env bash
# A Docker Engine for the kind e2e: the one already running when there is one,
# otherwise a private dockerd (Debian's docker.io) with its own socket, data root
# and exec root, and hack/kind/runc-wrapper as its default runtime.
#
#   hack/kind/docker.sh install   install what the kind path needs from Debian (root, apt)
#   hack/kind/docker.sh start     use a running engine, or start the private one
#   hack/kind/docker.sh stop      stop the private engine (never one it did not start)
#   hack/kind/docker.sh status    say which engine answers
#   hack/kind/docker.sh env       print export lines: eval "$(hack/kind/docker.sh env)"
#
# The private engine keeps its data root (and so every image built for kind)
# in $PADDOCK_CACHE/kind/docker, so a later run reuses the images; its socket,
# pid file and exec root are in $PADDOCK_DOCKER_RUN (default /run/paddock-docker).
#
# `start` exits 3, with the reason on stderr, only when no engine can run here:
# none answers, and this is not root or there is neither a dockerd nor apt-get
# to install one. Where one can run (root with apt, as on this project's
# machines and CI's), every other failure (apt-get, dockerd not starting, a
# privileged container failing, no binfmt_misc for the arm64 worker) exits 1:
# hack/kind-e2e.sh then fails instead of skipping.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RUN_DIR="${PADDOCK_DOCKER_RUN:-/run/paddock-docker}"
DATA_ROOT="$KIND_CACHE/docker"
SOCK="$RUN_DIR/docker.sock"
PIDFILE="$RUN_DIR/dockerd.pid"
LOGFILE="$KIND_CACHE/logs/dockerd.log"
# Debian packages the kind path uses on the host: the engine (docker.io brings
# containerd, runc, iptables), jq for the runtime wrapper, debootstrap for the
# root file systems; qemu-user-static for the emulated arm64 worker
# (PADDOCK_KIND_ARM64=1, the default of hack/kind-e2e.sh) and patch for its
# containerd (hack/kind/build-bins.sh), and the arm64 cross compiler only for
# its `full` mode (pause; PADDOCK_ARM64_MODE=full).
PACKAGES=(docker.io jq debootstrap)
ARM64_PACKAGES=(qemu-user-static binfmt-support patch)
ARM64_FULL_PACKAGES=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)

private_running() {
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

answers() { # DOCKER_HOST value -> 0 when an engine answers there
  DOCKER_HOST="$1" timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

# The engine to use: DOCKER_HOST when it answers, then our private one, then
# the system socket. Prints the DOCKER_HOST value, or nothing.
current_host() {
  if [[ -n "${DOCKER_HOST:-}" ]] && answers "$DOCKER_HOST"; then
    echo "$DOCKER_HOST"
  elif private_running && answers "unix://$SOCK"; then
    echo "unix://$SOCK"
  elif [[ -S /var/run/docker.sock ]] && answers unix:///var/run/docker.sock; then
    echo unix:///var/run/docker.sock
  fi
}

# Whether an engine could run here at all (see the header); prints the reason
# when not. Root with apt-get (or with a dockerd already installed) can.
can_run() {
  if [[ "$(id -u)" != 0 ]]; then
    echo "no Docker Engine answers, and the private dockerd needs root" >&2
    return 3
  fi
  if ! command -v dockerd >/dev/null && ! command -v apt-get >/dev/null; then
    echo "no Docker Engine answers, no dockerd is installed and there is no apt-get to install docker.io" >&2
    return 3
  fi
}

# arm64 binaries (and arm64 containers) run here through qemu-user-static's
# binfmt_misc handler; the F flag keeps it working inside containers.
enable_binfmt() {
  [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] && return 0
  if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
      || { echo "cannot mount binfmt_misc (the emulated arm64 worker needs it)" >&2; return 1; }
  fi
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  [[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] \
    || { echo "no qemu-aarch64 binfmt handler (the emulated arm64 worker needs it)" >&2; return 1; }
}

# Exits 3 when nothing can be installed here (no root, no apt-get), 1 when the
# install itself fails.
install() {
  local want=("${PACKAGES[@]}") missing=() p
  [[ "${PADDOCK_KIND_ARM64:-0}" == 1 ]] && want+=("${ARM64_PACKAGES[@]}")
  [[ "${PADDOCK_KIND_ARM64:-0}" == 1 && "${PADDOCK_ARM64_MODE:-hybrid}" == full ]] \
    && want+=("${ARM64_FULL_PACKAGES[@]}")
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    if [[ "${PADDOCK_KIND_ARM64:-0}" == 1 ]]; then enable_binfmt; fi
    return 0
  fi
  [[ "$(id -u)" == 0 ]] || { echo "needs root to install: ${missing[*]}" >&2; return 3; }
  command -v apt-get >/dev/null || { echo "no apt-get to install: ${missing[*]}" >&2; return 3; }
  log "installing from Debian: ${missing[*]}"
  # Keep the package scripts from starting a system-wide dockerd: the engine
  # runs only when hack/kind/docker.sh start runs it.
  local policy=/usr/sbin/policy-rc.d created=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created=1
  fi
  local rc=0
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null; } || rc=$?
  [[ $created == 1 ]] && rm -f "$policy"
  [[ $rc == 0 ]] || { echo "apt-get install ${missing[*]} failed ($rc)" >&2; return 1; }
  if [[ "${PADDOCK_KIND_ARM64:-0}" == 1 ]]; then enable_binfmt; fi
}

write_config() {
  mkdir -p "$RUN_DIR" "$DATA_ROOT" "$(dirname "$LOGFILE")"
  cat > "$RUN_DIR/daemon.json" <<JSON
{
  "hosts": ["unix://$SOCK"],
  "data-root": "$DATA_ROOT",
  "exec-root": "$RUN_DIR/exec",
  "pidfile": "$PIDFILE",
  "storage-driver": "overlay2",
  "runtimes": {"paddock-runc": {"path": "$KIND_DIR/runc-wrapper"}},
  "default-runtime": "paddock-runc",
  "log-driver": "json-file",
  "log-opts": {"max-size": "20m", "max-file": "2"},
  "features": {"buildkit": false}
}
JSON
}

start() {
  local host
  host="$(current_host)"
  if [[ -n "$host" ]]; then
    log "Docker Engine answers at $host"
    return 0
  fi
  can_run || return 3
  local rc=0
  install || rc=$?
  [[ $rc == 0 ]] || return $rc
  command -v dockerd >/dev/null || { echo "dockerd is not installed (apt-get install docker.io)" >&2; return 1; }
  write_config
  log "starting a private dockerd (socket $SOCK, data root $DATA_ROOT)"
  # setsid: the engine outlives this script, in its own session, until `stop`.
  setsid nohup dockerd --config-file "$RUN_DIR/daemon.json" >> "$LOGFILE" 2>&1 < /dev/null &
  local deadline=$((SECONDS + 60))
  until answers "unix://$SOCK"; do
    if ((SECONDS >= deadline)) || ! kill -0 $! 2>/dev/null; then
      tail -n 15 "$LOGFILE" >&2
      echo "dockerd did not start; its log: $LOGFILE" >&2
      return 1
    fi
    sleep 0.5
  done
  # A privileged container proves the runtime wrapper works on this machine.
  local out
  if ! out="$(DOCKER_HOST="unix://$SOCK" docker run --rm --privileged --network none \
      "$(probe_image)" /bin/true 2>&1)"; then
    echo "privileged containers fail on this engine: $out" >&2
    stop
    return 1
  fi
  log "private dockerd ready (pid $(cat "$PIDFILE"))"
}

# The smallest image at hand for the privileged probe: an empty image with one
# static binary (the runc wrapper's probe needs nothing else).
probe_image() {
  local img="$LOCAL_REPO/probe:2"
  if ! DOCKER_HOST="unix://$SOCK" docker image inspect "$img" >/dev/null 2>&1; then
    local dir; dir="$(mktemp -d)"
    mkdir -p "$dir/bin"
    cp "$(type -P true)" "$dir/bin/true"
    # /bin/true from coreutils is dynamically linked; bring its loader and libc.
    local lib
    for lib in $(ldd "$dir/bin/true" | grep -o '/[^ ]*'); do
      mkdir -p "$dir$(dirname "$lib")"; cp -L "$lib" "$dir$lib"
    done
    tar -C "$dir" -c . | DOCKER_HOST="unix://$SOCK" docker import - "$img" >/dev/null
    rm -rf "$dir"
  fi
  echo "$img"
}

stop() {
  if ! private_running; then
    log "no private dockerd running"
    return 0
  fi
  local pid
  pid="$(cat "$PIDFILE")"
  log "stopping the private dockerd (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    log "dockerd still running after 30s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # dockerd's own containerd exits with it; make sure, by its pid file only.
  local cpid
  cpid="$(cat "$RUN_DIR/exec/containerd/containerd.pid" 2>/dev/null || true)"
  if [[ -n "$cpid" ]] && kill -0 "$cpid" 2>/dev/null; then kill -TERM "$cpid" 2>/dev/null || true; fi
  # Leftover mounts of the exec root would keep the next start from cleaning up.
  if command -v findmnt >/dev/null; then
    findmnt -rn -o TARGET | grep -F "$RUN_DIR/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  fi
  rm -f "$PIDFILE" "$SOCK"
  log "private dockerd stopped"
}

status() {
  local host
  host="$(current_host)"
  if [[ -z "$host" ]]; then
    echo "no Docker Engine answers"
    return 1
  fi
  echo "Docker Engine $(DOCKER_HOST="$host" docker version --format '{{.Server.Version}}') at $host$(private_running && [[ "$host" == "unix://$SOCK" ]] && echo " (private, pid $(cat "$PIDFILE"))")"
}

env_lines() {
  local host
  host="$(current_host)"
  [[ -n "$host" ]] && echo "export DOCKER_HOST='$host'"
  echo "export DOCKER_BUILDKIT=0"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) env_lines ;;
  *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
esac

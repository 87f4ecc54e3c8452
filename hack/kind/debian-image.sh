#!/usr/bin/env bash
# The root of every locally built image: a minimal Debian made with debootstrap
# from Debian's own packages (no registry is involved), imported into Docker.
#
#   hack/kind/debian-image.sh [amd64|arm64]    prints the image name
#
# The image is $LOCAL_REPO/debian:<suite>-<arch>-<key>, where the key covers
# the suite, the mirror and ROOTFS_RECIPE (bump it when the debootstrap steps
# below change); an existing image is reused. The root file system
# tarball is kept in $PADDOCK_CACHE/kind/rootfs so a lost Docker data root does
# not mean a new debootstrap. A foreign architecture (arm64 on x86) runs its
# package scripts under qemu-user-static through binfmt_misc.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ARCH="${1:-$(host_arch)}"
ROOTFS_RECIPE=1
key="$(echo "$ROOTFS_RECIPE $DEBIAN_SUITE $DEBIAN_MIRROR" | sha256sum | cut -c1-12)"
image="$LOCAL_REPO/debian:$DEBIAN_SUITE-$ARCH-$key"
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

tarball="$KIND_CACHE/rootfs/debian-$DEBIAN_SUITE-$ARCH-$key.tar"
if [[ ! -s "$tarball" ]]; then
  command -v debootstrap >/dev/null || die "debootstrap is missing (hack/kind/docker.sh install)"
  if [[ "$ARCH" != "$(host_arch)" ]] && [[ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]]; then
    die "no binfmt_misc handler for $ARCH: apt-get install qemu-user-static binfmt-support"
  fi
  mkdir -p "$KIND_CACHE/rootfs" "$KIND_CACHE/debs/$DEBIAN_SUITE-$ARCH"
  root="$(mktemp -d "$KIND_CACHE/rootfs/build.XXXXXX")"
  trap 'rm -rf "$root"' EXIT
  start=$SECONDS
  log "debootstrap $DEBIAN_SUITE ($ARCH, minbase) from $DEBIAN_MIRROR"
  debootstrap --variant=minbase --arch="$ARCH" --components=main \
    --cache-dir="$KIND_CACHE/debs/$DEBIAN_SUITE-$ARCH" \
    "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" > "$KIND_CACHE/logs/debootstrap-$ARCH.log" 2>&1 \
    || { tail -n 20 "$KIND_CACHE/logs/debootstrap-$ARCH.log" >&2; die "debootstrap failed"; }
  # What the official slim images do: only main, no recommends, no docs, no apt caches.
  cat > "$root/etc/apt/sources.list" <<LIST
deb $DEBIAN_MIRROR $DEBIAN_SUITE main
deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main
deb ${DEBIAN_MIRROR%/debian}/debian-security $DEBIAN_SUITE-security main
LIST
  cat > "$root/etc/apt/apt.conf.d/90paddock" <<'CONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
CONF
  cat > "$root/etc/dpkg/dpkg.cfg.d/90paddock-nodoc" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CONF
  rm -rf "$root"/usr/share/doc/*/[!c]* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
  : > "$root/etc/hostname"
  rm -f "$root/etc/resolv.conf"
  tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  log "debootstrap done in $((SECONDS - start))s ($(du -h "$tarball" | cut -f1))"
fi

docker import --platform "linux/$ARCH" \
  --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' "$tarball" "$image" >/dev/null
# Docker 20.10 records the host's architecture whatever --platform says.
"$KIND_DIR/set-arch.sh" "$image" "$ARCH"
echo "$image"

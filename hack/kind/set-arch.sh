#!/usr/bin/env bash
# Sets the architecture recorded in a local image's config, in place.
#
#   hack/kind/set-arch.sh IMAGE ARCH
#
# Docker 20.10 accepts `docker import --platform` but records the host's
# architecture, and its classic builder does the same for images built FROM
# scratch; an arm64 root file system then claims to be amd64, and containerd on
# an arm64 node refuses to unpack it ("no match for platform in manifest").
# This rewrites the config (architecture, variant) through docker save/load;
# the layers are untouched.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

image="$1" arch="$2"
[[ "$(docker image inspect -f '{{.Architecture}}' "$image")" == "$arch" ]] && exit 0
variant=""
[[ "$arch" == arm64 ]] && variant=v8
tmp="$(mktemp -d "$KIND_CACHE/set-arch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
docker save "$image" | tar -x -C "$tmp"
config="$(jq -r '.[0].Config' "$tmp/manifest.json")"
jq --arg a "$arch" --arg v "$variant" \
  '.architecture = $a | if $v == "" then del(.variant) else .variant = $v end' \
  "$tmp/$config" > "$tmp/config.new"
mv "$tmp/config.new" "$tmp/$config"
tar -C "$tmp" -c . | docker load >/dev/null
[[ "$(docker image inspect -f '{{.Architecture}}' "$image")" == "$arch" ]] \
  || die "could not set the architecture of $image to $arch"

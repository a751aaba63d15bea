#!/usr/bin/env bash
# Make (once) a Debian bookworm base image with Python 3.11 by debootstrap and import it
# into podman as localhost/modelport-base:bookworm; installs podman, buildah, runc and
# debootstrap when missing. The rootfs tarball is cached under
# $MODELPORT_IMAGES_CACHE (default ~/.cache/modelport/images); progress goes to stderr.
# scripts/router-image.sh (`make images`) builds on it.
set -euo pipefail
cache="${MODELPORT_IMAGES_CACHE:-$HOME/.cache/modelport/images}"
tarball="$cache/bookworm-python.tar"
image="localhost/modelport-base:bookworm"
export DEBIAN_FRONTEND=noninteractive
missing=""
for tool in podman buildah runc debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
  echo "== images: installing$missing" >&2
  apt-get update -qq >&2
  apt-get install -y -qq podman buildah runc debootstrap >&2
fi
if [ ! -f "$tarball" ]; then
  echo "== images: debootstrap of Debian bookworm with Python 3.11 (once)" >&2
  mkdir -p "$cache"
  rootfs="$(mktemp -d)"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" >&2
  # Trust what this machine trusts (a TLS-inspecting proxy's CA, say) for pip in builds.
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  tar -C "$rootfs" -cf "$tarball.partial" .  # renamed when whole: a stopped run leaves none
  mv "$tarball.partial" "$tarball"
  rm -rf "$rootfs"
fi
if ! podman image exists "$image"; then
  podman import "$tarball" "$image" >&2
fi
echo "$image"

#!/usr/bin/env bash
# Build the router image (services/Dockerfile, --target router) with buildah (chroot
# isolation) on the base image of scripts/base-image.sh, labelled with the digest of its
# sources (scripts/image_context.py). An image of the same sources is kept, and unchanged
# layers are reused. Prints the image's name; tests/e2e/test_images.py runs that image.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
image="localhost/modelport-router:test"
base="$(bash "$root/scripts/base-image.sh" | tail -n 1)"
context="$("$python" "$root/scripts/image_context.py")"
built="$(podman image inspect --format '{{ index .Labels "modelport.context" }}' "$image" \
  2>/dev/null || true)"
if [ "$built" != "$context" ]; then
  echo "== router image: building $image on $base (sources $context)" >&2
  buildah bud --isolation=chroot --layers --build-arg "BASE_IMAGE=$base" --target router \
    --label "modelport.context=$context" -f "$root/services/Dockerfile" -t "$image" \
    "$root" >&2
fi
echo "$image"

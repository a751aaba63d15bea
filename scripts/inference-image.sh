#!/usr/bin/env bash
# Build the CPU inference image (services/Dockerfile, --target inference,
# TORCH_VARIANT=cpu) with buildah (chroot isolation) on the base image of
# scripts/base-image.sh, labelled with the digest of its sources (scripts/image_context.py).
# An image of the same sources is kept; unchanged layers are reused, so a code change
# rebuilds only the last layer (the locked dependencies, torch included, sit below it).
# The CPU torch wheel comes from a local folder when one holds it (TORCH_FIND_LINKS, or
# /opt/wheels), bind-mounted read-only into the build; otherwise from PyTorch's CPU index.
# Prints the image's name; tests/e2e/test_images.py runs that image.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
image="localhost/modelport-inference-cpu:test"
wheels="${TORCH_FIND_LINKS:-/opt/wheels}"
base="$(bash "$root/scripts/base-image.sh" | tail -n 1)"
context="$("$python" "$root/scripts/image_context.py")"
built="$(podman image inspect --format '{{ index .Labels "modelport.context" }}' "$image" \
  2>/dev/null || true)"
if [ "$built" != "$context" ]; then
  local_wheels=()
  if compgen -G "$wheels/torch-2.13.0+cpu-*.whl" >/dev/null; then
    local_wheels=(--volume "$wheels:/wheels:ro" --build-arg PIP_FIND_LINKS=/wheels
      --build-arg TORCH_INDEX=none)
  fi
  echo "== inference image: building $image on $base (sources $context)" >&2
  buildah bud --isolation=chroot --layers --build-arg "BASE_IMAGE=$base" \
    --build-arg TORCH_VARIANT=cpu "${local_wheels[@]}" --target inference \
    --label "modelport.context=$context" -f "$root/services/Dockerfile" -t "$image" \
    "$root" >&2
fi
echo "$image"

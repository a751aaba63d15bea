# The two commands: `make up` runs the local suite, `make test` runs every check.
# Both create .venv on first use: the CPU torch wheel first (a bare `torch` requirement
# would pull a multi-GB CUDA build), then Modelport with its dev extras.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-stamp
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

CLIENTS_VENV ?= .venv-clients
CLIENTS_STAMP := $(CLIENTS_VENV)/.installed-stamp
NODE_STAMP := clients/node/node_modules/.installed-stamp

.PHONY: install clients tools up test lint format typecheck pytest protos node-stubs chart-docs \
	bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Reference clients in environments of their own: Triton's client pins protobuf < 7.
$(CLIENTS_STAMP):
	$(PYTHON) -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/python -m pip install --quiet 'tritonclient[grpc]==2.73.0'
	touch $@

$(NODE_STAMP): clients/node/package.json clients/node/package-lock.json
	cd clients/node && npm ci --no-audit --no-fund --loglevel=error
	touch $@

clients: $(CLIENTS_STAMP) $(NODE_STAMP)

# helm, kubernetes-validate, checkov, check-jsonschema (cached outside the repository).
tools:
	bash scripts/chart-tools.sh > /dev/null

# Values table of charts/modelport/README.md from the comments in values.yaml.
chart-docs: install
	$(PY) scripts/chart_values_table.py

up: install
	$(BIN)/modelport up

test: install clients tools lint typecheck pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy

pytest: install clients tools
	$(BIN)/pytest $(PYTEST_ARGS)

# Regenerate the committed stubs from protos/ (tests/unit/test_stubs.py fails on drift).
protos: install node-stubs
	$(PY) scripts/gen_stubs.py

# TypeScript types for the Node client (tests/e2e/test_clients.py checks for drift).
node-stubs: $(NODE_STAMP)
	cd clients/node && rm -rf generated && npm run --silent generate

bench: install
	$(PY) benchmarks/embedding.py

clean:
	rm -rf $(VENV) $(CLIENTS_VENV) clients/node/node_modules clients/node/dist .pytest_cache \
		.mypy_cache .ruff_cache

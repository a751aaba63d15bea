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

.PHONY: install up test lint format typecheck pytest protos bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

up: install
	$(BIN)/modelport up

test: install lint typecheck pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

# Regenerate the committed stubs from protos/ (tests/unit/test_stubs.py fails on drift).
protos: install
	$(PY) scripts/gen_stubs.py

bench: install
	$(PY) benchmarks/embedding.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Every target works on a fresh machine with only python3: `make test` installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/federate demo

lint: $(STAMP)
	$(BIN)/ruff check federate schemas site_adapters tests
	$(BIN)/ruff format --check federate schemas site_adapters tests
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy federate schemas site_adapters

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

# On demand, never in CI: writes benchmarks/RESULTS.md, exits 1 when a target is missed.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

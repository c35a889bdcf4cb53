# tracegrad: the two commands of the README, and a few helpers.
#   make demo   -> create .venv, install tracegrad, run the main job
#   make test   -> create .venv, install the dev extra, run every test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test lint notebooks bench clean venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Stamps: rebuilt when pyproject.toml changes, so a warm run costs seconds.
$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e ".[notebooks]"
	touch $@

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e ".[dev]"
	touch $@ $(VENV)/.installed-demo

venv: $(VENV)/.installed

demo: $(VENV)/.installed-demo
	$(BIN)/tracegrad demo --out out

test: $(VENV)/.installed
	$(BIN)/python -m ruff check engine nn viz tests bench
	$(BIN)/python -m pytest -q --nbmake --nbmake-kernel=python3 tests notebooks

lint: $(VENV)/.installed
	$(BIN)/python -m ruff check engine nn viz tests bench

notebooks: $(VENV)/.installed
	$(BIN)/python notebooks/execute.py

bench: $(VENV)/.installed
	$(PIP) install -q -e ".[bench]"
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis .ruff_cache

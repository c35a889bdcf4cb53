# tracegrad: the two commands of the README, and a few helpers.
#   make demo   -> create .venv, install tracegrad, run the main job
#   make test   -> create .venv, install the dev extra, run every test
#   make fuzz   -> the long fuzz run (12,000 random graphs; prints graphs, mismatches, seconds)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test lint notebooks figures bench fuzz clean venv

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

# The long fuzz run: >= 10,000 random scalar graphs against torch float64 and autograd, tensor
# programs against torch, traced programs against the dynamic engine (needs torch: pip install torch).
# Prints graphs, mismatches and seconds; TRACEGRAD_FUZZ=N sets the budget (default 12,000).
fuzz: $(VENV)/.installed
	TRACEGRAD_FUZZ=$${TRACEGRAD_FUZZ:-12000} $(BIN)/python -m tests.fuzz

lint: $(VENV)/.installed
	$(BIN)/python -m ruff check engine nn viz tests bench

notebooks: $(VENV)/.installed
	$(BIN)/python notebooks/execute.py

figures: $(VENV)/.installed
	$(BIN)/python notebooks/figures/make_figures.py

bench: $(VENV)/.installed
	$(PIP) install -q -e ".[bench]"
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis .ruff_cache

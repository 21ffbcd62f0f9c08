# ice_widgets: everything a fresh machine with Python 3.11+ and make needs.
# `make demo` and `make test` create .venv on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help demo test lint typecheck pytest emulator bench soak clean

help:
	@echo "make demo       start the emulator and JupyterLab on the example notebooks"
	@echo "make test       lint, type-check and run the whole test suite"
	@echo "make emulator   run the local ICE emulator in the foreground"
	@echo "make bench      run the benchmark scripts in bench/"
	@echo "make soak       the 10-minute live-watch soak (not part of make test)"

# Two install stamps: `make demo` installs only what the demo needs (.[demo]); `make test`
# and the other developer targets install the test toolchain (.[test]).
$(VENV)/.python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ice_widgets needs Python 3.11 or newer (PYTHON=$(PYTHON))")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@touch $@

$(VENV)/.installed-demo: pyproject.toml | $(VENV)/.python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	@touch $@

$(STAMP): pyproject.toml | $(VENV)/.python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

demo: $(VENV)/.installed-demo
	$(BIN)/ice-widgets demo

emulator: $(STAMP)
	$(BIN)/ice-widgets emulator --port 8765

lint: $(STAMP)
	$(BIN)/ruff check ice_widgets tests bench
	$(BIN)/ruff format --check ice_widgets tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

soak: $(STAMP)
	$(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info

# The two commands of the README: `make demo` (the main job) and `make test` (what CI runs).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps

.PHONY: demo test lint unit setup machine bench clean

demo: setup machine
	$(BIN)/pitcall demo

test: setup
	deploy/scripts/setup-machine.sh --no-start
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -q tests/unit

bench: setup machine
	$(BIN)/pitcall bench ingest

setup: $(STAMPS)/venv

$(STAMPS)/venv: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	mkdir -p $(STAMPS) && touch $@

machine:
	deploy/scripts/setup-machine.sh

clean:
	rm -rf $(VENV) $(STAMPS) *.egg-info .mypy_cache .ruff_cache .pytest_cache

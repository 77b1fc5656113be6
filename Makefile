# The two commands of the README: `make demo` (the main job) and `make test` (what CI runs).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps

PLUGIN := build/mosquitto/pitcall_subscribe_acl.so

.PHONY: demo test lint unit setup machine bench clean broker-plugin

demo: setup machine
	$(BIN)/pitcall demo

test: setup
	deploy/scripts/setup-machine.sh --no-start
	$(MAKE) broker-plugin
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

# Mosquitto plugin that refuses devices' subscriptions beyond their own topics (docs/devices.md).
broker-plugin: $(PLUGIN)

$(PLUGIN): deploy/mosquitto/plugin/pitcall_subscribe_acl.c
	mkdir -p $(@D)
	cc -shared -fPIC -O2 -Wall -Wextra -Werror -o $@ $<

clean:
	rm -rf $(VENV) $(STAMPS) *.egg-info .mypy_cache .ruff_cache .pytest_cache

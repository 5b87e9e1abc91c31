# Every target runs offline: no Pulumi CLI, no cloud account, no cluster.
STACK ?= dev
VENV  ?= .venv
PY    := $(VENV)/bin/python

.PHONY: setup plan gate test lint typecheck pytest schema docs bench clean

setup: $(VENV)/.installed           ## create .venv and install requirements.txt

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

plan: setup                         ## offline plan: make plan STACK=dev|prod
	$(PY) -m tools.plan --stack $(STACK)

gate: setup                         ## offline policy gate: make gate STACK=dev|prod
	$(PY) -m tools.gate --stack $(STACK)

test: lint typecheck pytest         ## everything CI runs
	$(PY) -m tools.gate --stack dev
	$(PY) -m tools.gate --stack prod

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: setup
	$(PY) -m mypy

pytest: setup
	$(PY) -m pytest

schema: setup                       ## refresh stacks/stack.schema.json from the models
	$(PY) -m stacks.schema

docs: setup                         ## regenerate the README's policy table from the pack
	$(PY) -m tools.policy_table

bench: setup                        ## the speed budgets (README, "Budgets")
	$(PY) -m tools.bench

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

# Every target runs offline: no Pulumi CLI, no cloud account, no cluster.
STACK ?= dev
VENV  ?= .venv
PY    := $(VENV)/bin/python
# Extra gate flags, e.g. GATE_FLAGS=--require-charts where the chart cache is filled.
GATE_FLAGS ?=

.PHONY: setup plan gate test lint typecheck pytest schema docs bench clean charts

setup: $(VENV)/.installed           ## create .venv and install requirements.txt

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

plan: setup                         ## offline plan: make plan STACK=dev|prod
	$(PY) -m tools.plan --stack $(STACK)

gate: setup                         ## offline policy gate: make gate STACK=dev|prod
	$(PY) -m tools.gate --stack $(STACK) $(GATE_FLAGS)

test: lint typecheck pytest         ## everything CI runs
	$(PY) -m tools.gate --stack dev $(GATE_FLAGS)
	$(PY) -m tools.gate --stack prod $(GATE_FLAGS)

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

charts: setup                       ## fill the chart cache (build/charts, or ESTATE_CHART_CACHE); needs network
	$(PY) -m tools.charts fill

bench: setup                        ## the speed budgets (README, "Budgets")
	$(PY) -m tools.bench

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

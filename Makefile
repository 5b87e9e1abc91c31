# Every target runs offline: no Pulumi CLI, no cloud account, no cluster.
STACK ?= dev
VENV  ?= .venv
PY    := $(VENV)/bin/python
# Extra gate flags, e.g. GATE_FLAGS=--require-charts where the chart cache is filled.
GATE_FLAGS ?=

.PHONY: setup plan gate test lint typecheck pytest schema docs bench clean charts
.PHONY: help config-docs readme-toc

# `make` alone lists the targets; every target names itself (CI and the README call `make setup`).
.DEFAULT_GOAL := help

help:                               ## list the targets with what they do
	@echo "usage: make <target> [STACK=dev|prod]"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: $(VENV)/.installed $(VENV)/bin/promtool  ## create .venv, install requirements.txt, promtool and amtool

# Says what it does, step by step, with pip's own output (each package collected, downloaded and
# installed). Idempotent: the stamp is written last, so a finished setup is skipped until
# requirements.txt changes, and an interrupted one starts again.
$(VENV)/.installed: requirements.txt
	@if [ -x $(PY) ]; then echo "setup [1/3] $(VENV) exists: reusing it"; \
	else echo "setup [1/3] creating the virtual environment $(VENV) (python3 -m venv)"; python3 -m venv $(VENV); fi
	@echo "setup [2/3] upgrading pip in $(VENV)"
	$(PY) -m pip install --upgrade --progress-bar on pip
	@echo "setup [3/3] installing the $$(grep -cE '^[A-Za-z0-9]' requirements.txt) pinned requirements of requirements.txt and their dependencies"
	$(PY) -m pip install --progress-bar on -r requirements.txt
	@touch $@
	@echo "setup done: $(VENV) is ready (make setup does nothing more until requirements.txt changes)"

# promtool and amtool for the rule tests, from Debian's signed archive (tools/rule_tools.py says why).
$(VENV)/bin/promtool: tools/rule_tools.py | $(VENV)/.installed
	$(PY) -m tools.rule_tools --dest $(VENV)/bin

plan: setup                         ## offline plan: make plan STACK=dev|prod
	$(PY) -m tools.plan --stack $(STACK)

gate: setup                         ## offline policy gate: make gate STACK=dev|prod
	$(PY) -m tools.gate --stack $(STACK) $(GATE_FLAGS)

test: lint typecheck pytest         ## everything CI runs
	$(PY) -m tools.gate --stack dev $(GATE_FLAGS)
	$(PY) -m tools.gate --stack prod $(GATE_FLAGS)

lint: setup                         ## ruff: lint and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: setup                    ## mypy over the files pyproject.toml lists
	$(PY) -m mypy

pytest: setup                       ## the pytest suite
	$(PY) -m pytest

schema: setup                       ## refresh stacks/stack.schema.json from the models
	$(PY) -m stacks.schema

docs: setup                         ## regenerate the README's policy table and contents, and docs/configuration.md
	$(PY) -m tools.policy_table

docs: config-docs readme-toc

config-docs: setup                  ## regenerate docs/configuration.md from the config models and defaults
	$(PY) -m tools.config_docs

readme-toc: setup                   ## regenerate the README's table of contents from its headings
	$(PY) -m tools.config_docs --toc

charts: setup                       ## fill the chart cache (build/charts, or ESTATE_CHART_CACHE); needs network
	$(PY) -m tools.charts fill

# Ratios measured in one run, the commands interleaved (BENCH_RUNS rounds): the prod plan against a
# process that only imports the SDK classes it registers, the gate with every chart rendered (from
# $ESTATE_CHART_CACHE, else build/charts; without charts, and saying so, where the cache lacks one)
# against the plan.
BENCH_RUNS ?= 7
bench: setup                        ## the speed budgets (README, "Budgets"): plan / SDK import floor, gate with charts / plan
	$(PY) -m tools.bench --runs $(BENCH_RUNS)

# --- Delivery: offline reports from build/plan-<stack>.json, workflow checks, bootstrap
BASE        ?= origin/main
DIFF_FLAGS  ?=
GATE_FLAGS  ?=

.PHONY: diff cost cost-docs deploy-time graph dashboard-picture workflows bootstrap-plan

diff: setup                         ## plan diff against a git ref: make diff STACK=dev BASE=origin/main [DIFF_FLAGS=--markdown]
	$(PY) -m tools.diff --stack $(STACK) --base $(BASE) $(DIFF_FLAGS)

cost: setup                         ## monthly cost estimate, idle and peak: make cost STACK=prod
	$(PY) -m tools.plan --stack $(STACK) --quiet
	$(PY) -m tools.cost --stack $(STACK)

deploy-time: setup                  ## critical path of a first `pulumi up`: make deploy-time STACK=prod
	$(PY) -m tools.plan --stack $(STACK) --quiet
	$(PY) -m tools.deploy_time --stack $(STACK)

graph: setup                        ## SVG and PNG of the estate in build/: make graph STACK=prod
	$(PY) -m tools.plan --stack $(STACK) --quiet
	$(PY) -m tools.graph --stack $(STACK)

# The overview dashboard drawn with each panel's query answered by a real Prometheus over synthetic
# series (tools/dashboard_picture.py); the server comes from Debian's archive like promtool.
dashboard-picture: setup            ## docs/dashboard-overview.png, the overview dashboard over synthetic series
	$(PY) -m tools.rule_tools --dest $(VENV)/bin --server
	$(PY) -m tools.dashboard_picture

workflows: setup                    ## actionlint and the GitHub workflow JSON Schema over .github/workflows
	$(VENV)/bin/actionlint -color=false .github/workflows/*.yml
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

cost-docs: setup                    ## regenerate the README's dev/prod cost tables from the current plans
	$(PY) -m tools.cost --update-readme

bootstrap-plan: setup               ## offline plan of the bootstrap project: make bootstrap-plan STACK=dev
	$(PY) -m bootstrap.plan --stack $(STACK)

clean:                              ## remove build/ and the tool caches
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

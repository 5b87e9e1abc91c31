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

# --- Delivery: offline reports from build/plan-<stack>.json, workflow checks, bootstrap
BASE        ?= origin/main
DIFF_FLAGS  ?=
GATE_FLAGS  ?=

.PHONY: diff cost cost-docs deploy-time graph workflows bootstrap-plan

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

workflows: setup                    ## actionlint and the GitHub workflow JSON Schema over .github/workflows
	$(VENV)/bin/actionlint -color=false .github/workflows/*.yml
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

cost-docs: setup                    ## regenerate the README's dev/prod cost tables from the current plans
	$(PY) -m tools.cost --update-readme

bootstrap-plan: setup               ## offline plan of the bootstrap project: make bootstrap-plan STACK=dev
	$(PY) -m bootstrap.plan --stack $(STACK)

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

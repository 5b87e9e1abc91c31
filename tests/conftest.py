"""Shared fixtures: the dev and prod plans, built once per session by the offline runner."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from stacks.load import ConfigError, load
from stacks.model import EstateConfig
from tools.analyzer import Analyzer
from tools.gate import PACK_DIR
from tools.plan import Plan, run_plan, stack_config


@pytest.fixture(scope="session")
def dev_plan() -> Plan:
    plan = run_plan("dev")
    assert plan.ok, plan.error
    return plan


@pytest.fixture(scope="session")
def prod_plan() -> Plan:
    plan = run_plan("prod")
    assert plan.ok, plan.error
    return plan


@pytest.fixture(params=["dev", "prod"])
def plan(request: pytest.FixtureRequest, dev_plan: Plan, prod_plan: Plan) -> Plan:
    return dev_plan if request.param == "dev" else prod_plan


def config_with(stack: str, **areas: Any) -> dict[str, str]:
    """The stack's config with whole `ai-estate:<area>` values replaced (None removes one)."""
    raw = stack_config(stack)
    for key, value in areas.items():
        full = key if ":" in key else f"ai-estate:{key}"
        if value is None:
            raw.pop(full, None)
        else:
            raw[full] = value if isinstance(value, str) else json.dumps(value)
    return raw


def config_problems(stack: str, **areas: Any) -> list[str]:
    """Each problem the loader reports for the stack's config with `areas` replaced, rendered."""
    with pytest.raises(ConfigError) as err:
        load(stack, config_with(stack, **areas))
    return [p.render() for p in err.value.problems]


@functools.cache
def stack_cfg(stack: str) -> EstateConfig:
    """The stack file's config as the program loads it. Tests take the project, region, zones,
    domain and addresses from here, never as literals, so they hold for any valid stack
    (`python -m tools.newcomer --check` runs them with others)."""
    return load(stack, stack_config(stack))


def registry(stack: str) -> str:
    """The stack's own Artifact Registry host: what images are pinned to and the pack allows."""
    cfg = stack_cfg(stack)
    return f"{cfg.region}-docker.pkg.dev/{cfg.project}"


def area(stack: str, name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(stack_config(stack).get(f"ai-estate:{name}", "{}"))
    return value


def children_of(plan: Plan, component_type: str) -> list[dict[str, Any]]:
    parents = {r["urn"] for r in plan.resources if r["type"] == component_type}
    assert parents, f"no {component_type} in the plan"
    return [r for r in plan.resources if r["parent"] in parents]


@pytest.fixture(scope="session")
def pack() -> Iterator[Analyzer]:
    """The policy pack, started once as the engine starts it and configured with TEST_CONFIG."""
    from tests.policy_fixtures import TEST_CONFIG

    with Analyzer(PACK_DIR, project="ai-estate", stack="test") as analyzer:
        analyzer.configure(TEST_CONFIG)
        yield analyzer


@pytest.fixture(scope="session")
def stack_pack() -> Iterator[Callable[[str], Analyzer]]:
    """The pack as the engine (and the gate) starts it for a stack: with the stack's config, from
    which it derives its initial config (policies/__main__.py). One process a stack, on first use;
    each `check` configures it anew."""
    with contextlib.ExitStack() as started:
        packs: dict[str, Analyzer] = {}

        def get(stack: str) -> Analyzer:
            if stack not in packs:
                analyzer = Analyzer(PACK_DIR, project="ai-estate", stack=stack, stack_config=stack_config(stack))
                packs[stack] = started.enter_context(analyzer)
            return packs[stack]

        yield get

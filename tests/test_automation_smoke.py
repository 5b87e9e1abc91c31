"""The release smoke test: Flagger's post-rollout webhook on each released cell calls n8n's committed
workflow, which calls every cell's readiness path inside the mesh and reports to Alertmanager."""

from __future__ import annotations

import json
from typing import Any

from components.automation.n8n import WORKFLOWS, WORKFLOWS_CONFIGMAP
from components.cells import spec as cells
from stacks.config_automation import SMOKE_TEST_PATH
from tests.conftest import area, config_with, stack_cfg
from tests.upstream import crd_problems
from tools.plan import Plan, run_plan

WORKFLOW = json.loads((WORKFLOWS / "smoke-test.json").read_text())


def _objects(plan: Plan, typ: str, namespace: str) -> dict[str, dict[str, Any]]:
    return {
        r["inputs"]["metadata"]["name"]: r["inputs"]
        for r in plan.by_type(typ)
        if r["inputs"]["metadata"].get("namespace") == namespace
    }


def test_the_workflow_is_a_chain_from_the_webhook_to_alertmanager() -> None:
    nodes = {n["name"]: n for n in WORKFLOW["nodes"]}
    (trigger,) = [n for n in WORKFLOW["nodes"] if n["type"] == "n8n-nodes-base.webhook"]
    assert trigger["parameters"]["path"] == SMOKE_TEST_PATH and trigger["parameters"]["httpMethod"] == "POST"
    # Each node feeds the next; every node but the last has one successor, and all are reached.
    chain, at = [trigger["name"]], trigger["name"]
    while at in WORKFLOW["connections"]:
        (nxt,) = [c["node"] for c in WORKFLOW["connections"][at]["main"][0]]
        chain.append(nxt)
        at = nxt
    assert chain == ["Release", "Health URLs", "Call each cell", "Result", "Alertmanager"] and set(chain) == set(nodes)
    # What it reads from Flagger's payload is what the Canary's webhook sends.
    code = nodes["Health URLs"]["parameters"]["jsCode"]
    assert "meta.health" in code and "meta.alertmanager" in code
    call = nodes["Call each cell"]
    assert call["onError"] == "continueRegularOutput"
    assert call["parameters"]["options"]["response"]["response"]["neverError"] is True
    result = nodes["Result"]["parameters"]["jsCode"]
    assert "severity: ok ? 'info' : 'critical'" in result
    assert nodes["Alertmanager"]["parameters"]["url"].endswith("/api/v2/alerts")


def test_released_cells_call_the_smoke_test_after_promotion(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    n = cfg.automation.n8n
    health = sorted(cells.health_url(name, c) for name, c in cfg.cells.items() if c.port is not None)
    canaries = [r["inputs"] for r in plan.by_type("kubernetes:flagger.app/v1beta1:Canary")]
    assert canaries
    for canary in canaries:
        assert crd_problems(canary) == []
        (hook,) = canary["spec"]["analysis"]["webhooks"]
        assert hook["type"] == "post-rollout" and hook["url"].endswith(f"/webhook/{SMOKE_TEST_PATH}")
        assert hook["url"].startswith(f"http://n8n-main.{n.namespace}.svc.cluster.local:")
        assert sorted(hook["metadata"]["health"].split(",")) == health
        assert hook["metadata"]["alertmanager"].endswith(f".{cfg.observability.namespace}.svc:9093")


def test_the_smoke_test_reaches_every_cell_and_alertmanager_only(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    n = cfg.automation.n8n
    account = cfg.identity.workloads[n.workload].service_account
    smoke = f"cluster.local/ns/{n.namespace}/sa/{account}"
    for name, cell in cfg.cells.items():
        if cell.port is None:
            continue
        policies = _objects(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", cell.namespace)
        assert f"cell-{name}-smoke-test" in policies
        authz = _objects(plan, "kubernetes:security.istio.io/v1:AuthorizationPolicy", cell.namespace)[f"cell-{name}"]
        assert smoke in authz["spec"]["rules"][0]["from"][0]["source"]["principals"]
    own = _objects(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", n.namespace)
    assert {"smoke-test-from-flagger", "smoke-test-to-alertmanager"} <= set(own)
    assert {f"smoke-test-to-{c.namespace}" for c in cfg.cells.values() if c.port} <= set(own)
    obs = cfg.observability.namespace
    alerts = _objects(plan, "kubernetes:security.istio.io/v1:AuthorizationPolicy", obs)["allow-smoke-test-alerts"]
    assert alerts["spec"]["rules"][0]["from"][0]["source"]["principals"] == [smoke]
    assert alerts["spec"]["rules"][0]["to"][0]["operation"]["ports"] == ["9093"]
    assert "allow-smoke-test" in _objects(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "flagger")
    workflows = _objects(plan, "kubernetes:core/v1:ConfigMap", n.namespace)[WORKFLOWS_CONFIGMAP]
    assert json.loads(workflows["data"]["smoke-test.json"]) == WORKFLOW


def test_without_the_smoke_test_no_cell_admits_n8n() -> None:
    automation = area("dev", "automation")
    plan = run_plan("dev", config=config_with("dev", automation={**automation, "n8n": {"smokeTest": False}}))
    assert plan.error is None, plan.error
    for canary in plan.by_type("kubernetes:flagger.app/v1beta1:Canary"):
        assert "webhooks" not in canary["inputs"]["spec"]["analysis"]
    assert not [r for r in plan.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy") if "smoke-test" in r["name"]]

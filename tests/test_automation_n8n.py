"""n8n (ai-estate:automation.n8n): its chart's values against the chart's own keys and schema, the
rendered objects (hardened by the transforms), its secrets, the sign-in with its public paths, and
every bad input the loader refuses."""

from __future__ import annotations

from typing import Any

import pytest

from components.automation.values_n8n import DB_SECRET, SECRETS, hardened
from components.kube import redis_client
from stacks.config_automation import N8N_PUBLIC_PATHS
from stacks.config_mesh import fqdn
from tests.conftest import area, config_problems, stack_cfg
from tests.upstream import unknown_value_keys, values_schema_problems
from tools.plan import Plan

CHART = "kubernetes:helm.sh/v4:Chart"


def _chart(plan: Plan) -> dict[str, Any]:
    (found,) = [r for r in plan.by_type(CHART) if r["name"].endswith("-n8n-chart")]
    return found


def test_n8n_values_are_the_charts_own_and_pass_its_schema(plan: Plan) -> None:
    values = _chart(plan)["inputs"]["values"]
    assert unknown_value_keys("n8n", values) == []
    assert values_schema_problems("n8n", values) == []


def test_n8n_is_pinned_on_the_estates_database_with_its_own_key(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    n = cfg.automation.n8n
    values = _chart(plan)["inputs"]["values"]
    assert values["image"]["tag"].startswith("2.") and "@sha256:" in values["image"]["tag"]
    db = values["database"]
    assert (db["host"], db["port"], db["database"], db["user"]) == ("127.0.0.1", 5432, n.database, n.database_user)
    assert db["passwordSecret"] == {"name": DB_SECRET, "key": "password"} and db["ssl"] == {"enabled": False}
    assert values["secretRefs"] == {"existingSecret": SECRETS}
    # The chart's own token Secret (lookup + random) is never rendered; nor its RBAC or PDB.
    assert values["taskRunners"]["authToken"]["existingSecret"]
    assert values["rbac"] == {"create": False} and values["pdb"] == {"enabled": False}
    assert values["queueMode"]["enabled"] is n.queue_mode and values["redis"]["enabled"] is n.queue_mode
    (proxy,) = values["extraInitContainers"]
    assert proxy["restartPolicy"] == "Always"
    env = {e["name"]: e.get("value") for e in values["config"]["extraEnv"]}
    assert ("NODE_EXTRA_CA_CERTS" in env) is n.queue_mode and env["N8N_METRICS"] == "true"
    secrets = {
        r["inputs"]["metadata"]["name"]: r["inputs"]
        for r in plan.by_type("kubernetes:external-secrets.io/v1:ExternalSecret")
        if r["inputs"]["metadata"]["namespace"] == n.namespace
    }
    host = fqdn(cfg.mesh.hosts[n.host].host, cfg.dns.domain or "")
    template = secrets[SECRETS]["spec"]["target"]["template"]["data"]
    assert template == {
        "N8N_ENCRYPTION_KEY": "{{ .key }}",
        "N8N_HOST": host,
        "N8N_PORT": "5678",
        "N8N_PROTOCOL": "https",
    }
    assert (redis_client.SECRET in secrets) is n.queue_mode


def test_prod_runs_the_queue_on_memorystore_over_tls(prod_plan: Plan) -> None:
    values = _chart(prod_plan)["inputs"]["values"]
    assert values["queueMode"]["enabled"] is True and values["redis"]["tls"] is True
    assert values["redis"]["passwordSecret"] == {"name": redis_client.SECRET, "key": "password"}


def test_the_transform_hardens_each_deployment_and_reads_the_queue_from_the_secret() -> None:
    deployment = {
        "kind": "Deployment",
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "n8n",
                            "securityContext": {"allowPrivilegeEscalation": False},
                            "volumeMounts": [{"name": "data", "mountPath": "/home/node/.n8n"}],
                            "env": [
                                {"name": "QUEUE_BULL_REDIS_HOST", "valueFrom": {"configMapKeyRef": {"name": "n8n"}}},
                                {"name": "N8N_PORT", "value": "5678"},
                            ],
                        }
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                }
            }
        },
    }
    out = hardened(deployment)["spec"]["template"]["spec"]
    (c,) = out["containers"]
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True}
    assert {m["mountPath"] for m in c["volumeMounts"]} == {"/home/node/.n8n", "/tmp"}
    assert {v["name"] for v in out["volumes"]} == {"data", "tmp"}
    assert c["env"][0]["valueFrom"] == {"secretKeyRef": {"name": redis_client.SECRET, "key": "host"}}
    assert c["env"][1] == {"name": "N8N_PORT", "value": "5678"}


def test_the_rendered_chart_is_hardened(prod_plan: Plan) -> None:
    from components.automation.values_n8n import harden_n8n
    from tests.upstream import require_charts
    from tools.charts.chart import render_charts

    cache = require_charts("n8n")
    (outcome,) = render_charts([_chart(prod_plan)], cache)
    objects = [c["inputs"] for c in outcome.children]
    kinds = sorted(o["kind"] for o in objects)
    assert "Secret" not in kinds and "Role" not in kinds and "PodDisruptionBudget" not in kinds
    deployments = [hardened(o) for o in objects if o["kind"] == "Deployment"]
    assert len(deployments) == 2 and harden_n8n.__name__  # main and workers
    for d in deployments:
        for c in d["spec"]["template"]["spec"]["containers"]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            env = {e["name"]: e for e in c.get("env", [])}
            assert env["QUEUE_BULL_REDIS_HOST"]["valueFrom"]["secretKeyRef"]["key"] == "host"


def test_the_sign_in_leaves_only_the_public_paths_open(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    n = cfg.automation.n8n
    host = fqdn(cfg.mesh.hosts[n.host].host, cfg.dns.domain or "")
    policy = next(
        r["inputs"]
        for r in plan.by_type("kubernetes:security.istio.io/v1:AuthorizationPolicy")
        if r["inputs"]["metadata"]["name"] == "sign-in"
    )
    rules = {tuple(r["to"][0]["operation"]["hosts"]): r["to"][0]["operation"] for r in policy["spec"]["rules"]}
    assert rules[(host,)]["notPaths"] == [f"{p}*" for p in n.public_paths]
    assert all(p in N8N_PUBLIC_PATHS for p in n.public_paths)
    windmill = fqdn(cfg.mesh.hosts[cfg.automation.windmill.host].host, cfg.dns.domain or "")
    assert "notPaths" not in rules[(windmill,)]


def _automation(stack: str, n8n: dict[str, Any]) -> dict[str, Any]:
    current = area(stack, "automation")
    return {**current, "n8n": {**current.get("n8n", {}), **n8n}}


@pytest.mark.parametrize(
    ("n8n", "expected"),
    [
        ({"publicPaths": ["/rest/"]}, "automation.n8n.publicPaths[0] = '/rest/': only these may skip the sign-in"),
        ({"database": "windmill"}, "automation.n8n.database = 'windmill': is Windmill's"),
        ({"database": "harbor"}, "automation.n8n.database = 'harbor': is Harbor's"),
        ({"databaseUser": "windmill"}, "automation.n8n.databaseUser = 'windmill': is Windmill's"),
        ({"database": "app"}, "automation.n8n.database = 'app': is the estate's own"),
        ({"host": "windmill"}, "automation.n8n.host = 'windmill': must be a mesh.hosts entry"),
    ],
)
def test_bad_n8n_names_its_key(n8n: dict[str, Any], expected: str) -> None:
    problems = config_problems("dev", automation=_automation("dev", n8n))
    assert any(p.startswith(expected) for p in problems), problems


def test_prod_runs_n8n_in_queue_mode() -> None:
    problems = config_problems("prod", automation=_automation("prod", {"queueMode": False}))
    assert "automation.n8n.queueMode = False: prod runs n8n in queue mode (main and workers)" in problems

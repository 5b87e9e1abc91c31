"""Windmill and the gateway's sign-in (ai-estate:automation): the chart's values against the chart
itself, what the plans deploy, the database roles, and every bad input the loader refuses."""

from __future__ import annotations

from typing import Any

import pytest

from components.automation.sso import CLIENT_ID, CLIENT_SECRET, COOKIE_SECRET, proxy_args
from components.automation.values_windmill import DATABASE_SECRET, SANDBOX_ACCOUNT, SUPERADMIN_SECRET
from components.platform.grants import generated_migrations
from stacks.config_automation import SSO_PROVIDER
from stacks.config_mesh import fqdn
from tests.conftest import area, config_problems, stack_cfg
from tests.upstream import crd_problems, unknown_value_keys
from tools.plan import Plan

CHART = "kubernetes:helm.sh/v4:Chart"


def _chart(plan: Plan, suffix: str) -> dict[str, Any]:
    (found,) = [r["inputs"] for r in plan.by_type(CHART) if r["name"].endswith(suffix)]
    return found


def _objects(plan: Plan, typ: str, namespace: str) -> dict[str, dict[str, Any]]:
    return {
        r["inputs"]["metadata"]["name"]: r["inputs"]
        for r in plan.by_type(typ)
        if r["inputs"]["metadata"].get("namespace") == namespace
    }


def test_windmill_values_are_the_charts_own_keys(plan: Plan) -> None:
    assert unknown_value_keys("windmill", _chart(plan, "-windmill-chart")["values"]) == []


def test_an_unknown_windmill_key_is_caught() -> None:
    assert unknown_value_keys("windmill", {"windmill": {"workerGroup": "x", "appReplicas": 1}}) == [
        "windmill.workerGroup"
    ]


def test_windmill_runs_rootless_on_the_estates_database(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    w = cfg.automation.windmill
    chart = _chart(plan, "-windmill-chart")
    values = chart["values"]
    assert chart["namespace"] == w.namespace
    assert values["postgresql"] == {"enabled": False} and values["ingress"] == {"enabled": False}
    block = values["windmill"]
    # The URL is a file from External Secrets, never the chart's demo URL or an env value.
    assert block["databaseUrlAsFile"] is True and block["databaseUrlSecretName"] == DATABASE_SECRET
    assert block["databaseUrl"] == "" and block["extraReplicas"] == 0
    assert block["baseDomain"] == fqdn(cfg.mesh.hosts[w.host].host, cfg.dns.domain or "")
    assert block["baseProtocol"] == "https" and "@sha256:" in block["tag"]
    groups = {g["name"]: g for g in block["workerGroups"]}
    assert set(groups) == set(w.worker_groups)
    for name, group in w.worker_groups.items():
        g = groups[name]
        assert g["privileged"] is False and g["disableUnsharePid"] is True
        assert g["podSecurityContext"]["runAsNonRoot"] is True and g["podSecurityContext"]["runAsUser"] != 0
        assert g["containerSecurityContext"]["readOnlyRootFilesystem"] is True
        env = {e["name"]: e.get("value") for e in g["extraEnv"]}
        assert env["WORKER_TAGS"] == ",".join(group.tags) and env["HOME"] == "/tmp"
        assert env["BASE_INTERNAL_URL"].startswith(f"http://windmill-app.{w.namespace}.svc.cluster.local:")
        *steps, proxy = g["initContainers"]
        # The release group first copies cosign out of its image (components/automation/release).
        assert [c["name"] for c in steps] == (["cosign"] if group.release else [])
        assert proxy["restartPolicy"] == "Always"
        assert proxy["env"][0]["valueFrom"]["configMapKeyRef"]["key"] == "connection-name"
        assert g.get("serviceAccountName") == (SANDBOX_ACCOUNT if group.sandbox else None)
    app = block["app"]
    superadmin = next(e for e in app["extraEnv"] if e["name"] == "SUPERADMIN_SECRET")
    assert superadmin["valueFrom"]["secretKeyRef"]["name"] == SUPERADMIN_SECRET
    secrets = _objects(plan, "kubernetes:external-secrets.io/v1:ExternalSecret", w.namespace)
    url = secrets[DATABASE_SECRET]["spec"]["target"]["template"]["data"]["url"]
    assert url.startswith(f"postgres://{w.database_user}:") and url.endswith(
        f"@127.0.0.1:5432/{w.database}?sslmode=disable"
    )
    assert _objects(plan, "kubernetes:core/v1:ConfigMap", w.namespace)["cloud-sql-instance"]


def test_windmill_gets_the_roles_it_expects_before_its_first_start() -> None:
    cfg = stack_cfg("dev")
    w = cfg.automation.windmill
    body = generated_migrations(cfg)[f"9000_estate_{w.database}.sql"]
    assert "CREATE ROLE windmill_user NOLOGIN" in body and "CREATE ROLE windmill_admin NOLOGIN" in body
    assert "BYPASSRLS" not in body  # Cloud SQL cannot grant it
    assert f'GRANT windmill_admin, windmill_user TO "{w.database_user}";' in body
    assert f'REVOKE CONNECT, TEMPORARY ON DATABASE "{w.database}" FROM PUBLIC;' in body


def test_the_gateway_asks_the_sign_in_for_windmill(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    host = fqdn(cfg.mesh.hosts[cfg.automation.windmill.host].host, cfg.dns.domain or "")
    mesh = _chart(plan, "-mesh-istiod")["values"]["meshConfig"]
    (provider,) = [p for p in mesh["extensionProviders"] if p["name"] == SSO_PROVIDER]
    assert provider["envoyExtAuthzHttp"]["service"].startswith("oauth2-proxy.")
    policy = _objects(plan, "kubernetes:security.istio.io/v1:AuthorizationPolicy", "istio-ingress")["sign-in"]
    assert crd_problems(policy) == []
    assert policy["spec"]["action"] == "CUSTOM" and policy["spec"]["provider"] == {"name": SSO_PROVIDER}
    assert {"to": [{"operation": {"hosts": [host]}}]} in policy["spec"]["rules"]  # Windmill's: no public path
    (proxy,) = _objects(plan, "kubernetes:apps/v1:Deployment", "sso").values()
    (container,) = proxy["spec"]["template"]["spec"]["containers"]
    assert container["args"] == proxy_args(cfg.automation.sso, cfg.dns.domain or "")
    assert all(f"--email-domain={d}" in container["args"] for d in cfg.automation.sso.email_domains)
    assert "--upstream=static://200" in container["args"]
    # The OAuth client is a person's to set; the cookie key is generated once.
    stored = {r["inputs"]["secretId"]: r for r in plan.by_type("gcp:secretmanager/secret:Secret")}
    versions = {r["parent"] for r in plan.by_type("gcp:secretmanager/secretVersion:SecretVersion")}
    for key, generated in ((CLIENT_ID, False), (CLIENT_SECRET, False), (COOKIE_SECRET, True)):
        secret = stored[f"{cfg.prefix}-{key}"]
        assert (secret["parent"] in versions) == generated or generated is False


def test_sandbox_groups_start_jobs_with_the_orchestrators_rights_only(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    w = cfg.automation.windmill
    binding = _objects(plan, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", cfg.sandbox.namespace)
    (ours,) = [b for name, b in binding.items() if name.startswith("windmill-")]
    assert ours["roleRef"]["name"] == "orchestrator"
    assert ours["subjects"] == [{"kind": "ServiceAccount", "name": SANDBOX_ACCOUNT, "namespace": w.namespace}]
    policies = _objects(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", w.namespace)
    for name, group in w.worker_groups.items():
        assert (f"workers-{name}-api-server" in policies) == group.sandbox
        assert (f"workers-{name}-public-https" in policies) == group.public_https


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"automation": {"sso": {"emailDomains": []}}}, "automation.sso.emailDomains = []: who may sign in"),
        ({"automation": {"windmill": {"database": "harbor"}}}, "automation.windmill.database = 'harbor': is Harbor's"),
        (
            {"automation": {"windmill": {"database": "app"}}},
            "automation.windmill.database = 'app': is the estate's own",
        ),
        (
            {"automation": {"windmill": {"databaseUser": "harbor"}}},
            "automation.windmill.databaseUser = 'harbor': is Harbor's",
        ),
        (
            {"automation": {"windmill": {"host": "grafana"}}},
            "automation.windmill.host = 'grafana': must be a mesh.hosts entry",
        ),
        (
            {"automation": {"windmill": {"namespace": "cells"}}},
            "identity.workloads.windmill.namespace = 'windmill': must be 'cells'",
        ),
        (
            {"automation": {"windmill": {"workerGroups": {"default": {"tags": ["python3", "dependency"]}}}}},
            "automation.windmill.workerGroups = ['default', 'release', 'sandbox']: no group with replicas serves "
            "the tag 'flow'",
        ),
        (
            {"sandbox": {"enabled": False}},
            "automation.windmill.workerGroups = ['default', 'release', 'sandbox']: a group with sandbox: true",
        ),
    ],
)
def test_bad_automation_names_its_key(change: dict[str, Any], expected: str) -> None:
    areas = {k: v for k, v in change.items()}
    if "automation" in areas:
        # Keep the committed sign-in unless the case is about it.
        sso = {**area("dev", "automation").get("sso", {}), **areas["automation"].get("sso", {})}
        areas["automation"] = {**areas["automation"], "sso": sso}
    problems = config_problems("dev", **areas)
    assert any(p.startswith(expected) for p in problems), problems


def test_prod_runs_two_windmill_servers() -> None:
    problems = config_problems("prod", automation={**area("prod", "automation"), "windmill": {"replicas": 1}})
    assert "automation.windmill.replicas = 1: at least 2 in prod" in problems

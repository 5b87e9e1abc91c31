"""Whole-stack properties of the dev and prod plans."""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Any

from tests.conftest import stack_cfg
from tools.mocks import EstateMocks
from tools.plan import MASK, Plan, run_plan

STATEFUL = {
    "gcp:sql/databaseInstance:DatabaseInstance",
    "gcp:sql/database:Database",
    "gcp:storage/bucket:Bucket",
    "gcp:redis/instance:Instance",
    "gcp:kms/cryptoKey:CryptoKey",
    "gcp:kms/keyRing:KeyRing",
    "gcp:container/cluster:Cluster",
    "random:index/randomPassword:RandomPassword",
    "gcp:pubsub/topic:Topic",
    "gcp:pubsub/subscription:Subscription",
    "tls:index/privateKey:PrivateKey",
    "harbor:index/project:Project",
}
LABEL_FIELDS = ("labels", "resource_labels", "user_labels")


def _walk(value: Any) -> list[Any]:
    out = [value]
    if isinstance(value, dict):
        for v in value.values():
            out += _walk(v)
    elif isinstance(value, list):
        for v in value:
            out += _walk(v)
    return out


def test_no_default_compute_service_account(plan: Plan) -> None:
    text = json.dumps(plan.resources)
    assert "-compute@developer.gserviceaccount.com" not in text
    accounts = {f"{r['inputs']['accountId']}@" for r in plan.by_type("gcp:serviceaccount/account:Account")}
    pools = plan.by_type("gcp:container/nodePool:NodePool")
    for res in pools + plan.by_type("gcp:container/cluster:Cluster"):
        sa = res["inputs"]["nodeConfig"]["serviceAccount"]
        assert any(sa.startswith(a) for a in accounts), (res["name"], sa)
    assert len({p["inputs"]["nodeConfig"]["serviceAccount"] for p in pools}) == len(pools), "one account per pool"


def test_every_custom_resource_sits_under_a_component(plan: Plan) -> None:
    components = {r["urn"] for r in plan.resources if not r["custom"]}
    assert components
    for res in plan.resources:
        if res["custom"]:
            assert res["parent"] in components, res["urn"]
        else:
            # Our components, and the upstream charts they install (helm.v4.Chart is a component).
            assert res["type"].startswith("estate:") or res["type"] == "kubernetes:helm.sh/v4:Chart", res["type"]
            assert res["parent"].endswith("pulumi:pulumi:Stack::ai-estate-" + plan.stack) or res["parent"] in components


def test_every_stateful_resource_is_protected_in_prod(prod_plan: Plan) -> None:
    stateful = [r for r in prod_plan.resources if r["type"] in STATEFUL]
    assert {r["type"] for r in stateful} == STATEFUL
    assert [r["name"] for r in stateful if not r["options"]["protect"]] == []
    images = prod_plan.one("gcp:artifactregistry/repository:Repository", "estate-prod-registry-images")
    assert images["options"]["protect"]
    for secret in prod_plan.by_type("gcp:secretmanager/secret:Secret"):
        # The instance's CA and address are read from it again by every `up`: nothing to lose.
        if not secret["inputs"]["secretId"].endswith(("-redis-ca", "-redis-address")):
            assert secret["options"]["protect"], secret["name"]


def test_data_survives_mistakes_in_dev_too(dev_plan: Plan) -> None:
    for bucket in dev_plan.by_type("gcp:storage/bucket:Bucket"):
        assert bucket["inputs"]["versioning"] == {"enabled": True}
    sql = dev_plan.one("gcp:sql/databaseInstance:DatabaseInstance", "estate-dev-db-instance")
    backups = sql["inputs"]["settings"]["backupConfiguration"]
    assert backups["enabled"] and backups["pointInTimeRecoveryEnabled"]
    redis = dev_plan.one("gcp:redis/instance:Instance", "estate-dev-cache-redis")
    assert redis["inputs"]["persistenceConfig"]["persistenceMode"] == "RDB"


def _label_field(type_: str) -> str | None:
    module, cls = type_.split(":")[1].split("/")[0], type_.split(":")[2]
    resource = getattr(importlib.import_module(f"pulumi_gcp.{module}"), cls)
    params = inspect.signature(resource._internal_init).parameters
    found = [f for f in LABEL_FIELDS if f in params]
    return found[0] if found else None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def test_labels_everywhere(plan: Plan) -> None:
    checked = 0
    for res in plan.resources:
        labels: dict[str, str] | None = None
        if res["type"].startswith("gcp:"):
            field = _label_field(res["type"])
            if field is not None:
                labels = res["inputs"].get(_camel(field))
            elif res["type"] == "gcp:sql/databaseInstance:DatabaseInstance":
                labels = res["inputs"]["settings"]["userLabels"]
            elif res["type"] == "gcp:container/nodePool:NodePool":
                labels = res["inputs"]["nodeConfig"]["resourceLabels"]
            else:
                continue
            assert labels and labels["environment"] == plan.stack and labels["app"] == "ai-estate", res["name"]
        elif res["type"].startswith("kubernetes:") and res["custom"]:
            labels = res["inputs"]["metadata"].get("labels")
            assert labels and labels["app.kubernetes.io/part-of"] == "ai-estate", res["name"]
        else:
            continue
        checked += 1
    assert checked > 30


def test_preview_and_up_register_the_same_resources(plan: Plan) -> None:
    up = run_plan(plan.stack, preview=False)
    assert up.ok, up.error
    assert [r["urn"] for r in up.resources] and sorted(r["urn"] for r in up.resources) == sorted(
        r["urn"] for r in plan.resources
    )


def test_secrets_never_reach_the_plan_in_clear(plan: Plan) -> None:
    mocks = EstateMocks(project="x", region="y")
    password = mocks._password(f"estate-{plan.stack}-db-admin-password", {"length": 32})["result"]
    text = json.dumps(plan.to_json())
    assert password not in text and "mock-auth-string" not in text
    assert plan.outputs["kubeconfig"] == MASK and plan.outputs["sqlAdminPassword"] == MASK
    secret_version_data = [
        r["inputs"]["secretData"] for r in plan.by_type("gcp:secretmanager/secretVersion:SecretVersion")
    ]
    assert secret_version_data and all(d["value"] == MASK for d in secret_version_data)


def test_generated_credentials_stay_secret_in_state(plan: Plan) -> None:
    # The providers mark these outputs secret themselves; this catches an upgrade that stops doing so.
    secret_outputs = {
        "gcp:secretmanager/secretVersion:SecretVersion": "secretData",
        "gcp:redis/instance:Instance": "authString",
        "gcp:sql/user:User": "password",
        "random:index/randomPassword:RandomPassword": "result",
    }
    for type_, output in secret_outputs.items():
        resources = plan.by_type(type_)
        assert resources, type_
        for res in resources:
            assert output in res["options"]["additionalSecretOutputs"], (type_, res["name"])


def test_outputs(plan: Plan) -> None:
    out = plan.outputs
    assert out["clusterName"] == f"estate-{plan.stack}-gke"
    assert out["clusterDnsEndpoint"].endswith(".gke.goog")
    instance = plan.one("gcp:sql/databaseInstance:DatabaseInstance", f"estate-{plan.stack}-db-instance")
    cfg = stack_cfg(plan.stack)
    assert out["sqlConnectionName"] == f"{cfg.project}:{cfg.region}:{instance['inputs']['name']}"
    assert out["redisHost"]
    assert set(out["buckets"]) == {"artifacts", "registry", "logs", "traces", "models", "backups"}
    assert all(v.endswith(".iam.gserviceaccount.com") for v in out["nodeServiceAccounts"].values())
    assert "db-migrate" in out["workloadServiceAccounts"]


def test_no_basic_roles_or_project_wide_impersonation(plan: Plan) -> None:
    project_roles = {r["inputs"]["role"] for r in plan.by_type("gcp:projects/iAMMember:IAMMember")}
    assert project_roles
    assert not project_roles & {
        "roles/owner",
        "roles/editor",
        "roles/viewer",
        "roles/iam.serviceAccountUser",
        "roles/iam.serviceAccountTokenCreator",
    }
    for res in plan.resources:
        role = res["inputs"].get("role", "")
        assert role not in ("roles/owner", "roles/editor", "roles/viewer"), res["name"]
        member = res["inputs"].get("member", "")
        assert member not in ("allUsers", "allAuthenticatedUsers"), res["name"]

"""The bootstrap project's offline plan: federation admits one repository, no keys, no basic roles."""

from __future__ import annotations

from typing import Any

import pytest

from bootstrap.config import BootstrapConfigError, load
from bootstrap.federation import (
    ATTRIBUTE_MAPPING,
    BASIC_ROLES,
    DEPLOYER_ROLES,
    PREVIEWER_ROLES,
    attribute_condition,
    check_roles,
    deployer_member,
)
from bootstrap.plan import bootstrap_config, run_bootstrap_plan
from tools.plan import Plan


@pytest.fixture(scope="module", params=["dev", "prod"])
def plan(request: pytest.FixtureRequest) -> Plan:
    result = run_bootstrap_plan(request.param)
    assert result.ok, result.error
    return result


def _one(plan: Plan, type_: str) -> dict[str, Any]:
    [res] = plan.by_type(type_)
    return res


def _federation_members(plan: Plan, account_id: str) -> list[str]:
    accounts = plan.by_type("gcp:serviceaccount/account:Account")
    account = next(r for r in accounts if r["inputs"]["accountId"] == account_id)
    return sorted(
        r["inputs"]["member"]
        for r in plan.by_type("gcp:serviceaccount/iAMMember:IAMMember")
        if r["inputs"]["role"] == "roles/iam.workloadIdentityUser" and account["urn"] in r["dependencies"]
    )


def test_provider_admits_only_this_repository(plan: Plan) -> None:
    provider = _one(plan, "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider")
    repo = bootstrap_config(plan.stack)["ai-estate-bootstrap:repository"]
    assert provider["inputs"]["attributeCondition"] == f'assertion.repository == "{repo}"'
    assert provider["inputs"]["oidc"]["issuerUri"] == "https://token.actions.githubusercontent.com"
    assert provider["inputs"]["attributeMapping"]["attribute.repository"] == "assertion.repository"


@pytest.mark.parametrize("bad", ["acme", "acme/*", 'acme/ai-estate" || true || "', "acme/a b", "a/b/c"])
def test_attribute_condition_refuses_anything_but_owner_slash_name(bad: str) -> None:
    with pytest.raises(ValueError, match="owner/name"):
        attribute_condition(bad)


def test_config_names_the_bad_key_and_what_is_allowed() -> None:
    config = bootstrap_config("dev", {"ai-estate-bootstrap:repository": "acme/*"})
    with pytest.raises(BootstrapConfigError, match=r"ai-estate-bootstrap:repository = 'acme/\*': String should match"):
        load(config, "dev")
    prod = bootstrap_config("prod", {"ai-estate-bootstrap:deployEnvironment": None})
    with pytest.raises(BootstrapConfigError, match="deployEnvironment is required when environment is prod"):
        load(prod, "prod")
    failed = run_bootstrap_plan("dev", config)
    assert failed.error and "ai-estate-bootstrap:repository" in failed.error and failed.resources == []


def test_no_service_account_keys_anywhere(plan: Plan) -> None:
    types = {r["type"] for r in plan.resources}
    assert not {t for t in types if t.startswith("gcp:serviceaccount/") and "key" in t.lower()}
    assert "gcp:storage/hmacKey:HmacKey" not in types
    assert len(plan.by_type("gcp:serviceaccount/account:Account")) == 2


def test_no_basic_roles_and_every_role_justified(plan: Plan) -> None:
    roles = {r["inputs"].get("role") for r in plan.resources if r["type"].endswith(("IAMMember", "IAMBinding"))}
    assert roles and not roles & BASIC_ROLES
    assert check_roles(PREVIEWER_ROLES) == [] and check_roles(DEPLOYER_ROLES) == []
    assert check_roles({"roles/editor": "because"}) == ["roles/editor is a basic role"]


def test_previewer_is_read_only_and_bound_to_pull_requests(plan: Plan) -> None:
    email = f"ci-previewer@{bootstrap_config(plan.stack)['gcp:project']}.iam.gserviceaccount.com"
    granted = {
        r["inputs"]["role"]
        for r in plan.by_type("gcp:projects/iAMMember:IAMMember")
        if r["inputs"]["member"] == f"serviceAccount:{email}"
    }
    assert granted == set(PREVIEWER_ROLES)
    assert all(any(w in role for w in ("viewer", "Viewer", "reader", "browser", "Reviewer")) for role in granted)
    prs, main = _federation_members(plan, "ci-previewer")
    assert prs.endswith("/attribute.event_name/pull_request")
    assert main.endswith("/attribute.ref_environment/refs/heads/main@none")


def test_deployer_bound_to_main_and_in_prod_to_the_environment_claim(plan: Plan) -> None:
    [member] = _federation_members(plan, "ci-deployer")
    expected = "refs/heads/main@prod" if plan.stack == "prod" else "refs/heads/main@none"
    assert member.startswith("principalSet://iam.googleapis.com/projects/")
    assert member.endswith(f"/attribute.ref_environment/{expected}")
    assert "assertion.environment" in ATTRIBUTE_MAPPING["attribute.ref_environment"]
    assert deployer_member("P", "main", "prod") != deployer_member("P", "main", None)


def test_state_bucket_is_hardened_and_protected(plan: Plan) -> None:
    bucket = _one(plan, "gcp:storage/bucket:Bucket")
    i = bucket["inputs"]
    assert i["versioning"] == {"enabled": True} and i["uniformBucketLevelAccess"] is True
    assert i["publicAccessPrevention"] == "enforced" and i["forceDestroy"] is False
    assert i["encryption"]["defaultKmsKeyName"].endswith("/cryptoKeys/pulumi-state")
    assert i["softDeletePolicy"]["retentionDurationSeconds"] >= 7 * 86400
    assert bucket["options"]["protect"] is True
    assert all(k["options"]["protect"] for k in plan.by_type("gcp:kms/cryptoKey:CryptoKey"))
    assert plan.outputs["secretsProvider"].startswith("gcpkms://projects/")
    assert plan.outputs["stateBucket"] == f"gs://{i['name']}"


def test_everything_waits_for_the_apis(plan: Plan) -> None:
    apis = {r["urn"] for r in plan.by_type("gcp:projects/service:Service")}
    assert len(apis) == 7
    for type_ in ("gcp:kms/keyRing:KeyRing", "gcp:iam/workloadIdentityPool:WorkloadIdentityPool"):
        assert apis <= set(_one(plan, type_)["dependencies"]), type_
    for account in plan.by_type("gcp:serviceaccount/account:Account"):
        assert apis <= set(account["dependencies"])

"""`destroy`, and `up` again: the plan's structure for what decides whether they work.

Nothing is destroyed here; these are the properties a destroy depends on, per the
providers' documented behaviour (see README, "Destroy").
"""

from __future__ import annotations

from typing import Any

from tests.conftest import stack_cfg
from tools.plan import Plan

PSA = "gcp:servicenetworking/connection:Connection"
RING = "gcp:kms/keyRing:KeyRing"
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
RANDOM_ID = "random:index/randomId:RandomId"


def _suffix_source(plan: Plan, res: dict[str, Any], field: str) -> list[dict[str, Any]]:
    """The RandomId resources the given input field is computed from."""
    deps = set(res["propertyDependencies"].get(field, []))
    return [r for r in plan.by_type(RANDOM_ID) if r["urn"] in deps]


def test_private_service_access_lets_the_network_go_outside_prod(plan: Plan) -> None:
    (psa,) = plan.by_type(PSA)
    if plan.stack == "prod":
        # Prod keeps the peering on destroy; the README lists the manual steps.
        assert psa["inputs"]["deletionPolicy"] == "ABANDON"
    else:
        assert psa["inputs"]["deletionPolicy"] == "REMOVE_PEERING"


def test_sql_users_and_databases_go_with_the_instance(plan: Plan) -> None:
    users = plan.by_type("gcp:sql/user:User")
    databases = plan.by_type("gcp:sql/database:Database")
    assert users and databases
    assert {r["name"]: r["inputs"].get("deletionPolicy") for r in users + databases} == {
        r["name"]: "ABANDON" for r in users + databases
    }


def test_names_google_keeps_after_delete_are_recreatable_outside_prod(plan: Plan) -> None:
    (ring,) = plan.by_type(RING)
    (instance,) = plan.by_type(SQL)
    if plan.stack == "prod":
        assert ring["inputs"]["name"] == "estate-prod" and instance["inputs"]["name"] == "estate-prod-pg"
        assert plan.by_type(RANDOM_ID) == []
        return
    for res, base, keepers in (
        (ring, "estate-dev", {"prefix": "estate-dev"}),
        (instance, "estate-dev-pg", {"name": "estate-dev-pg"}),
    ):
        (suffix,) = _suffix_source(plan, res, "name")
        assert res["inputs"]["name"].startswith(base + "-") and res["inputs"]["name"] != base
        # Kept in state: only a change of the keepers (the base name) makes a new suffix.
        assert suffix["inputs"]["keepers"] == keepers and suffix["inputs"]["byteLength"] == 2
    # Keys live inside the ring, so their own names can stay fixed.
    assert {k["inputs"]["name"] for k in plan.by_type("gcp:kms/cryptoKey:CryptoKey")} == {
        f"estate-{plan.stack}-{r}" for r in ("gke", "sql", "redis", "storage", "backup", "pubsub", "images")
    }


def test_buckets_force_destroy_only_outside_prod(plan: Plan) -> None:
    buckets = plan.by_type("gcp:storage/bucket:Bucket")
    assert {b["inputs"]["forceDestroy"] for b in buckets} == {plan.stack != "prod"}


def test_apis_stay_on_and_quota_preferences_are_requests(plan: Plan) -> None:
    assert all(s["inputs"]["disableOnDestroy"] is False for s in plan.by_type("gcp:projects/service:Service"))
    prefs = plan.by_type("gcp:cloudquota/sQuotaPreference:SQuotaPreference")
    project = stack_cfg(plan.stack).project
    assert prefs and all(p["inputs"]["parent"] == f"projects/{project}" for p in prefs)

"""Small hand-made plans in the `build/plan-<stack>.json` format, for the report tests."""

from __future__ import annotations

import copy
from typing import Any

from tools.plan import SECRET_SIG, SECRET_VALUE
from tools.planfile import PlanFile

STACK_URN = "urn:pulumi:test::ai-estate::pulumi:pulumi:Stack::ai-estate-test"


def urn(type_: str, name: str, parent_type: str | None = None) -> str:
    chain = f"{parent_type}${type_}" if parent_type else type_
    return f"urn:pulumi:test::ai-estate::{chain}::{name}"


def res(
    type_: str,
    name: str,
    *,
    parent: str | None = STACK_URN,
    custom: bool = True,
    inputs: dict[str, Any] | None = None,
    deps: list[str] | None = None,
    data: dict[str, list[str]] | None = None,
    protect: bool = False,
    provider: str | None = None,
    replace_on: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "urn": urn(type_, name),
        "type": type_,
        "name": name,
        "custom": custom,
        "parent": parent,
        "provider": provider,
        "inputs": inputs or {},
        "dependencies": deps or [],
        "propertyDependencies": data or {},
        "options": {
            "protect": protect,
            "ignoreChanges": [],
            "deleteBeforeReplace": False,
            "retainOnDelete": False,
            "replaceOnChanges": replace_on or [],
            "additionalSecretOutputs": [],
            "customTimeouts": None,
            "deletedWith": None,
        },
    }


def storage_plan() -> dict[str, Any]:
    """A component holding a protected bucket, a service account and an IAM grant on the bucket."""
    comp = res("estate:storage:Buckets", "store", custom=False)
    bucket = res(
        "gcp:storage/bucket:Bucket",
        "store-models",
        parent=comp["urn"],
        inputs={"name": "models", "versioning": {"enabled": True}, "storageClass": "STANDARD"},
        protect=True,
    )
    account = res("gcp:serviceaccount/account:Account", "store-sa", parent=comp["urn"], inputs={"accountId": "sa"})
    grant = res(
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        "store-grant",
        parent=comp["urn"],
        inputs={"bucket": "models", "member": "serviceAccount:sa", "role": "roles/storage.objectViewer"},
        deps=[bucket["urn"], account["urn"]],
        data={"bucket": [bucket["urn"]], "member": [account["urn"]]},
    )
    secret = res(
        "gcp:secretmanager/secretVersion:SecretVersion",
        "store-token",
        parent=comp["urn"],
        inputs={"secretData": {SECRET_SIG: SECRET_VALUE, "value": "[secret]"}},
    )
    return {"stack": "test", "resources": [comp, bucket, account, grant, secret], "outputs": {}}


def plan_of(doc: dict[str, Any]) -> PlanFile:
    return PlanFile.from_json(copy.deepcopy(doc))


def without(doc: dict[str, Any], name: str) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["resources"] = [r for r in out["resources"] if r["name"] != name]
    return out


def edited(doc: dict[str, Any], name: str, **changes: Any) -> dict[str, Any]:
    """A copy with `inputs` keys or `options` keys (prefixed `opt_`) of one resource replaced."""
    out = copy.deepcopy(doc)
    for r in out["resources"]:
        if r["name"] == name:
            for key, value in changes.items():
                if key.startswith("opt_"):
                    r["options"][key[4:]] = value
                else:
                    r["inputs"][key] = value
    return out

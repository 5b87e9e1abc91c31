"""`make diff`: property-level plan diffs with loud warnings, on fixture plans and on a real git ref."""

from __future__ import annotations

import copy
import importlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.delivery_fixtures import edited, plan_of, res, storage_plan, without
from tools.diff import (
    REPLACE_IF,
    REPLACE_ON,
    REPLACE_ON_PRESENCE,
    STATEFUL_TYPES,
    diff_plans,
    flatten,
    main,
    render_markdown,
    render_text,
    replace_fields,
)
from tools.plan import Plan
from tools.planfile import ROOT


def test_deleting_a_protected_bucket_is_a_loud_warning() -> None:
    base = storage_plan()
    d = diff_plans(plan_of(base), plan_of(without(base, "store-models")))
    assert [(r.kind, r.name) for r in d.resources] == [("remove", "store-models")]
    assert d.warnings == ["PROTECTED and STATEFUL resource storage.Bucket store-models would be DELETED"]
    text, md = render_text(d), render_markdown(d)
    assert "!!! WARNING" in text and "would be DELETED" in text
    assert "[!CAUTION]" in md and "store-models" in md


def test_deleting_a_stateless_resource_is_not_a_warning() -> None:
    base = storage_plan()
    d = diff_plans(plan_of(base), plan_of(without(base, "store-grant")))
    assert [(r.kind, r.name) for r in d.resources] == [("remove", "store-grant")]
    assert d.warnings == []
    assert "WARNING" not in render_text(d)


def test_property_changes_are_listed_one_by_one() -> None:
    base = storage_plan()
    head = edited(base, "store-models", storageClass="NEARLINE", versioning={"enabled": False})
    d = diff_plans(plan_of(base), plan_of(head))
    [r] = d.resources
    assert r.kind == "change"
    assert [(c.path, c.old, c.new) for c in r.changes] == [
        ("inputs.storageClass", "STANDARD", "NEARLINE"),
        ("inputs.versioning.enabled", True, False),
    ]
    assert any("changes in place (inputs.storageClass, inputs.versioning.enabled)" in w for w in d.warnings)
    assert "inputs.storageClass: STANDARD => NEARLINE" in render_text(d)


def test_any_change_of_protect_is_loud() -> None:
    base = storage_plan()
    d = diff_plans(plan_of(base), plan_of(edited(base, "store-sa", opt_protect=True)))
    assert d.warnings == ["`protect` of serviceaccount.Account store-sa changes: False -> True"]


def test_replacement_where_the_program_declares_it() -> None:
    base = edited(storage_plan(), "store-models", opt_replaceOnChanges=["storageClass"])
    d = diff_plans(plan_of(base), plan_of(edited(base, "store-models", storageClass="COLDLINE")))
    assert [r.kind for r in d.resources] == ["replace"]
    assert d.warnings == [
        "PROTECTED and STATEFUL resource storage.Bucket store-models would be REPLACED (deleted and recreated): "
        "replaceOnChanges inputs.storageClass forces a new resource"
    ]


def test_secrets_stay_masked() -> None:
    base = storage_plan()
    assert flatten(base["resources"][4]["inputs"]) == {"secretData": "[secret]"}
    d = diff_plans(plan_of(base), plan_of(without(base, "store-token")))
    assert "1b47061264138c4ac30d75fd1eb44270" not in render_markdown(d) + render_text(d)


def test_added_resources_and_no_changes() -> None:
    base = storage_plan()
    d = diff_plans(plan_of(without(base, "store-sa")), plan_of(base))
    assert [(r.kind, r.name) for r in d.resources] == [("add", "store-sa")]
    same = diff_plans(plan_of(base), plan_of(base))
    assert same.resources == [] and "no changes" in render_text(same)


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
def test_diff_against_head_builds_the_base_in_a_worktree(
    dev_plan: Plan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    head = tmp_path / "head.json"
    head.write_text(json.dumps(dev_plan.to_json()))
    before = subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True).stdout
    assert main(["--stack", "dev", "--base", "HEAD", "--head-plan", str(head), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "### Offline plan diff: `dev` (HEAD → this branch)" in out
    after = subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True).stdout
    assert after == before, "the temporary worktree is removed"


# ---------------------------------------------------------------- replacements the providers force
def _with(plan: Plan, type_: str, only: str | None = None, /, **inputs: Any) -> dict[str, Any]:
    """The plan's JSON with `inputs` (dotted paths) set on every resource of `type_` (or the one named `only`)."""
    doc = copy.deepcopy(plan.to_json())
    hit = False
    for r in doc["resources"]:
        if r["type"] == type_ and (only is None or r["name"] == only):
            hit = True
            for path, value in inputs.items():
                *parents, leaf = path.split(".")
                node = r["inputs"]
                for key in parents:
                    node = node.setdefault(key, {})
                node[leaf] = value
    assert hit, f"no {type_} {only or ''} in the plan"
    return doc


def _one(d: Any) -> Any:
    [r] = d.resources
    return r


def test_key_ring_and_sql_instance_names_are_replacements(dev_plan: Plan) -> None:
    head = _with(dev_plan, "gcp:kms/keyRing:KeyRing", name="estate-dev-06a3x")
    d = diff_plans(plan_of(dev_plan.to_json()), plan_of(head))
    r = _one(d)
    assert (r.kind, r.replaced_by) == ("replace", ["inputs.name"])
    assert "0 to change, 1 to replace" in render_text(d)
    assert d.warnings == [
        f"STATEFUL resource kms.KeyRing {r.name} would be REPLACED (deleted and recreated): "
        "inputs.name forces a new resource"
    ]
    sql = _with(dev_plan, "gcp:sql/databaseInstance:DatabaseInstance", name="estate-dev-pg-other")
    r = _one(diff_plans(plan_of(dev_plan.to_json()), plan_of(sql)))
    assert (r.kind, r.replaced_by) == ("replace", ["inputs.name"])
    assert "♻️ replace" in render_markdown(diff_plans(plan_of(dev_plan.to_json()), plan_of(sql)))


def test_in_place_fields_of_a_known_type_are_updates(dev_plan: Plan) -> None:
    head = _with(dev_plan, "gcp:sql/databaseInstance:DatabaseInstance", databaseVersion="POSTGRES_17")
    d = diff_plans(plan_of(dev_plan.to_json()), plan_of(head))
    r = _one(d)
    assert (r.kind, r.unknown, r.verdict) == ("change", None, "update in place")
    assert d.warnings == [f"STATEFUL resource sql.DatabaseInstance {r.name} changes in place (inputs.databaseVersion)"]


def test_ignore_changes_are_left_out_like_the_engine_does(dev_plan: Plan) -> None:
    head = _with(dev_plan, "gcp:container/nodePool:NodePool", initialNodeCount=7)  # ForceNew, but ignored
    assert diff_plans(plan_of(dev_plan.to_json()), plan_of(head)).resources == []


def test_gpu_sharing_replaces_the_node_pool_and_machine_type_does_not(dev_plan: Plan) -> None:
    pool = next(
        r
        for r in dev_plan.by_type("gcp:container/nodePool:NodePool")
        if r["inputs"]["nodeConfig"].get("guestAccelerators")
    )
    accelerators = copy.deepcopy(pool["inputs"]["nodeConfig"]["guestAccelerators"])
    accelerators[0]["count"] = 2
    head = _with(dev_plan, pool["type"], pool["name"], **{"nodeConfig.guestAccelerators": accelerators})
    r = _one(diff_plans(plan_of(dev_plan.to_json()), plan_of(head)))
    assert (r.kind, r.replaced_by) == ("replace", ["inputs.nodeConfig.guestAccelerators[0].count"])
    head = _with(dev_plan, pool["type"], pool["name"], **{"nodeConfig.machineType": "g2-standard-16"})
    assert _one(diff_plans(plan_of(dev_plan.to_json()), plan_of(head))).kind == "change"


def test_a_type_outside_the_table_is_an_update_with_replacement_unknown() -> None:
    base = storage_plan()
    base["resources"].append(res("gcp:bigtable/instance:Instance", "store-topic", inputs={"name": "t"}))
    d = diff_plans(plan_of(base), plan_of(edited(base, "store-topic", labels={"a": "b"})))
    r = _one(d)
    assert (r.kind, r.verdict) == (
        "change",
        "update (replacement unknown: gcp:bigtable/instance:Instance not in the table)",
    )
    text = render_text(d)
    assert "1 to change, 0 to replace (1 of the changes may be replacements" in text
    assert (
        "~ bigtable.Instance store-topic  update (replacement unknown: gcp:bigtable/instance:Instance not in the table)"
        in text
    )
    assert "replacement unknown" in render_markdown(d)


def test_an_options_only_change_of_an_unknown_type_is_not_unknown() -> None:
    base = storage_plan()
    base["resources"].append(res("gcp:bigtable/instance:Instance", "store-topic", inputs={"name": "t"}))
    r = _one(diff_plans(plan_of(base), plan_of(edited(base, "store-topic", opt_protect=True))))
    assert (r.kind, r.unknown) == ("change", None)


def test_iam_members_are_replaced_on_any_input() -> None:
    base = storage_plan()
    r = _one(diff_plans(plan_of(base), plan_of(edited(base, "store-grant", role="roles/storage.objectAdmin"))))
    assert (r.kind, r.replaced_by) == ("replace", ["inputs.role"])


def test_a_new_provider_is_a_replacement() -> None:
    base = storage_plan()
    head = copy.deepcopy(base)
    head["resources"][2]["provider"] = "urn:pulumi:test::ai-estate::pulumi:providers:gcp::other::id"
    r = _one(diff_plans(plan_of(base), plan_of(head)))
    assert (r.name, r.kind, r.replaced_by) == ("store-sa", "replace", ["provider"])


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ("10.0.0.0/20", "10.0.0.0/19", "change"),
        ("10.0.0.0/20", "10.0.0.0/21", "replace"),
        ("10.0.0.0/20", "10.1.0.0/20", "replace"),
    ],
)
def test_a_subnet_range_is_replaced_only_when_it_shrinks_or_moves(old: str, new: str, kind: str) -> None:
    base = {"stack": "t", "resources": [res("gcp:compute/subnetwork:Subnetwork", "net", inputs={"ipCidrRange": old})]}
    assert _one(diff_plans(plan_of(base), plan_of(edited(base, "net", ipCidrRange=new)))).kind == kind


@pytest.mark.parametrize(
    ("old", "new", "kind"), [("REDIS_7_0", "REDIS_7_2", "change"), ("REDIS_7_2", "REDIS_7_0", "replace")]
)
def test_redis_is_replaced_when_its_version_goes_down(old: str, new: str, kind: str) -> None:
    base = {"stack": "t", "resources": [res("gcp:redis/instance:Instance", "cache", inputs={"redisVersion": old})]}
    assert _one(diff_plans(plan_of(base), plan_of(edited(base, "cache", redisVersion=new)))).kind == kind


def test_adding_a_forcenew_block_replaces_and_changing_inside_it_may_not() -> None:
    remote = {"description": "docker hub", "upstreamCredentials": {"usernamePasswordCredentials": {"username": "a"}}}
    base = {
        "stack": "t",
        "resources": [res("gcp:artifactregistry/repository:Repository", "repo", inputs={"format": "DOCKER"})],
    }
    r = _one(diff_plans(plan_of(base), plan_of(edited(base, "repo", remoteRepositoryConfig=remote))))
    assert r.kind == "replace" and "inputs.remoteRepositoryConfig (added)" in r.replaced_by
    with_block = edited(base, "repo", remoteRepositoryConfig=remote)
    creds = {**remote, "upstreamCredentials": {"usernamePasswordCredentials": {"username": "b"}}}
    assert (
        _one(diff_plans(plan_of(with_block), plan_of(edited(with_block, "repo", remoteRepositoryConfig=creds)))).kind
        == "change"
    )


def test_kubernetes_objects_are_replaced_on_their_name_and_namespace(dev_plan: Plan) -> None:
    [ns] = [r for r in dev_plan.by_type("kubernetes:core/v1:Namespace") if r["inputs"]["metadata"]["name"] == "cells"]
    head = _with(dev_plan, ns["type"], ns["name"], **{"metadata.name": "cells-2"})
    assert _one(diff_plans(plan_of(dev_plan.to_json()), plan_of(head))).replaced_by == ["inputs.metadata.name"]
    head = _with(dev_plan, ns["type"], ns["name"], **{"metadata.labels.team": "a"})
    assert _one(diff_plans(plan_of(dev_plan.to_json()), plan_of(head))).verdict == "update in place"


def test_every_stateful_type_of_the_plans_is_in_the_table(dev_plan: Plan, prod_plan: Plan) -> None:
    types = {r["type"] for p in (dev_plan, prod_plan) for r in p.resources if r["custom"]}
    assert not [t for t in types if t in STATEFUL_TYPES and replace_fields(t) is None]
    # What the diff calls "replacement unknown" in the estate today, and why.
    assert sorted(t for t in types if replace_fields(t) is None) == [
        "pulumi:providers:harbor",
        "pulumi:providers:kubernetes",
    ]


def _input_type(module: Any, annotation: Any) -> Any:
    names = re.findall(r"ForwardRef\('(\w+Args)'\)", repr(annotation))
    return getattr(module, names[0], None) if names else None


@pytest.mark.parametrize("type_", sorted(t for t in REPLACE_ON if not t.startswith(("kubernetes:",))))
def test_every_path_in_the_table_is_an_input_of_the_installed_sdk(type_: str) -> None:
    """The table names inputs the installed SDK has: a renamed or pluralised field fails here."""
    package, module_path, name = type_.split(":")
    sdk = {
        "gcp": "pulumi_gcp",
        "random": "pulumi_random",
        "time": "pulumiverse_time",
        "tls": "pulumi_tls",
        "harbor": "pulumiverse_harbor",
    }[package]
    module = importlib.import_module(f"{sdk}.{module_path.split('/')[0]}" if package == "gcp" else sdk)
    try:
        inputs = importlib.import_module(f"{module.__name__}._inputs")
    except ModuleNotFoundError:  # a module whose resources take no nested input types
        inputs = module
    args = getattr(module, f"{name}Args")
    for path in REPLACE_ON[type_] + REPLACE_ON_PRESENCE.get(type_, ()) + tuple(REPLACE_IF.get(type_, {})):
        if path == "*":
            continue
        cls = args
        for segment in path.split("."):
            assert cls is not None, f"{type_}: {path} goes below a plain value"
            props = {getattr(p.fget, "_pulumi_name", None): p for p in vars(cls).values() if isinstance(p, property)}
            assert segment in props, f"{type_}: no input {segment!r} in {cls.__name__} ({path})"
            cls = _input_type(inputs, getattr(props[segment].fget, "__annotations__", {}).get("return"))

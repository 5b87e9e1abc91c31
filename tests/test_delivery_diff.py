"""`make diff`: property-level plan diffs with loud warnings, on fixture plans and on a real git ref."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.delivery_fixtures import edited, plan_of, storage_plan, without
from tools.diff import diff_plans, flatten, main, render_markdown, render_text
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


def test_replacement_only_where_the_program_declares_it() -> None:
    base = edited(storage_plan(), "store-models", opt_replaceOnChanges=["storageClass"])
    d = diff_plans(plan_of(base), plan_of(edited(base, "store-models", storageClass="COLDLINE")))
    assert [r.kind for r in d.resources] == ["replace"]
    assert d.warnings == [
        "PROTECTED and STATEFUL resource storage.Bucket store-models would be REPLACED (deleted and recreated)"
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

"""The GitHub workflows: actionlint, the workflow JSON Schema, pins, permissions; Renovate's regexes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.planfile import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
FILES = sorted(WORKFLOWS.glob("*.yml"))


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is missing: pip install -r requirements.txt"
    return str(path)


def _load(name: str) -> dict[Any, Any]:
    doc: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # PyYAML reads the key `on` as True.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def _steps(doc: dict[Any, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job, step) for job, spec in doc["jobs"].items() for step in spec.get("steps", [])]


def test_the_four_workflows_exist() -> None:
    assert [f.name for f in FILES] == ["deploy.yml", "plan-diff-comment.yml", "preview.yml", "pull-request.yml"]


def test_actionlint_passes_and_can_fail(tmp_path: Path) -> None:
    done = subprocess.run([_tool("actionlint"), "-color=false", *map(str, FILES)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    failed = subprocess.run([_tool("actionlint"), "-color=false", str(bad)], capture_output=True, text=True)
    assert failed.returncode != 0 and "nope" in failed.stdout


def test_workflows_match_the_github_workflow_schema(tmp_path: Path) -> None:
    cmd = [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
    done = subprocess.run([*cmd, *map(str, FILES)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    steps: []\n    timeout-minutes: soon\n")
    assert subprocess.run([*cmd, str(bad)], capture_output=True, text=True).returncode != 0


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_actions_pinned_by_full_sha_with_the_tag_beside(path: Path) -> None:
    uses = re.findall(r"uses:\s*(\S+)(.*)", path.read_text())
    assert uses
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), f"{ref}: tag comment missing"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_least_permissions_and_timeouts(path: Path) -> None:
    doc = _load(path.name)
    assert doc["permissions"] == {}, "nothing by default; each job asks for what it needs"
    for job, spec in doc["jobs"].items():
        assert isinstance(spec.get("timeout-minutes"), int), job
        perms = spec["permissions"]
        uses_oidc = any("google-github-actions/auth" in s.get("uses", "") for j, s in _steps(doc) if j == job)
        assert (perms.get("id-token") == "write") == uses_oidc, f"{job}: id-token only where OIDC is used"
        assert "write" not in {v for k, v in perms.items() if k not in ("id-token", "pull-requests")}, job


def test_untrusted_pull_request_jobs_have_no_credentials() -> None:
    doc = _load("pull-request.yml")
    assert list(doc["on"]) == ["pull_request"]
    for job, spec in doc["jobs"].items():
        assert spec["permissions"] == {"contents": "read"}, job
    runs = [s.get("run", "") for _, s in _steps(doc)]
    assert runs.index("make charts") < runs.index("make test GATE_FLAGS=--require-charts")
    assert any("make diff" in r and "--markdown" in r for r in runs)


def test_the_trusted_commenter_never_runs_pull_request_code() -> None:
    doc = _load("plan-diff-comment.yml")
    assert doc["on"]["workflow_run"]["workflows"] == ["pull request"]
    uses = [s.get("uses", "") for _, s in _steps(doc)]
    assert not any(u.startswith("actions/checkout") for u in uses)
    assert not any("run" in s for _, s in _steps(doc))


def test_preview_is_same_repository_only_with_the_policy_pack() -> None:
    doc = _load("preview.yml")
    job = doc["jobs"]["preview"]
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    [pulumi] = [s for _, s in _steps(doc) if s.get("uses", "").startswith("pulumi/actions")]
    w = pulumi["with"]
    assert (w["command"], w["diff"], w["comment-on-pr"]) == ("preview", True, True)
    assert w["policyPacks"] == "policies" and w["policyPackConfigs"] == "policies/${{ matrix.stack }}.json"
    assert {m["stack"] for m in job["strategy"]["matrix"]["include"]} == {"dev", "prod"}


def _pulumi_steps(doc: dict[Any, Any], job: str) -> list[dict[str, Any]]:
    """The job's pulumi/actions steps that run a command (not the CLI's install alone)."""
    return [s for j, s in _steps(doc) if j == job and "pulumi/actions" in s.get("uses", "") and "command" in s["with"]]


def test_deploy_dev_then_prod_applies_the_approved_plan() -> None:
    doc = _load("deploy.yml")
    assert doc["on"] == {"push": {"branches": ["main"]}}
    jobs = doc["jobs"]
    assert list(jobs) == ["dev", "prod-plan", "prod", "prod-replan", "prod-fallback"]
    assert jobs["prod-plan"]["needs"] == "dev" and jobs["prod"]["needs"] == "prod-plan"
    assert jobs["prod"]["environment"] == "prod" and "environment" not in jobs["dev"]
    groups = {name: spec["concurrency"] for name, spec in jobs.items()}
    assert groups["dev"] == {"group": "pulumi-dev", "cancel-in-progress": False}
    assert {str(g) for name, g in groups.items() if name.startswith("prod")} == {
        str({"group": "pulumi-prod", "cancel-in-progress": False})
    }
    [saved] = _pulumi_steps(doc, "prod-plan")
    assert saved["with"]["command"] == "preview" and saved["with"]["plan"] == "build/prod-plan.json"
    # prod applies the saved plan with the CLI itself, so that the fallback can tell a plan violation apart.
    assert _pulumi_steps(doc, "prod") == []
    [applied] = [s for j, s in _steps(doc) if j == "prod" and s.get("id") == "planned"]
    assert applied["run"].count("pulumi up ") == 1 and applied["continue-on-error"] is True
    assert "--plan build/prod-plan.json" in applied["run"] and "--stack prod" in applied["run"]
    assert "--policy-pack policies --policy-pack-config policies/prod.json" in applied["run"]
    for job in jobs:
        for step in _pulumi_steps(doc, job):
            stack = step["with"]["stack-name"]
            assert step["with"]["policyPackConfigs"] == f"policies/{stack}.json", job
    auth = {j: s["with"]["service_account"] for j, s in _steps(doc) if "auth@" in s.get("uses", "")}
    assert auth == {
        "dev": "${{ vars.GCP_DEPLOYER_SA_DEV }}",
        "prod-plan": "${{ vars.GCP_PREVIEWER_SA_PROD }}",
        "prod": "${{ vars.GCP_DEPLOYER_SA_PROD }}",
        "prod-replan": "${{ vars.GCP_PREVIEWER_SA_PROD }}",
        "prod-fallback": "${{ vars.GCP_DEPLOYER_SA_PROD }}",
    }


def test_deploy_falls_back_to_a_fresh_preview_and_a_new_approval() -> None:
    doc = _load("deploy.yml")
    jobs = doc["jobs"]
    assert jobs["prod"]["outputs"] == {"fallback": "${{ steps.decide.outputs.fallback }}"}
    assert jobs["prod-replan"]["needs"] == "prod" and jobs["prod-replan"]["if"] == "needs.prod.outputs.fallback != ''"
    assert "environment" not in jobs["prod-replan"]
    assert jobs["prod-fallback"]["needs"] == ["prod", "prod-replan"] and jobs["prod-fallback"]["environment"] == "prod"
    [replan] = _pulumi_steps(doc, "prod-replan")
    [update] = _pulumi_steps(doc, "prod-fallback")
    assert (replan["with"]["command"], update["with"]["command"]) == ("preview", "up")
    assert "plan" not in replan["with"] and "plan" not in update["with"]
    assert replan["with"]["comment-on-summary"] is True
    [fetch] = [s for j, s in _steps(doc) if j == "prod" and "download-artifact" in s.get("uses", "")]
    assert fetch["id"] == "saved-plan" and fetch["continue-on-error"] is True


def _decide(tmp_path: Path, saved_plan: str, planned: str, log: str = "") -> tuple[int, str]:
    """Run the prod job's decision step as the runner would, with the outcomes and log given."""
    [step] = [s for j, s in _steps(_load("deploy.yml")) if j == "prod" and s.get("id") == "decide"]
    (tmp_path / "build").mkdir(exist_ok=True)
    (tmp_path / "build" / "up-plan.log").write_text(log)
    out = tmp_path / "github-output"
    out.write_text("")
    env = {"PATH": "/usr/bin:/bin", "SAVED_PLAN": saved_plan, "PLANNED": planned, "GITHUB_OUTPUT": str(out)}
    done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True)
    return done.returncode, out.read_text()


def test_deploy_fallback_decision(tmp_path: Path) -> None:
    # The CLI's messages (pulumi/pulumi pkg/resource/deploy/step_generator.go, step_executor.go).
    violation = (
        "error: resource urn:pulumi:prod::ai-estate::gcp:storage/bucket:Bucket::b violates plan: properties changed"
    )
    not_allowed = "error: update is not allowed by the plan: no steps were expected for this resource"
    assert _decide(tmp_path, "success", "success") == (0, "fallback=\n")
    assert _decide(tmp_path, "failure", "skipped") == (0, "fallback=the saved plan is missing or expired\n")
    for log in (violation, not_allowed, "error: no plan for resource urn:pulumi:prod::x"):
        assert _decide(tmp_path, "success", "failure", log) == (
            0,
            "fallback=pulumi up --plan reported a plan violation\n",
        )
    assert _decide(tmp_path, "success", "failure", "error: googleapi: Error 403: forbidden")[0] == 1


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_every_job_running_the_pack_installs_its_venv_first(name: str) -> None:
    """PulumiPolicy.yaml names `virtualenv: venv`, which the CLI does not create for a local pack."""
    doc = _load(name)
    runs_pack = [
        job
        for job in doc["jobs"]
        if any(
            "policyPacks" in s.get("with", {}) or "--policy-pack" in s.get("run", "")
            for j, s in _steps(doc)
            if j == job
        )
    ]
    assert runs_pack
    for job in runs_pack:
        steps = [s for j, s in _steps(doc) if j == job]
        [venv] = [i for i, s in enumerate(steps) if "pip install -r policies/requirements.txt" in s.get("run", "")]
        assert "python -m venv policies/venv" in steps[venv]["run"]
        first = min(
            i for i, s in enumerate(steps) if "policyPacks" in s.get("with", {}) or "--policy-pack" in s.get("run", "")
        )
        assert venv < first, job


# ---------------------------------------------------------------- Renovate
RENOVATE = json.loads((ROOT / "renovate.json").read_text())


def _manager(path: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    for m in RENOVATE["customManagers"]:
        files = re.compile(m["managerFilePatterns"][0].strip("/"))
        if files.search(path):
            [match] = m["matchStrings"]
            return files, re.compile(match.replace("(?<", "(?P<"))
    raise AssertionError(f"no custom manager for {path}")


def test_renovate_covers_requirements_actions_charts_and_images() -> None:
    assert {"pip_requirements", "github-actions", "custom.regex"} <= set(RENOVATE["enabledManagers"])
    assert RENOVATE["github-actions"]["pinDigests"] is True
    for path in ("stacks/charts.py", "stacks/defaults.py", ".github/workflows/deploy.yml"):
        _manager(path)


def test_image_regex_finds_every_default_image() -> None:
    from stacks.defaults import _IMAGES

    _, regex = _manager("stacks/defaults.py")
    assert _manager("stacks/charts.py")[1].pattern != regex.pattern  # chart pins have their own manager
    found = {
        (m["depName"], m["currentValue"])
        for name in ("defaults.py", "charts.py")
        for m in regex.finditer((ROOT / "stacks" / name).read_text())
    }
    assert found == {(v["image"], v["tag"]) for v in _IMAGES.values()}


def test_chart_regex_reads_every_pin() -> None:
    from stacks.charts import PINS

    _, regex = _manager("stacks/charts.py")
    found = [(m["registryUrl"], m["depName"], m["currentValue"]) for m in regex.finditer(CHART_TEXT)]
    assert sorted(found) == sorted((p.repository, p.chart, p.version) for p in PINS.values())


CHART_TEXT = (ROOT / "stacks" / "charts.py").read_text()


def test_pulumi_cli_version_follows_the_sdk_pin() -> None:
    _, regex = _manager(".github/workflows/deploy.yml")
    pins = {m["currentValue"] for f in FILES for m in regex.finditer(f.read_text())}
    sdk = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert sdk and pins == {sdk[1]}

"""The gate over Charts: rendered objects through the real pack as the Chart's children, and loud gaps."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.chart_fixtures import OCI_REPO, REPO, chart_plan, fill_cache
from tests.policy_fixtures import TEST_CONFIG
from tools.analyzer import Analyzer
from tools.gate import check, render
from tools.gate import main as gate_main
from tools.plan import Plan

ROOT_DEPLOYMENT = "gated:apps/gated-gated"
GATED_URN = "urn:pulumi:dev::ai-estate::estate:platform:Platform$kubernetes:helm.sh/v4:Chart::gated"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fill_cache(tmp_path_factory.mktemp("charts"))


@pytest.fixture(scope="module")
def plan() -> Plan:
    return chart_plan()


# The test chart's repositories are allowed here, so the only finding is the chart's own object.
CONFIG = {
    **TEST_CONFIG,
    "estate-charts-repository-allowlist": {"allowedChartRepositories": [REPO, OCI_REPO]},
}


def test_the_root_deployment_of_a_chart_fails_as_the_charts_child(pack: Analyzer, plan: Plan, cache: Path) -> None:
    result = check(pack, plan, CONFIG, charts_cache=cache)
    assert result.unrendered == []
    assert [(f.policy, f.level, f.resource) for f in result.findings] == [
        ("estate-workloads-run-as-non-root", "mandatory", ROOT_DEPLOYMENT)
    ]
    finding = f"  - {ROOT_DEPLOYMENT}: container 'app': set securityContext.runAsNonRoot: true"
    # By default: the violation under its rule, the rule's remediation, the summary.
    lines = render(result, "test").splitlines()
    assert lines[0] == "estate-workloads-run-as-non-root [mandatory]" and lines[1].startswith(finding)
    assert lines[2].startswith("  remediation: ") and "runAsNonRoot" in lines[2]
    assert lines[3:] == [
        f"gate dev: FAIL — 1 mandatory, 0 advisory violations, {len(plan.resources)} resources, 2 charts rendered"
    ]
    # -v: what each chart rendered too.
    text = render(result, "test", verbose=True)
    assert "charts: 2 of 2 rendered, 9 objects sent through the pack as their children" in text
    assert finding in text and text.splitlines()[-1] == lines[-1]


def test_the_stack_analysis_sees_the_chart_children(
    pack: Analyzer, plan: Plan, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Mapping[str, Any]] = []
    analyze_stack = pack.analyze_stack

    def spy(resources: Iterable[Mapping[str, Any]]) -> Any:
        seen.extend(resources)
        return analyze_stack(seen)

    monkeypatch.setattr(pack, "analyze_stack", spy)
    check(pack, plan, CONFIG, charts_cache=cache)
    chart_urns = {r["urn"] for r in plan.by_type("kubernetes:helm.sh/v4:Chart")}
    children = [r for r in seen if r["parent"] in chart_urns]
    assert len(seen) == len(plan.resources) + 9 and len(children) == 9
    assert all(c["provider"] for c in children)


def test_charts_missing_from_the_cache_are_listed_loudly(pack: Analyzer, plan: Plan, tmp_path: Path) -> None:
    result = check(pack, plan, CONFIG, charts_cache=tmp_path)
    assert [c.name for c in result.unrendered] == ["gated", "gated-oci"]
    assert result.findings == []  # nothing of theirs reached the pack: that is the gap being reported
    summary = (
        f"gate dev: PASS — 0 mandatory, 0 advisory violations, {len(plan.resources)} resources, "
        "0 of 2 charts rendered (2 NOT rendered, unchecked)"
    )
    assert render(result, "test").splitlines() == [
        "!!! 2 chart(s) not rendered: their objects never went through the pack "
        "(-v lists them; `make charts` fills the cache)",
        summary,
    ]
    text = render(result, "test", verbose=True)
    assert "!!! 2 CHART(S) NOT RENDERED: their objects never went through the pack" in text
    assert "!!!   gated (gated 0.3.0 (https://charts.example.com/stable)): not in the chart cache" in text
    assert text.endswith(summary)


def _config_file(tmp_path: Path) -> str:
    """The dev policy config with the test chart's repositories allowed."""
    from tools.gate import PACK_DIR

    doc = json.loads((PACK_DIR / "dev.json").read_text())
    doc["estate-charts-repository-allowlist"] = {"allowedChartRepositories": [REPO, OCI_REPO]}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_require_charts_fails_the_gate_without_the_charts(
    plan: Plan, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan.to_json()))
    args = ["--stack", "dev", "--plan", str(path), "--config", _config_file(tmp_path)]
    assert gate_main([*args, "--charts-cache", str(tmp_path / "empty")]) == 0
    assert "!!! 2 chart(s) not rendered" in capsys.readouterr().out
    assert gate_main([*args, "--charts-cache", str(tmp_path / "empty"), "--require-charts"]) == 2
    assert "error: --require-charts: 2 chart(s) not rendered" in capsys.readouterr().err
    assert gate_main([*args, "--charts-cache", str(cache), "--require-charts"]) == 1
    out = capsys.readouterr().out
    assert f"estate-workloads-run-as-non-root [mandatory]\n  - {ROOT_DEPLOYMENT}:" in out


def test_the_plan_file_records_per_chart_what_the_gate_rendered(plan: Plan, cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan.to_json()))
    args = ["--stack", "dev", "--plan", str(path), "--config", _config_file(tmp_path)]
    assert gate_main([*args, "--charts-cache", str(cache)]) == 1
    charts = json.loads(path.read_text())["charts"]
    assert charts[GATED_URN] == {
        "chart": "gated 0.3.0 (https://charts.example.com/stable)",
        "release": "gated",
        "namespace": "apps",
        "rendered": [
            "CustomResourceDefinition/widgets.example.com",
            "ServiceAccount/apps/gated-gated",
            "ConfigMap/apps/gated-gated-settings",
            "Deployment/apps/gated-gated",
            "Widget/apps/gated-gated",
        ],
    }
    assert "Widget/team/custom-gated" in charts[GATED_URN.replace("::gated", "::gated-oci")]["rendered"]
    assert gate_main([*args, "--charts-cache", str(tmp_path / "empty")]) == 0
    errors = {v["error"].split(" (")[0] for v in json.loads(path.read_text())["charts"].values()}
    assert errors == {"not in the chart cache"}


def test_a_chart_helm_refuses_fails_the_gate_even_without_require_charts(
    plan: Plan, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = plan.to_json()
    gated = next(r for r in doc["resources"] if r["urn"] == GATED_URN)
    gated["inputs"]["values"]["extra"] = "not-a-map"  # the subchart condition needs a map
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    assert gate_main(["--stack", "dev", "--plan", str(path), "--charts-cache", str(cache)]) == 2
    captured = capsys.readouterr()
    assert "error: 1 chart(s) fail to render, as they would at `pulumi up`" in captured.err
    assert "!!!   gated (gated 0.3.0 (https://charts.example.com/stable)): render failed:" in captured.out

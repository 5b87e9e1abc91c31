"""What the plans set is what the upstream software accepts: custom resources against their CRD
schemas, chart values against the charts' own defaults and values schemas."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.charts import PINS
from tests.upstream import (
    RENDERED_WHOLE,
    chart_data,
    crd_problems,
    require_upstream,
    unknown_value_keys,
    values_schema_problems,
)
from tools.plan import Plan

BUILTIN_GROUPS = ("kubernetes:core/", "kubernetes:apps/", "kubernetes:batch/", "kubernetes:networking.k8s.io/")
CHART = "kubernetes:helm.sh/v4:Chart"


def _custom_resources(plan: Plan) -> list[dict[str, Any]]:
    return [
        r
        for r in plan.resources
        if r["custom"]
        and r["type"].startswith("kubernetes:")
        and "." in r["type"].split(":")[1].split("/")[0]
        and not r["type"].startswith(BUILTIN_GROUPS)
    ]


def _pin_key(inputs: dict[str, Any]) -> str:
    repo = inputs.get("repositoryOpts", {}).get("repo", "")
    (key,) = [k for k, p in PINS.items() if p.chart == inputs["chart"].rsplit("/", 1)[-1] and p.repository == repo]
    return key


def test_every_custom_resource_matches_its_crd(plan: Plan) -> None:
    require_upstream()
    resources = _custom_resources(plan)
    kinds = {r["type"] for r in resources}
    assert {
        "kubernetes:security.istio.io/v1:PeerAuthentication",
        "kubernetes:cert-manager.io/v1:ClusterIssuer",
        "kubernetes:policy.sigstore.dev/v1beta1:ClusterImagePolicy",
    } <= kinds, kinds
    problems = {r["name"]: crd_problems(r["inputs"]) for r in resources}
    assert {name: p for name, p in problems.items() if p} == {}


def test_every_chart_value_is_one_the_chart_reads(plan: Plan) -> None:
    require_upstream()
    charts = plan.by_type(CHART)
    assert {_pin_key(c["inputs"]) for c in charts} == set(PINS)
    for chart in charts:
        key = _pin_key(chart["inputs"])
        values = chart["inputs"].get("values", {})
        assert unknown_value_keys(key, values) == [], (key, chart["name"])
        assert values_schema_problems(key, values) == [], (key, chart["name"])


@pytest.mark.parametrize("key", sorted(PINS))
def test_pins_are_the_newest_upstream_releases(key: str) -> None:
    from tests.upstream import chart_data

    require_upstream()
    assert PINS[key].version.lstrip("v") == chart_data(key)["latest_version"]


def test_blocks_rendered_whole_are_read_by_a_template() -> None:
    require_upstream()
    for chart, prefixes in RENDERED_WHOLE.items():
        # The block itself, or the map holding it, is read by a template (files/ templates included).
        read = {tuple(p) for p in chart_data(chart)["template_paths"]}
        unread = [p for p in prefixes if not any(tuple(p.split("."))[:n] in read for n in (1, 2, 3))]
        assert unread == [], chart

"""What the plans set is what the upstream software accepts: custom resources against the CRDs the
pinned charts install, chart values against the charts' own defaults, templates and values
schemas (all read from the chart cache), built-in objects against Kubernetes' own schemas."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.charts import HELD_BACK, PINS
from tests.upstream import (
    KUBERNETES_VERSIONS,
    READ_BY_VALUES_TEMPLATE,
    RENDERED_FOR,
    RENDERED_WHOLE,
    RENDERED_WHOLE_KEYS,
    builtin_problems,
    chart_data,
    chart_source,
    commented_paths,
    crd_problems,
    latest_release,
    require_charts,
    template_reads,
    unknown_value_keys,
    values_schema_problems,
)
from tools.charts.refs import chart_ref
from tools.plan import Plan

BUILTIN_GROUPS = (
    "kubernetes:core/",
    "kubernetes:apps/",
    "kubernetes:batch/",
    "kubernetes:networking.k8s.io/",
    "kubernetes:storage.k8s.io/",
    "kubernetes:admissionregistration.k8s.io/",
    "kubernetes:rbac.authorization.k8s.io/",
)
CHART = "kubernetes:helm.sh/v4:Chart"
# apiVersion groups of the built-in kinds (the core group has none: `v1`).
BUILTIN_API_GROUPS = {
    "v1", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io",
    "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io", "coordination.k8s.io",
}  # fmt: skip


def _custom_resources(plan: Plan) -> list[dict[str, Any]]:
    return [
        r
        for r in plan.resources
        if r["custom"]
        and r["type"].startswith("kubernetes:")
        and "." in r["type"].split(":")[1].split("/")[0]
        and not r["type"].startswith(BUILTIN_GROUPS)
    ]


def _builtin_objects(plan: Plan) -> list[dict[str, Any]]:
    return [r for r in plan.resources if r["custom"] and r["type"].startswith(BUILTIN_GROUPS)]


def _pin_key(inputs: dict[str, Any]) -> str:
    chart = inputs["chart"]
    # An oci:// chart names its registry path in `chart`; a repository chart in repositoryOpts.repo.
    repo = chart.rsplit("/", 1)[0] if chart.startswith("oci://") else inputs.get("repositoryOpts", {}).get("repo", "")
    (key,) = [k for k, p in PINS.items() if p.chart == chart.rsplit("/", 1)[-1] and p.repository == repo]
    return key


# ---------------------------------------------------------------- custom resources
def test_every_custom_resource_matches_its_crd(plan: Plan) -> None:
    resources = _custom_resources(plan)
    kinds = {r["type"] for r in resources}
    assert {
        "kubernetes:security.istio.io/v1:PeerAuthentication",
        "kubernetes:cert-manager.io/v1:ClusterIssuer",
        "kubernetes:policy.sigstore.dev/v1beta1:ClusterImagePolicy",
    } <= kinds, kinds
    problems, unchecked = {}, []
    for r in resources:
        try:
            problems[r["name"]] = crd_problems(r["inputs"])
        except pytest.skip.Exception:  # its CRD comes only with a chart the cache lacks
            unchecked.append(r["type"])
    assert {name: p for name, p in problems.items() if p} == {}
    if unchecked:
        pytest.skip(f"no chart cache for the CRDs of {sorted(set(unchecked))}; the rest checked")


@pytest.mark.parametrize("key", ["cert-manager", "external-secrets", "istio-base", "policy-controller"])
def test_the_charts_that_install_crds_carry_them(key: str) -> None:
    """Read from the archive: crds/, or templates behind the chart's own switch (cert-manager's `crds.enabled`)."""
    require_charts(key)
    groups = {crd["spec"]["group"] for crd in chart_source(key).crds}
    expected = {
        "cert-manager": {"cert-manager.io", "acme.cert-manager.io"},
        "external-secrets": {"external-secrets.io", "generators.external-secrets.io"},
        "istio-base": {"networking.istio.io", "security.istio.io"},
        "policy-controller": {"policy.sigstore.dev"},
    }[key]
    assert expected <= groups, groups


# ---------------------------------------------------------------- built-in kinds
def test_every_builtin_object_matches_the_kubernetes_schema(plan: Plan) -> None:
    objects = _builtin_objects(plan)
    assert {"Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "ServiceAccount", "Job"} <= {
        r["inputs"]["kind"] for r in objects
    }
    problems = {r["name"]: builtin_problems(r["inputs"]) for r in objects}
    assert {name: p for name, p in problems.items() if p} == {}


def test_every_object_the_charts_render_matches_the_kubernetes_schema(plan: Plan) -> None:
    """The charts rendered with the plan's values, as the gate renders them: a value the chart copies
    into an object unread (a block rendered whole) still has to make a valid object."""
    from tools.charts.chart import render_charts

    outcomes = render_charts(plan.resources, require_charts())
    assert [o.error for o in outcomes if not o.rendered] == []
    objects = [c["inputs"] for o in outcomes for c in o.children]
    builtin = [o for o in objects if o["apiVersion"].split("/")[0] in BUILTIN_API_GROUPS]
    assert {"Deployment", "DaemonSet", "Service", "ClusterRole"} <= {o["kind"] for o in builtin}
    # Helm renders for its default capabilities' Kubernetes version here, so that is the schema.
    problems = {f"{o['kind']}/{o['metadata']['name']}": builtin_problems(o, (RENDERED_FOR,)) for o in builtin}
    assert {name: p for name, p in problems.items() if p} == {}


def test_builtin_check_catches_an_unknown_field_a_bad_value_and_a_removed_api() -> None:
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "x", "namespace": "y"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    assert builtin_problems(policy) == []
    typo = {**policy, "spec": {"podSelector": {}, "policyType": ["Ingress"]}}
    assert [p.split(":")[0] for p in builtin_problems(typo)] == [
        f"invalid for Kubernetes {v}" for v in KUBERNETES_VERSIONS
    ]
    assert "policyType" in builtin_problems(typo)[0]
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"backoffLimit": "three"}}
    assert builtin_problems(job, ("1.37",)) == [
        "invalid for Kubernetes 1.37: spec: 'template' is a required property",
        "invalid for Kubernetes 1.37: spec.backoffLimit: 'three' is not of type 'integer', 'null'",
    ]
    removed = {"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "c"}, "spec": {}}
    assert all(p.startswith("not served by Kubernetes") for p in builtin_problems(removed))


# ---------------------------------------------------------------- chart values
def test_every_chart_value_is_one_the_chart_reads(plan: Plan) -> None:
    charts = plan.by_type(CHART)
    assert {_pin_key(c["inputs"]) for c in charts} == set(PINS)
    for chart in charts:
        # Against the chart at the version the plan installs (a stack may override the pin).
        key, ref = _pin_key(chart["inputs"]), chart_ref(chart["inputs"])
        values = chart["inputs"].get("values", {})
        assert unknown_value_keys(key, values, ref) == [], (key, chart["name"])
        assert values_schema_problems(key, values, ref) == [], (key, chart["name"])


def test_blocks_rendered_whole_are_read_by_a_template() -> None:
    for chart, prefixes in RENDERED_WHOLE.items():
        # The block itself, or the map holding it, is read by a template (files/ templates included).
        read = {tuple(p) for p in chart_data(chart)["template_paths"]}
        unread = [p for p in prefixes if not any(tuple(p.split("."))[:n] in read for n in (1, 2, 3))]
        assert unread == [], chart


def test_blocks_with_dotted_keys_are_read_whole_by_a_template() -> None:
    for chart, paths in RENDERED_WHOLE_KEYS.items():
        texts = chart_source(chart).texts
        for path in paths:
            prefix, key = path[:-1], path[-1]
            assert any(p == prefix and f'index .Values "{key}"' in text for _, text, p in texts), path


def test_blocks_read_by_a_values_template_are_there() -> None:
    for chart, paths in READ_BY_VALUES_TEMPLATE.items():
        text = chart_source(chart).values_yaml
        assert all(f".Values.{p}" in text for p in paths), chart


def test_template_reading_follows_with_variables_index_and_serialised_blocks() -> None:
    text = """
{{- if .Values.a.enabled }}
{{- with .Values.b }}
  name: {{ .c.d }}
  {{- toYaml .e | nindent 2 }}
{{- end }}
{{- $g := .Values.g }}
{{ $g.h }} {{ index .Values "i" "j.k" }} {{ dig "l" "m" true .Values }} {{ .Release.Name }}
{{- range $k, $v := .Values.labels }}{{ $k }}{{ end }}
{{- toYaml .Values.n | nindent 4 }} {{ .Values.o | default dict | toYaml }}
{{- end }}
{{- if false }}{{ $x := .Values.dead | default dict }}{{ else }}{{ .Values.live }}{{ end }}
"""
    reads, whole = template_reads(text)
    assert {("a", "enabled"), ("b", "c", "d"), ("g", "h"), ("i", "j.k"), ("l", "m"), ("live",)} <= reads
    assert not any(p[0] in ("Release", "dead") for p in reads)
    assert whole == {("b", "e"), ("labels",), ("n",), ("o",)}


def test_commented_keys_nest_by_their_column() -> None:
    text = "image:\n  repository: x\n  # digest: sha256:0\nresources: {}\n  # requests:\n  #   cpu: 10m\n"
    assert commented_paths(text) == {("image", "digest"), ("resources", "requests"), ("resources", "requests", "cpu")}


# ---------------------------------------------------------------- ../shared, an optional extra
@pytest.mark.parametrize("key", sorted(PINS))
def test_pins_are_the_newest_upstream_releases(key: str) -> None:
    latest, pinned = latest_release(key), PINS[key].version.lstrip("v")
    if key in HELD_BACK:
        # Held on an older major line, with its reason: the hold lasts while upstream's newest is a
        # later major (a release of the held line is taken as usual).
        assert int(latest.split(".")[0]) > int(pinned.split(".")[0]), (key, HELD_BACK[key])
    else:
        assert pinned == latest

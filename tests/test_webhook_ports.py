"""The real-cluster checks over the rendered charts, wherever the chart cache is filled (`make charts`,
or ESTATE_CHART_CACHE): every webhook's and aggregated API's target port is one the control plane may
reach, Istio's validators fail closed, istio-cni installs where GKE keeps CNI plugins, every webhook
configuration waits for its CA (but base's), and Binary Authorization admits exactly the images the
charts run. Without a cache they skip, saying how to fill it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from components.kube import webhooks
from stacks.charts import control_plane_ports
from stacks.load import load as load_config
from tools.charts.chart import ChartOutcome, render_charts
from tools.charts.refs import archive_path, cache_dir, chart_ref, charts_of
from tools.plan import Plan, stack_config

WORKLOADS = ("Deployment", "DaemonSet", "StatefulSet", "Job", "CronJob")


def _cache_filled(plan: Plan) -> bool:
    cache = cache_dir()
    return all(archive_path(chart_ref(c["inputs"]), cache).exists() for c in charts_of(plan.resources))


_RENDERED: dict[str, list[ChartOutcome]] = {}


@pytest.fixture
def rendered(plan: Plan) -> tuple[Plan, list[ChartOutcome]]:
    if not _cache_filled(plan):
        pytest.skip(f"chart cache {cache_dir()} is not filled: run `make charts` or set ESTATE_CHART_CACHE")
    if plan.stack not in _RENDERED:  # once per stack: rendering every chart takes seconds
        _RENDERED[plan.stack] = render_charts(plan.resources, cache_dir())
    outcomes = _RENDERED[plan.stack]
    assert all(o.rendered for o in outcomes), [o.error for o in outcomes if o.error]
    return plan, outcomes


def _objects(outcomes: list[ChartOutcome]) -> list[dict[str, Any]]:
    return [child["inputs"] for o in outcomes for child in o.children]


def _pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod spec) for every workload the charts render."""
    for obj in objects:
        if obj["kind"] in WORKLOADS:
            template = (
                obj["spec"]["jobTemplate"]["spec"]["template"] if obj["kind"] == "CronJob" else obj["spec"]["template"]
            )
            yield obj, template


def _target_port(service: Mapping[str, Any], port: int, objects: list[dict[str, Any]]) -> int:
    """The container port a Service's `port` reaches: its targetPort, a name resolved on the selected pods."""
    entry = next(p for p in service["spec"]["ports"] if int(p["port"]) == port)
    target = entry.get("targetPort", port)
    if isinstance(target, int) or str(target).isdigit():
        return int(target)
    selector = service["spec"].get("selector") or {}
    namespace = service["metadata"].get("namespace")
    for workload, template in _pod_specs(objects):
        labels = template["metadata"].get("labels") or {}
        if workload["metadata"].get("namespace") == namespace and selector.items() <= labels.items():
            for container in template["spec"]["containers"]:
                for p in container.get("ports") or []:
                    if p.get("name") == target:
                        return int(p["containerPort"])
    raise AssertionError(f"{service['metadata']['name']}: no pod port named {target}")


def _called_ports(objects: list[dict[str, Any]]) -> dict[str, int]:
    """What the control plane calls: webhook or APIService -> the container port behind its Service."""
    services = {(o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects if o["kind"] == "Service"}
    out: dict[str, int] = {}
    for obj in objects:
        refs: list[tuple[str, Mapping[str, Any]]] = []
        if obj["kind"] in webhooks.WEBHOOK_KINDS:
            refs = [
                (f"{obj['metadata']['name']}/{w['name']}", w["clientConfig"].get("service") or {})
                for w in obj.get("webhooks") or []
            ]
        elif obj["kind"] == "APIService" and obj["spec"].get("service"):
            refs = [(obj["metadata"]["name"], obj["spec"]["service"])]
        for name, ref in refs:
            if not ref:
                continue
            service = services[(ref["namespace"], ref["name"])]
            out[name] = _target_port(service, int(ref.get("port", 443)), objects)
    return out


def test_every_webhook_port_is_open_to_the_control_plane_and_nothing_else(
    rendered: tuple[Plan, list[ChartOutcome]],
) -> None:
    plan, outcomes = rendered
    called = _called_ports(_objects(outcomes))
    assert called, "the charts render webhooks"
    pins = _pins(plan)
    assert set(called.values()) == set(control_plane_ports(pins)), called
    (rule,) = [
        r for r in plan.by_type("gcp:compute/firewall:Firewall") if r["name"].endswith("-control-plane-webhooks")
    ]
    assert {int(p) for p in rule["inputs"]["allows"][0]["ports"]} == set(called.values())
    # Each chart declares the ports of the webhooks it renders itself.
    for outcome in outcomes:
        own = {c["inputs"]["metadata"]["name"] for c in outcome.children}
        ports = {port for name, port in called.items() if name.split("/")[0] in own}
        (key,) = [
            k
            for k, pin in pins.items()
            if outcome.ref and (pin.chart, pin.version) == (outcome.ref.name, outcome.ref.version)
        ]
        assert ports <= set(pins[key].control_plane_ports), (outcome.name, ports)


def _pins(plan: Plan) -> dict:
    cfg = load_config(plan.stack, stack_config(plan.stack))
    return cfg.pins


def test_istio_validators_fail_closed(rendered: tuple[Plan, list[ChartOutcome]]) -> None:
    _, outcomes = rendered
    validators = {o["metadata"]["name"]: o for o in _objects(outcomes) if o["kind"] == "ValidatingWebhookConfiguration"}
    for name in ("istiod-default-validator", "istio-validator-istio-system"):
        assert {w["failurePolicy"] for w in validators[name]["webhooks"]} == {"Fail"}, name


def test_istio_cni_installs_into_gke_cni_directory(rendered: tuple[Plan, list[ChartOutcome]]) -> None:
    _, outcomes = rendered
    (cni,) = [o for o in _objects(outcomes) if o["kind"] == "DaemonSet" and o["metadata"]["name"] == "istio-cni-node"]
    volumes = {v["name"]: v for v in cni["spec"]["template"]["spec"]["volumes"]}
    assert volumes["cni-bin-dir"]["hostPath"]["path"] == "/home/kubernetes/bin"


def test_every_rendered_webhook_configuration_waits_for_its_ca(rendered: tuple[Plan, list[ChartOutcome]]) -> None:
    _, outcomes = rendered
    seen = 0
    for outcome in outcomes:
        for child in outcome.children:
            obj = child["inputs"]
            if obj["kind"] not in webhooks.WEBHOOK_KINDS or not obj.get("webhooks"):
                continue
            seen += 1
            annotations = obj["metadata"].get("annotations") or {}
            if outcome.name.endswith("-istio-base"):
                assert webhooks.WAIT_FOR not in annotations, obj["metadata"]["name"]
            else:
                assert annotations.get(webhooks.WAIT_FOR) == webhooks.CA_BUNDLE_READY, obj["metadata"]["name"]
    assert seen


def test_binary_authorization_admits_exactly_the_images_the_charts_run(
    rendered: tuple[Plan, list[ChartOutcome]],
) -> None:
    plan, outcomes = rendered
    (policy,) = plan.by_type("gcp:binaryauthorization/policy:Policy")
    admitted = {p["namePattern"] for p in policy["inputs"]["admissionWhitelistPatterns"]}
    images = {
        c["image"]
        for _, template in _pod_specs(_objects(outcomes))
        for c in template["spec"].get("containers", []) + template["spec"].get("initContainers", [])
        if c["image"] != "auto"  # the gateway's: istiod injects global.proxy.image, checked below
    }
    assert images and images <= admitted, images - admitted
    (istiod,) = [c for c in plan.by_type("kubernetes:helm.sh/v4:Chart") if c["name"].endswith("-mesh-istiod")]
    assert istiod["inputs"]["values"]["global"]["proxy"]["image"] in admitted

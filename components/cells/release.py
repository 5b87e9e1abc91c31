"""A cell's release by Flagger (flagger.app/v1beta1), typed and checked against Flagger's CRDs in the
tests: a Canary per cell released by canary or blue/green, and the two metric templates a gateway
canary is judged by.

- canary (cells with public routes): at the ingress gateway. Istio's own provider, with delegation:
  Flagger owns a delegate VirtualService per cell (no hosts, no gateways) that the estate's root
  VirtualService of each host hands the cell's prefixes to, so several cells share a host in a
  fixed order. Flagger's built-in checks read sidecar metrics (`reporter="destination"`), which
  ambient mode has none of: the templates read the gateway's own requests to the canary Service
  (`reporter="source"`, the gateway's workload, `destination_service_name="<cell>-canary"`).
- blue-green (any cell that serves): Flagger's Kubernetes provider runs the new version beside the
  old for `iterations` intervals, its pods' readiness checked, then switches the Service. In-mesh
  traffic has no L7 metrics without a waypoint, and no cell namespace has one.

A release is a config change (a new tag); a rollback is the previous tag, with `skipAnalysis` in an
emergency. Flagger makes the `<cell>`, `<cell>-primary` and `<cell>-canary` Services and the primary
Deployment and HPA; `replicas` stay the autoscaler's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
from pydantic import Field

from components.cells import spec
from components.kube.custom import Spec, custom_objects
from stacks.config_cells import CellConfig

API = "flagger.app/v1beta1"
ERROR_RATE = "gateway-error-rate"
LATENCY = "gateway-latency-p95"


def gateway_selector(gateway_workload: str, gateway_namespace: str) -> str:
    """The gateway's own requests to a canary Service (Flagger fills `namespace`, `target`, `interval`)."""
    return (
        f'reporter="source",source_workload="{gateway_workload}",source_workload_namespace="{gateway_namespace}",'
        'destination_service_namespace="{{ namespace }}",destination_service_name="{{ target }}-canary"'
    )


def queries(gateway_workload: str, gateway_namespace: str) -> dict[str, str]:
    sel = gateway_selector(gateway_workload, gateway_namespace)
    window = "[{{ interval }}]"
    return {
        # Percent of the canary's requests answered with a 5xx.
        ERROR_RATE: f'100 * sum(rate(istio_requests_total{{{sel},response_code=~"5.."}}{window}))'
        f" / sum(rate(istio_requests_total{{{sel}}}{window}))",
        # Its p95 latency in milliseconds (Istio's histogram is in ms).
        LATENCY: "histogram_quantile(0.95, sum by (le) "
        f"(rate(istio_request_duration_milliseconds_bucket{{{sel}}}{window})))",
    }


class Provider(Spec):
    type: Literal["prometheus"] = "prometheus"
    address: str


class MetricTemplateSpec(Spec):
    provider: Provider
    query: str


def metric_templates(
    namespace: str, prometheus: str, gateway_workload: str, gateway_namespace: str
) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": API,
            "kind": "MetricTemplate",
            "metadata": {"name": name, "namespace": namespace},
            "spec": MetricTemplateSpec(provider=Provider(address=prometheus), query=query).dump(),
        }
        for name, query in queries(gateway_workload, gateway_namespace).items()
    ]


class Ref(Spec):
    api_version: str
    kind: str
    name: str


class TemplateRef(Spec):
    name: str
    namespace: str


class ThresholdRange(Spec):
    max: float


class Metric(Spec):
    name: str
    template_ref: TemplateRef
    threshold_range: ThresholdRange
    interval: str


class Webhook(Spec):
    name: str
    type: Literal["post-rollout"]
    url: str
    timeout: str
    metadata: dict[str, str]


class Analysis(Spec):
    interval: str
    threshold: int
    max_weight: int | None = None
    step_weight: int | None = None
    iterations: int | None = None
    metrics: list[Metric] | None = None
    webhooks: list[Webhook] | None = None


class CanaryService(Spec):
    port: int
    target_port: str
    port_name: str
    delegation: bool | None = None
    timeout: str | None = None


class CanarySpec(Spec):
    provider: Literal["istio", "kubernetes"]
    target_ref: Ref
    autoscaler_ref: Ref | None = None
    progress_deadline_seconds: int = Field(600, ge=60)
    skip_analysis: bool
    service: CanaryService
    analysis: Analysis


def smoke_test_webhook(url: str, health: list[str], alertmanager: str) -> Webhook:
    """After a promotion, Flagger calls the smoke test with every cell's readiness URL and where
    Alertmanager takes its result (components/automation/workflows/smoke-test.json reads both)."""
    return Webhook(
        name="smoke-test",
        type="post-rollout",
        url=url,
        timeout="60s",
        metadata={"health": ",".join(health), "alertmanager": alertmanager},
    )


def canary(name: str, cell: CellConfig, *, timeout: str | None, smoke_test: Webhook | None = None) -> dict[str, Any]:
    """The cell's Canary; `timeout`: its routes' request timeout (none for WebSocket cells);
    `smoke_test`: the post-rollout webhook of the smoke test, when one runs."""
    r = cell.release
    if r.strategy == "rolling" or cell.port is None:
        raise ValueError(f"cells.{name}: released rolling, no Canary")
    port_name = spec.PORT_NAMES[cell.protocol]
    gateway = r.strategy == "canary"
    if gateway:
        analysis = Analysis(
            interval=r.interval,
            threshold=r.threshold,
            max_weight=r.max_weight,
            step_weight=r.step_weight,
            metrics=[
                Metric(
                    name="error-rate",
                    template_ref=TemplateRef(name=ERROR_RATE, namespace=cell.namespace),
                    threshold_range=ThresholdRange(max=r.max_error_percent),
                    interval=r.interval,
                ),
                Metric(
                    name="latency-p95",
                    template_ref=TemplateRef(name=LATENCY, namespace=cell.namespace),
                    threshold_range=ThresholdRange(max=float(r.max_latency_ms)),
                    interval=r.interval,
                ),
            ],
        )
    else:
        analysis = Analysis(interval=r.interval, threshold=r.threshold, iterations=r.iterations)
    if smoke_test is not None:
        analysis = analysis.model_copy(update={"webhooks": [smoke_test]})
    body = CanarySpec(
        provider="istio" if gateway else "kubernetes",
        target_ref=Ref(api_version="apps/v1", kind="Deployment", name=name),
        autoscaler_ref=None
        if cell.queue is not None
        else Ref(api_version="autoscaling/v2", kind="HorizontalPodAutoscaler", name=name),
        skip_analysis=r.skip_analysis,
        service=CanaryService(
            port=cell.port,
            target_port=port_name,
            port_name=port_name,
            delegation=True if gateway else None,
            timeout=timeout if gateway else None,
        ),
        analysis=analysis,
    )
    return {
        "apiVersion": API,
        "kind": "Canary",
        "metadata": {"name": name, "namespace": cell.namespace},
        "spec": body.dump(),
    }


@dataclass(frozen=True)
class CanaryMetricsArgs:
    namespaces: Sequence[str]  # those with a cell released by canary
    prometheus: str
    gateway: tuple[str, str]  # the ingress gateway's (namespace, workload)
    provider: pulumi.ProviderResource
    depends_on: Sequence[pulumi.Resource]  # Flagger's chart (the CRD) and the namespaces


class CanaryMetrics(pulumi.ComponentResource):
    """The metric templates gateway canaries are judged by, in each namespace that has one."""

    templates: list[pulumi.Resource]

    def __init__(self, name: str, args: CanaryMetricsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:cells:CanaryMetrics", name, None, opts)
        gateway_ns, workload = args.gateway
        objects = [obj for ns in args.namespaces for obj in metric_templates(ns, args.prometheus, workload, gateway_ns)]
        self.templates = list(
            custom_objects(self, name, objects, provider=args.provider, depends_on=list(args.depends_on))
        )
        self.register_outputs({"namespaces": list(args.namespaces)})

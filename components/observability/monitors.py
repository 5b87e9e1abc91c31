"""What Prometheus scrapes beyond the chart's own targets: PodMonitors and ServiceMonitors
(monitoring.coreos.com/v1) for the estate's sources, typed and checked against the CRDs in tests.

- The ingress gateway's Envoy (the SLOs' source), and cert-manager's controller (certificates).
- Kafka: the brokers' and controllers' Strimzi metrics reporter and the Kafka exporter (consumer
  lag, partitions), all on `tcp-prometheus` (9404), as Strimzi's own examples scrape them.
- Harbor: core, jobservice, registry and its exporter on 8001 (`metrics.enabled`), as the chart's
  own ServiceMonitor would (which cannot be used: its CRD comes from this later layer), and its
  Cloud SQL Auth Proxy's connection metrics.
- Loki, Tempo, the collectors and the Redis exporter: the observability layer's own.
- The GPUs: GKE's managed DCGM exporter, where the cluster has GPU pools.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.kube.monitoring import (
    Endpoint,
    LabelSelector,
    NamespaceSelector,
    PodMonitorSpec,
    Requirement,
    ServiceMonitorSpec,
)
from components.kube.monitoring import monitor as _obj
from stacks.config_telemetry import AGENT, GATEWAY


def gateway(namespace: str, gateway_namespace: str, selector: Mapping[str, str]) -> dict[str, Any]:
    """The gateway's Envoy (`http-envoy-prom`, 15090), for the SLOs."""
    spec = PodMonitorSpec(
        namespace_selector=NamespaceSelector(match_names=[gateway_namespace]),
        selector=LabelSelector(match_labels=dict(selector)),
        pod_metrics_endpoints=[Endpoint(port="http-envoy-prom", path="/stats/prometheus")],
    )
    return _obj("PodMonitor", "ingress-gateway", namespace, spec)


CERT_MANAGER_NAMESPACE = "cert-manager"  # the platform's (stacks.config_namespaces.PLATFORM_NAMESPACES)


def cert_manager(namespace: str) -> dict[str, Any]:
    """cert-manager's controller (`http-metrics`, 9402): certificates' expiry and readiness."""
    spec = ServiceMonitorSpec(
        namespace_selector=NamespaceSelector(match_names=[CERT_MANAGER_NAMESPACE]),
        selector=LabelSelector(
            match_labels={"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/component": "controller"}
        ),
        endpoints=[Endpoint(port="http-metrics")],
    )
    return _obj("ServiceMonitor", "cert-manager", namespace, spec)


def kafka(namespace: str, kafka_namespace: str) -> dict[str, Any]:
    spec = PodMonitorSpec(
        namespace_selector=NamespaceSelector(match_names=[kafka_namespace]),
        selector=LabelSelector(match_labels={"strimzi.io/kind": "Kafka"}),
        pod_metrics_endpoints=[Endpoint(port="tcp-prometheus")],
    )
    return _obj("PodMonitor", "kafka", namespace, spec)


def harbor(namespace: str, harbor_namespace: str) -> dict[str, Any]:
    spec = ServiceMonitorSpec(
        job_label="app.kubernetes.io/name",
        namespace_selector=NamespaceSelector(match_names=[harbor_namespace]),
        selector=LabelSelector(match_labels={"app": "harbor", "release": "harbor"}),
        endpoints=[Endpoint(port="https-metrics", honor_labels=True)],
    )
    return _obj("ServiceMonitor", "harbor", namespace, spec)


def loki(namespace: str) -> dict[str, Any]:
    """Loki's own metrics (`http-metrics`, 3100) on its Service; the headless twin is left out."""
    spec = ServiceMonitorSpec(
        namespace_selector=NamespaceSelector(match_names=[namespace]),
        selector=LabelSelector(
            match_labels={"app.kubernetes.io/name": "loki", "app.kubernetes.io/component": "single-binary"},
            # The chart marks its headless twin so that monitors leave it out (each pod once).
            match_expressions=[Requirement(key="prometheus.io/service-monitor", operator="NotIn", values=["false"])],
        ),
        endpoints=[Endpoint(port="http-metrics")],
    )
    return _obj("ServiceMonitor", "loki", namespace, spec)


def tempo(namespace: str) -> dict[str, Any]:
    """Every Tempo component's metrics (`http-metrics`, 3200) on its Service. Left out: the `-discovery`
    twins (`prometheus.io/service-monitor: "false"`), the gossip ring's, and memcached's, whose
    `http-metrics` port names an exporter this estate does not run."""
    spec = ServiceMonitorSpec(
        job_label="app.kubernetes.io/component",
        namespace_selector=NamespaceSelector(match_names=[namespace]),
        selector=LabelSelector(
            match_labels={"app.kubernetes.io/name": "tempo", "app.kubernetes.io/instance": "tempo"},
            match_expressions=[
                Requirement(key="prometheus.io/service-monitor", operator="NotIn", values=["false"]),
                Requirement(key="app.kubernetes.io/component", operator="NotIn", values=["gossip-ring", "memcached"]),
            ],
        ),
        endpoints=[Endpoint(port="http-metrics")],
    )
    return _obj("ServiceMonitor", "tempo", namespace, spec)


def collectors(namespace: str, agent_namespace: str | None) -> list[dict[str, Any]]:
    """The collectors' own metrics (`metrics`, 8888): the gateway's pods here, the agents' there."""
    out = []
    for name, ns in ((GATEWAY, namespace), (AGENT, agent_namespace)):
        if ns is None:
            continue
        spec = PodMonitorSpec(
            namespace_selector=NamespaceSelector(match_names=[ns]),
            selector=LabelSelector(
                match_labels={"app.kubernetes.io/name": "opentelemetry-collector", "app.kubernetes.io/instance": name}
            ),
            pod_metrics_endpoints=[Endpoint(port="metrics")],
        )
        out.append(_obj("PodMonitor", name, namespace, spec))
    return out


def exporter(namespace: str, app: str) -> dict[str, Any]:
    """One of the layer's own exporters (components.observability.exporters): its Service's
    `metrics` port."""
    spec = ServiceMonitorSpec(
        namespace_selector=NamespaceSelector(match_names=[namespace]),
        selector=LabelSelector(match_labels={"app": app}),
        endpoints=[Endpoint(port="metrics")],
    )
    return _obj("ServiceMonitor", app, namespace, spec)


def cloud_sql_proxy(namespace: str, proxy_namespace: str, app: str) -> dict[str, Any]:
    """A shared Cloud SQL Auth Proxy (`--prometheus`: /metrics beside its health checks on 9090)."""
    spec = PodMonitorSpec(
        namespace_selector=NamespaceSelector(match_names=[proxy_namespace]),
        selector=LabelSelector(match_labels={"app": app}),
        pod_metrics_endpoints=[Endpoint(port="health")],
    )
    return _obj("PodMonitor", app, namespace, spec)


# GKE's managed DCGM exporter: a DaemonSet on the GPU nodes in this namespace, whose pods carry this
# label and serve /metrics on a port named `metrics` (9400): what GKE's own ClusterPodMonitoring
# `gke-managed-dcgm-exporter` selects for Managed Service for Prometheus. GKE owns the namespace
# and reverts changes there, so the monitor lives in the layer's namespace and selects across.
DCGM_NAMESPACE = "gke-managed-system"
DCGM_POD = ("app.kubernetes.io/name", "gke-managed-dcgm-exporter")
DCGM_PORT = 9400


def gpus(namespace: str) -> dict[str, Any]:
    """The GPUs' DCGM metrics (`DCGM_FI_DEV_GPU_UTIL`, framebuffer memory, power, profiling) from
    GKE's managed exporter, for in-cluster rules and dashboards. Labels are not honoured: the GPU's
    consumer, which DCGM's Kubernetes mapping writes as `namespace` and `pod`, keeps its values as
    `exported_namespace` and `exported_pod` beside the exporter's own target labels."""
    spec = PodMonitorSpec(
        job_label="app.kubernetes.io/name",
        namespace_selector=NamespaceSelector(match_names=[DCGM_NAMESPACE]),
        selector=LabelSelector(match_labels=dict([DCGM_POD])),
        pod_metrics_endpoints=[Endpoint(port="metrics")],
    )
    return _obj("PodMonitor", "gpus", namespace, spec)

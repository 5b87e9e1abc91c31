"""`ai-estate:observability`: the metrics stack (Prometheus, Alertmanager, Grafana), its alert
thresholds and where alerts go.

Thresholds are the seed's (004) unless a stack changes them; each is bounded so that an alert
can fire and can stay silent. The PagerDuty routing key never appears here: it lives in a Secret
Manager secret the program creates empty and the operator fills (README, "Observability").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from stacks import config_telemetry
from stacks.base import Model, Name
from stacks.config_namespaces import Caller, NamespaceConfig
from stacks.config_telemetry import Collectors, Exporters, Logs, Traces
from stacks.problem import Problem

# Prometheus' Kubernetes service account (the chart's `prometheus.serviceAccount.name`): every
# namespace it scrapes admits it by this identity.
PROMETHEUS_SERVICE_ACCOUNT = "prometheus"
SCRAPER = "prometheus"  # its caller name in each namespace's callers
PROMETHEUS_PODS = (("app.kubernetes.io/name", "prometheus"),)  # the operator's label on its servers


class Prometheus(Model):
    replicas: int = Field(1, ge=1, le=4, description="Prometheus servers, each scraping everything (prod: an HA pair).")
    retention_days: int = Field(15, ge=1, le=365, description="How long samples are kept.")
    storage_gb: int = Field(50, ge=10, le=16384, description="Persistent SSD volume per replica, in GiB.")
    cpu: str = Field("1", description="CPU request and limit per replica.")
    memory: str = Field("4Gi", description="Memory request and limit per replica.")


class Alertmanager(Model):
    replicas: int = Field(1, ge=1, le=5, description="Alertmanager peers (prod: 3, gossiping on 9094).")


class Thresholds(Model):
    """The seed 004 alerts' thresholds."""

    error_rate: float = Field(0.1, gt=0, le=10000, description="HighErrorRate: 5xx responses per second, per service.")
    memory_ratio: float = Field(0.9, gt=0, lt=1, description="HighMemoryUsage: a node's used memory share.")
    gpu_utilization_percent: float = Field(95, gt=0, lt=100, description="GPUUtilizationHigh: DCGM GPU utilisation.")
    database_connections: int = Field(
        80, ge=1, le=100000, description="DatabaseConnectionsHigh: backends per database."
    )
    kafka_consumer_lag: int = Field(
        10000, ge=1, le=1_000_000_000, description="KafkaConsumerLagHigh: messages a group is behind on a topic."
    )
    queue_lag: int = Field(
        1000, ge=1, le=1_000_000_000, description="WorkQueueBacklog: entries a Redis stream's group has not read yet."
    )
    queue_pending: int = Field(
        500, ge=1, le=1_000_000_000, description="WorkQueueStuck: entries read but not acknowledged in a group."
    )


class Paging(Model):
    pagerduty_secret: Name = Field(
        "pagerduty-routing-key",
        description="Secret Manager secret (key, without the stack prefix) holding the PagerDuty routing key; "
        "created empty by the program, its value set by the operator.",
    )
    warning_webhook_secret: Name | None = Field(
        None,
        description="Secret Manager secret holding the URL warnings are posted to (Alertmanager webhook); "
        "warnings are only shown in Alertmanager when absent.",
    )
    repeat_hours: int = Field(4, ge=1, le=168, description="How often a firing alert is sent again.")


# The ingress gateway's request-duration buckets, in milliseconds (its pods' statsHistogramBuckets):
# Envoy's defaults (..., 100, 250, ...) have no 200 ms edge for seed 002's latency SLO.
GATEWAY_BUCKETS_MS = (1, 5, 10, 25, 50, 100, 150, 200, 250, 300, 500, 1000, 2500, 5000, 10000, 30000)


class Slo(Model):
    """A service's objectives, measured at the ingress gateway (its requests to the service)."""

    namespace: Name = Field(description="The service's namespace.")
    service: Name = Field(description="The Kubernetes Service the gateway routes to.")
    availability_percent: float = Field(
        99.9, ge=90, lt=100, description="Share of requests without a 5xx, per 30 days."
    )
    latency_ms: int = Field(200, description="The latency objective: one of the gateway's histogram buckets.")
    latency_percent: float = Field(95, ge=50, lt=100, description="Share of requests faster than latencyMs.")


class GoogleSignIn(Model):
    """Grafana's Google sign-in. Its OAuth client is made by hand in the Google Cloud console (Google
    shut down the API that created them); its id and secret go into the two Secret Manager secrets
    the program creates empty, and only then is this turned on (README, "Observability")."""

    enabled: bool = False
    allowed_domains: list[str] = Field([], description="Google Workspace domains whose users may sign in.")


class Grafana(Model):
    enabled: bool = True
    host: Name = Field("grafana", description="The mesh.hosts entry that routes Grafana's name to it.")
    storage_gb: int = Field(10, ge=1, le=1024, description="Persistent SSD volume for Grafana's own database.")
    google_sign_in: GoogleSignIn = GoogleSignIn()


class ObservabilityConfig(Model):
    enabled: bool = Field(True, description="Install the metrics stack.")
    namespace: Name = Field("observability", description="An ai-estate:namespaces entry that holds data.")
    prometheus: Prometheus = Prometheus()
    alertmanager: Alertmanager = Alertmanager()
    thresholds: Thresholds = Thresholds()
    paging: Paging = Paging()
    grafana: Grafana = Grafana()
    slos: dict[Name, Slo] = Field({}, description="Service level objectives with burn-rate alerts, keyed by name.")
    logs: Logs = Logs()
    traces: Traces = Traces()
    collectors: Collectors = Collectors()
    exporters: Exporters = Exporters()


def scraped_namespaces(
    cfg: ObservabilityConfig, namespaces: Mapping[str, NamespaceConfig]
) -> dict[str, NamespaceConfig]:
    """Every application namespace with Prometheus among its callers: under the ambient mesh it
    scrapes over HBONE, so each namespace's AuthorizationPolicies and NetworkPolicies must admit it
    (and its own namespace then reaches them all). Unchanged when the stack has no metrics stack."""
    if not cfg.enabled or cfg.namespace not in namespaces:
        return dict(namespaces)
    caller = Caller(namespace=cfg.namespace, service_account=PROMETHEUS_SERVICE_ACCOUNT)
    return {
        name: spec if name == cfg.namespace else spec.model_copy(update={"callers": {**spec.callers, SCRAPER: caller}})
        for name, spec in namespaces.items()
    }


def keda_reads_metrics(cfg: ObservabilityConfig, servers: Mapping[str, Any]) -> bool:
    """KEDA's operator asks Prometheus for the model servers' queues: it then runs in the ambient
    mesh (Prometheus admits callers by identity) with plain-text peers still admitted."""
    return cfg.enabled and bool(servers)


def collector_namespace(cfg: ObservabilityConfig) -> str | None:
    """The namespace of the gateway collector that receives OTLP (workloads' telemetry, the mesh's
    spans), or None when the stack runs no collectors."""
    return cfg.namespace if cfg.enabled and cfg.collectors.enabled else None


def tracing_service(cfg: ObservabilityConfig) -> str | None:
    """The collector's host for istiod's OpenTelemetry tracing provider, when traces are kept."""
    ns = collector_namespace(cfg)
    return f"{config_telemetry.GATEWAY}.{ns}.svc.cluster.local" if ns and cfg.traces.enabled else None


GRAFANA_SERVICE = "grafana"  # grafana.fullnameOverride: its Service, port 80
GRAFANA_PORT = 80
ALERTMANAGER_PORT = 9093  # its API, where workloads post alerts (n8n's release smoke test)


def check(
    cfg: ObservabilityConfig, environment: str, namespaces: Mapping[str, Any], mesh_hosts: Mapping[str, Any]
) -> list[Problem]:
    if not cfg.enabled:
        return []
    at, out = "observability", []
    g = cfg.grafana
    if g.enabled:
        host = mesh_hosts.get(g.host)
        want = (cfg.namespace, GRAFANA_SERVICE, GRAFANA_PORT)
        got = (host.backend.namespace, host.backend.service, host.backend.port) if host and host.backend else None
        if got != want:
            out.append(
                Problem(
                    f"{at}.grafana.host",
                    g.host,
                    f"must be a mesh.hosts entry with backend {{namespace: {want[0]}, service: {want[1]}, "
                    f"port: {want[2]}}}",
                )
            )
        ns_spec = namespaces.get(cfg.namespace)
        if ns_spec is not None and not ns_spec.ingress:
            out.append(
                Problem(
                    f"{at}.namespace", cfg.namespace, "its ai-estate:namespaces entry must set ingress: true (Grafana)"
                )
            )
        if g.google_sign_in.enabled and not g.google_sign_in.allowed_domains:
            out.append(
                Problem(
                    f"{at}.grafana.googleSignIn.allowedDomains",
                    [],
                    "name at least one domain: any Google account could sign in",
                )
            )
    ns = namespaces.get(cfg.namespace)
    if ns is None:
        known = sorted(namespaces)
        out.append(Problem(f"{at}.namespace", cfg.namespace, f"must be an ai-estate:namespaces entry: {known}"))
    elif not ns.holds_data:
        out.append(Problem(f"{at}.namespace", cfg.namespace, "its ai-estate:namespaces entry must set holdsData: true"))
    for name, slo in sorted(cfg.slos.items()):
        if slo.latency_ms not in GATEWAY_BUCKETS_MS:
            out.append(
                Problem(
                    f"{at}.slos.{name}.latencyMs",
                    slo.latency_ms,
                    f"must be one of the gateway's histogram buckets (ms): {list(GATEWAY_BUCKETS_MS)}",
                )
            )
        if slo.namespace not in namespaces:
            known = sorted(namespaces)
            out.append(
                Problem(f"{at}.slos.{name}.namespace", slo.namespace, f"must be an ai-estate:namespaces entry: {known}")
            )
    if environment == "prod":
        if cfg.prometheus.replicas < 2:
            out.append(Problem(f"{at}.prometheus.replicas", cfg.prometheus.replicas, "at least 2 in prod (an HA pair)"))
        if cfg.alertmanager.replicas != 3:
            out.append(Problem(f"{at}.alertmanager.replicas", cfg.alertmanager.replicas, "3 in prod"))
    if cfg.paging.warning_webhook_secret == cfg.paging.pagerduty_secret:
        out.append(
            Problem(
                f"{at}.paging.warningWebhookSecret",
                cfg.paging.warning_webhook_secret,
                "must differ from pagerdutySecret",
            )
        )
    return out


# Grafana's name on the gateway and its namespace open to the gateway, beside the stack's own defaults
# (merged into those areas, like Harbor's).
_SHARED: dict[str, Any] = {
    "mesh": {
        "hosts": {
            "grafana": {
                "host": "grafana",
                "backend": {"namespace": "observability", "service": GRAFANA_SERVICE, "port": GRAFANA_PORT},
            }
        }
    },
    "namespaces": {"observability": {"ingress": True}},
    "identity": {"workloads": config_telemetry.WORKLOADS},
}
# Seed 002: 99.9% monthly availability of the API gateway, p95 under 200 ms (the cells' api-gateway).
_SLOS = {"api-gateway": {"namespace": "cells", "service": "api-gateway", "availabilityPercent": 99.9, "latencyMs": 200}}
DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {
        "observability": {
            "prometheus": {"replicas": 1, "retentionDays": 7, "storageGb": 20},
            "slos": _SLOS,
            **config_telemetry.DEFAULTS["dev"],
        },
        **_SHARED,
    },
    "prod": {
        "observability": {
            "prometheus": {"replicas": 2, "retentionDays": 30, "storageGb": 200, "cpu": "2", "memory": "8Gi"},
            "alertmanager": {"replicas": 3},
            "slos": _SLOS,
            **config_telemetry.DEFAULTS["prod"],
        },
        **_SHARED,
    },
}


def prometheus_url(namespace: str) -> str:
    """Prometheus' in-cluster address (kube-prometheus-stack's `kps-prometheus` Service): what
    Grafana's datasource and Flagger's analysis read."""
    return f"http://kps-prometheus.{namespace}.svc:9090"

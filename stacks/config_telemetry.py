"""Logs, traces and their collectors, under `ai-estate:observability` (`logs`, `traces`,
`collectors`): Loki on the `logs` bucket, Tempo on the `traces` bucket, the OpenTelemetry
collectors that feed them and Prometheus. Sizes and retention per environment; the checks that
need the rest of the config (buckets, workloads, Kafka) are here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from stacks.base import Model, Name
from stacks.problem import Problem

LOKI_SERVICE_ACCOUNT = "loki"
TEMPO_SERVICE_ACCOUNT = "tempo"
# The gateway collector every workload sends OTLP to (`otel-gateway.<observability namespace>`), and
# the pods the application namespaces' egress admits.
GATEWAY = "otel-gateway"
GATEWAY_PODS = (("app.kubernetes.io/name", "opentelemetry-collector"), ("app.kubernetes.io/instance", GATEWAY))
AGENT = "otel-agent"
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
TRACING_PROVIDER = "otel-tracing"  # istiod's meshConfig.extensionProviders[].name, which Telemetry names


class Logs(Model):
    """Loki in its chart's monolithic mode: every replica runs every component, chunks and index in
    the bucket, a replication factor of min(replicas, 3) through its memberlist ring."""

    enabled: bool = True
    bucket: Name = Field("logs", description="The ai-estate:storage.buckets entry Loki keeps chunks and index in.")
    workload: Name = Field(
        "loki", description="The ai-estate:identity.workloads entry Loki runs as (Workload Identity)."
    )
    replicas: int = Field(1, ge=1, le=9, description="Loki replicas (prod: 3, replication factor 3).")
    retention_days: int = Field(
        14, ge=1, le=3650, description="How long log lines are kept (Loki's compactor deletes)."
    )
    tenant: Name = Field("estate", description="The tenant (X-Scope-OrgID) the collectors write and Grafana reads.")
    storage_gb: int = Field(
        10, ge=5, le=4096, description="Persistent SSD volume per replica: write-ahead log, index cache."
    )
    cpu: str = Field("500m", description="CPU request per replica (the limit is twice it).")
    memory: str = Field("2Gi", description="Memory request and limit per replica.")
    chunks_cache_mb: int = Field(512, ge=0, le=65536, description="Memcached for chunks, in MB (0: none).")
    results_cache_mb: int = Field(128, ge=0, le=16384, description="Memcached for query results, in MB (0: none).")


class Traces(Model):
    """Tempo from its distributed chart (2.x line, Tempo 2.10): distributors hand spans to a ring of
    ingesters (replication factor min(ingesters, 3)), which cut blocks into the bucket; the compactor
    deletes them after the retention. (Tempo 3's chart needs Kafka, which Tempo 3.0 can reach only
    without TLS: README, "Observability".)"""

    enabled: bool = True
    bucket: Name = Field("traces", description="The ai-estate:storage.buckets entry Tempo keeps blocks in.")
    workload: Name = Field("tempo", description="The ai-estate:identity.workloads entry Tempo runs as.")
    retention_hours: int = Field(72, ge=1, le=8760, description="How long traces are kept.")
    ingesters: int = Field(1, ge=1, le=30, description="Ingesters (prod: 3, replication factor 3, on SSD volumes).")
    replicas: int = Field(1, ge=1, le=10, description="Distributors, queriers and query frontends each.")
    storage_gb: int = Field(10, ge=5, le=1024, description="Persistent SSD volume per ingester (its write-ahead log).")
    sampling_percent: float = Field(
        100, ge=0, le=100, description="Share of requests the ingress gateway and waypoints trace (Istio's sampling)."
    )


class Collectors(Model):
    """The OpenTelemetry collectors: a gateway Deployment that workloads send OTLP to, and an agent on
    every node that reads the pods' log files."""

    enabled: bool = True
    gateway_replicas: int = Field(1, ge=1, le=20, description="Gateway collector replicas (prod: 2 or more).")
    agent_namespace: Name = Field(
        "telemetry-agent",
        description="The node agent's namespace: Pod Security privileged (it reads the nodes' log files as root), "
        "nothing else in it.",
    )


class Exporters(Model):
    """Exporters for what Prometheus cannot scrape directly."""

    redis: bool = Field(True, description="redis_exporter for Memorystore: over TLS with the instance's CA.")
    cloud_sql: bool = Field(
        True,
        description="Cloud SQL's own metrics from Cloud Monitoring, through stackdriver_exporter (the "
        "cloudMonitoringWorkload identity reads them).",
    )
    cloud_monitoring_workload: Name = Field(
        "metrics-bridge",
        description="The ai-estate:identity.workloads entry the Cloud Monitoring bridge runs as.",
    )
    redis_streams: str = Field(
        "db0=*",
        pattern=r"^(db\d+=[^,\s]+)(,db\d+=[^,\s]+)*$",
        description="The streams whose length, consumer-group lag and pending entries are exported "
        "(redis_exporter's check-streams: db<n>=<glob>, comma-separated).",
    )


def check(
    logs: Logs,
    traces: Traces,
    collectors: Collectors,
    *,
    environment: str,
    namespace: str,
    buckets: Mapping[str, Any],
    workloads: Mapping[str, Any],
    namespaces: Mapping[str, Any],
    exporters: Exporters | None = None,
) -> list[Problem]:
    out: list[Problem] = []
    if exporters is not None and exporters.cloud_sql:
        wl = workloads.get(exporters.cloud_monitoring_workload)
        if wl is None or wl.namespace != namespace or "roles/monitoring.viewer" not in wl.roles:
            out.append(
                Problem(
                    "observability.exporters.cloudMonitoringWorkload",
                    exporters.cloud_monitoring_workload,
                    f"must be an ai-estate:identity.workloads entry in namespace {namespace!r} with roles "
                    "['roles/monitoring.viewer']",
                )
            )
    for area, spec, account in (("logs", logs, LOKI_SERVICE_ACCOUNT), ("traces", traces, TEMPO_SERVICE_ACCOUNT)):
        if not spec.enabled:
            continue
        at = f"observability.{area}"
        if spec.bucket not in buckets:
            out.append(
                Problem(f"{at}.bucket", spec.bucket, f"must be an ai-estate:storage.buckets entry: {sorted(buckets)}")
            )
        wl = workloads.get(spec.workload)
        want = {"namespace": namespace, "serviceAccount": account, "buckets": {spec.bucket: "writer"}}
        got = (
            {"namespace": wl.namespace, "serviceAccount": wl.service_account, "buckets": dict(wl.buckets)}
            if wl is not None
            else None
        )
        if (
            got is None
            or got["namespace"] != namespace
            or got["serviceAccount"] != account
            or (got["buckets"].get(spec.bucket) != "writer")
        ):
            out.append(
                Problem(
                    f"{at}.workload",
                    spec.workload,
                    f"must be an ai-estate:identity.workloads entry {want} (it deletes what retention drops)",
                )
            )
    if collectors.agent_namespace in namespaces:
        out.append(
            Problem(
                "observability.collectors.agentNamespace",
                collectors.agent_namespace,
                "must not be an ai-estate:namespaces entry (those are restricted; the agent's namespace is privileged)",
            )
        )
    if environment == "prod":
        if logs.enabled and logs.replicas < 3:
            out.append(
                Problem("observability.logs.replicas", logs.replicas, "at least 3 in prod (replication factor 3)")
            )
        if collectors.enabled and collectors.gateway_replicas < 2:
            out.append(
                Problem("observability.collectors.gatewayReplicas", collectors.gateway_replicas, "at least 2 in prod")
            )
        if traces.enabled and traces.replicas < 2:
            out.append(Problem("observability.traces.replicas", traces.replicas, "at least 2 in prod"))
        if traces.enabled and traces.ingesters < 3:
            out.append(
                Problem("observability.traces.ingesters", traces.ingesters, "at least 3 in prod (replication factor 3)")
            )
    return out


# Each backend's identity: its chart's service account, writing (and deleting: retention) in its bucket only.
WORKLOADS = {
    # The Cloud Monitoring bridge reads the project's metrics (Cloud SQL's), nothing else.
    "metrics-bridge": {
        "namespace": "observability",
        "serviceAccount": "cloud-monitoring-exporter",
        "roles": ["roles/monitoring.viewer"],
    },
    "loki": {"namespace": "observability", "serviceAccount": LOKI_SERVICE_ACCOUNT, "buckets": {"logs": "writer"}},
    "tempo": {"namespace": "observability", "serviceAccount": TEMPO_SERVICE_ACCOUNT, "buckets": {"traces": "writer"}},
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {"logs": {"retentionDays": 7}, "traces": {"retentionHours": 48, "samplingPercent": 100}},
    "prod": {
        "logs": {
            "replicas": 3,
            "retentionDays": 30,
            "storageGb": 50,
            "cpu": "1",
            "memory": "4Gi",
            "chunksCacheMb": 2048,
        },
        "traces": {"retentionHours": 336, "ingesters": 3, "replicas": 2, "storageGb": 20, "samplingPercent": 10},
        "collectors": {"gatewayReplicas": 2},
    },
}

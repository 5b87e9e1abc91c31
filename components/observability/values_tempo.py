"""Values for the tempo-distributed chart 2.26.2 (Tempo 2.10.7): distributors receiving OTLP from
the gateway collector, a ring of ingesters (replication factor min(ingesters, 3); in prod on SSD
volumes, so a restart replays its write-ahead log instead of losing what was not flushed), blocks
in a GCS bucket through Workload Identity, the compactor deleting them after the retention, one
memcached for bloom filters and parquet footers.

Off: the metrics generator (RED from spans is the ingress gateway's and the workloads' own metrics,
README "Observability"), the gateway (nginx), jaeger/zipkin/opencensus receivers, usage reporting,
the chart's self-monitoring (monitors.py scrapes it) and anything enterprise.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.kube.values import (
    CONTAINER_SECURITY,
    SSD_STORAGE_CLASS,
    SYSTEM_NODES,
    ChartContext,
    PinnedImage,
    Values,
    image_parts,
    resources,
)
from stacks.config_telemetry import TEMPO_SERVICE_ACCOUNT, Traces
from stacks.naming import workload_account_id

RELEASE = "tempo"  # fullname `tempo`: tempo-distributor, tempo-query-frontend, ...
DISTRIBUTOR = "tempo-distributor"
QUERY_FRONTEND = "tempo-query-frontend"
HTTP_PORT = 3200


class TempoValues(Values):
    fullname_override: str
    reporting_enabled: bool
    tempo: dict[str, Any]
    service_account: dict[str, Any]
    storage: dict[str, Any]
    traces: dict[str, Any]
    distributor: dict[str, Any]
    ingester: dict[str, Any]
    querier: dict[str, Any]
    query_frontend: dict[str, Any]
    compactor: dict[str, Any]
    metrics_generator: dict[str, Any]
    memcached: dict[str, Any]
    gateway: dict[str, Any]


def _image(pinned: PinnedImage) -> dict[str, Any]:
    """The chart composes `registry/repository:tag` and has no digest key: the digest rides on the
    tag (`2.10.7@sha256:...`), which pins the image as a digest reference does."""
    parts = image_parts(pinned)
    return {
        **{k: parts[k] for k in ("registry", "repository")},
        "tag": pulumi.Output.concat(pinned.tag, "@", pinned.digest),
    }


def _stateless(replicas: int, cpu: str, memory: str) -> dict[str, Any]:
    return {
        "replicas": replicas,
        "resources": resources(cpu, memory, cpu_limit="1"),
        "nodeSelector": dict(SYSTEM_NODES),
    }


def tempo_values(ctx: ChartContext, cfg: Traces, *, bucket: str) -> TempoValues:
    prod = ctx.prod
    ingester: dict[str, Any] = {
        "replicas": cfg.ingesters,
        "config": {"replication_factor": min(cfg.ingesters, 3)},
        "resources": resources("500m", "2Gi" if prod else "1Gi", cpu_limit="2"),
        "nodeSelector": dict(SYSTEM_NODES),
        "persistence": {"enabled": True, "size": f"{cfg.storage_gb}Gi", "storageClass": SSD_STORAGE_CLASS},
    }
    return TempoValues(
        fullname_override=RELEASE,
        reporting_enabled=False,
        tempo={
            "image": _image(ctx.images["tempo"]),
            "securityContext": dict(CONTAINER_SECURITY) | {"runAsUser": 1000, "runAsGroup": 1000},
            "podSecurityContext": {"fsGroup": 1000, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        },
        service_account={
            "create": True,
            "name": TEMPO_SERVICE_ACCOUNT,
            "automountServiceAccountToken": False,
            "annotations": {
                "iam.gke.io/gcp-service-account": ctx.gsa_email(workload_account_id(ctx.environment, cfg.workload))
            },
        },
        storage={"trace": {"backend": "gcs", "gcs": {"bucket_name": bucket}}},
        traces={"otlp": {"grpc": {"enabled": True}, "http": {"enabled": True}}},
        distributor=_stateless(cfg.replicas, "200m", "512Mi"),
        ingester=ingester,
        querier=_stateless(cfg.replicas, "200m", "1Gi"),
        query_frontend=_stateless(cfg.replicas, "100m", "512Mi"),
        compactor={
            "replicas": 1,
            "resources": resources("200m", "1Gi", cpu_limit="1"),
            "nodeSelector": dict(SYSTEM_NODES),
            "config": {"compaction": {"block_retention": f"{cfg.retention_hours}h"}},
        },
        metrics_generator={"enabled": False},
        memcached={
            "image": _image(ctx.images["memcached"]),
            "extraArgs": ["--memory-limit=256"],  # MB; memcached's own default is 64
            "resources": resources("100m", "320Mi"),
            "nodeSelector": dict(SYSTEM_NODES),
        },
        gateway={"enabled": False},
    )

"""Values for the loki chart 18.11.0 (Loki 3.7): the monolithic mode, chunks and TSDB index in a
GCS bucket through Workload Identity, multi-tenant (the collectors and Grafana send one tenant),
retention by the compactor, memcached sized from config.

Off: the nginx gateway (the collectors and Grafana call Loki's Service in the same namespace), the
canary DaemonSet and the helm test pod (a hook), the ruler (no log-based alerts yet; it would need a
rules store), the rules sidecar and its cluster-wide RBAC, the chart's NetworkPolicy (the namespace
has its own) and its ServiceMonitor (rendered only when the CRD is already there: monitors.py has one).
"""

from __future__ import annotations

from typing import Any

from components.kube.values import (
    CONTAINER_SECURITY,
    SSD_STORAGE_CLASS,
    SYSTEM_NODES,
    ChartContext,
    Values,
    image_parts,
    resources,
    zone_spread,
)
from stacks.config_telemetry import LOKI_SERVICE_ACCOUNT, Logs
from stacks.naming import workload_account_id

RELEASE = "loki"
SERVICE = "loki"  # fullnameOverride: its Service, HTTP on 3100 (push, query, /otlp)
HTTP_PORT = 3100
# The first day of the estate's schema: a later schema is a new entry from a later date.
SCHEMA_FROM = "2025-01-01"


class LokiValues(Values):
    deployment_mode: str
    fullname_override: str
    defaults: dict[str, Any]
    loki: dict[str, Any]
    service_account: dict[str, Any]
    rbac: dict[str, Any]
    single_binary: dict[str, Any]
    read: dict[str, Any]
    write: dict[str, Any]
    backend: dict[str, Any]
    gateway: dict[str, Any]
    loki_canary: dict[str, Any]
    test: dict[str, Any]
    ruler: dict[str, Any]
    sidecar: dict[str, Any]
    network_policy: dict[str, Any]
    memcached: dict[str, Any]
    memcached_exporter: dict[str, Any]
    chunks_cache: dict[str, Any]
    results_cache: dict[str, Any]


def _cache(mb: int, prod: bool) -> dict[str, Any]:
    if mb == 0:
        return {"enabled": False}
    cpu = "500m" if prod else "100m"
    return {
        "enabled": True,
        "replicas": 1,
        "allocatedMemory": mb,
        "allocatedCPU": cpu,
        # What the chart would derive (1.2x the cache: memcached's own overhead), with a CPU limit.
        "resources": resources(cpu, f"{(mb * 12 + 5) // 10}Mi"),
        "nodeSelector": dict(SYSTEM_NODES),
    }


def loki_values(ctx: ChartContext, cfg: Logs, *, bucket: str) -> LokiValues:
    prod, imgs = ctx.prod, ctx.images
    loki_image = image_parts(imgs["loki"])
    memcached = image_parts(imgs["memcached"])
    selector = {"app.kubernetes.io/name": "loki", "app.kubernetes.io/component": "single-binary"}
    return LokiValues(
        deployment_mode="Monolithic",
        fullname_override=SERVICE,
        # Loki (without the rules sidecar) and memcached never call the Kubernetes API.
        defaults={"automountServiceAccountToken": False},
        loki={
            "image": {k: loki_image[k] for k in ("registry", "repository", "digest")},
            "auth_enabled": True,
            "commonConfig": {"replication_factor": min(cfg.replicas, 3)},
            # No service_account key: the GCS client finds Workload Identity's credentials itself.
            "storage": {"type": "gcs", "bucketNames": {"chunks": bucket}},
            "schemaConfig": {
                "configs": [
                    {
                        "from": SCHEMA_FROM,
                        "store": "tsdb",
                        "object_store": "gcs",
                        "schema": "v13",
                        "index": {"prefix": "loki_index_", "period": "24h"},
                    }
                ]
            },
            "limits_config": {
                "retention_period": f"{cfg.retention_days * 24}h",
                # OTLP's resource and log attributes that are not labels land here (tsdb, v13).
                "allow_structured_metadata": True,
            },
            "compactor": {
                "retention_enabled": True,
                "delete_request_store": "gcs",
                "working_directory": "/var/loki/compactor",
            },
            "analytics": {"reporting_enabled": False},
            "podSecurityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "fsGroup": 10001,
                "fsGroupChangePolicy": "OnRootMismatch",
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containerSecurityContext": dict(CONTAINER_SECURITY),
        },
        service_account={
            "create": True,
            "name": LOKI_SERVICE_ACCOUNT,
            "automountServiceAccountToken": False,
            "annotations": {
                "iam.gke.io/gcp-service-account": ctx.gsa_email(workload_account_id(ctx.environment, cfg.workload))
            },
        },
        rbac={"namespaced": True},
        single_binary={
            "replicas": cfg.replicas,
            "sidecar": False,
            "persistence": {"enabled": True, "size": f"{cfg.storage_gb}Gi", "storageClass": SSD_STORAGE_CLASS},
            "resources": resources(cfg.cpu, cfg.memory, cpu_limit=_double(cfg.cpu)),
            "nodeSelector": dict(SYSTEM_NODES),
            "topologySpreadConstraints": zone_spread(selector) if prod else [],
        },
        read={"replicas": 0},
        write={"replicas": 0},
        backend={"replicas": 0},
        gateway={"enabled": False},
        loki_canary={"enabled": False},
        test={"enabled": False},
        ruler={"enabled": False},
        sidecar={"rules": {"enabled": False}},
        network_policy={"enabled": False},
        memcached={"image": {k: memcached[k] for k in ("registry", "repository", "digest")}},
        # Loki's own metrics carry the caches' hit rates; the exporter would be one more image.
        memcached_exporter={"enabled": False},
        chunks_cache=_cache(cfg.chunks_cache_mb, prod),
        results_cache=_cache(cfg.results_cache_mb, prod),
    )


def _double(cpu: str) -> str:
    if cpu.endswith("m"):
        return f"{int(cpu[:-1]) * 2}m"
    return f"{float(cpu) * 2:g}"

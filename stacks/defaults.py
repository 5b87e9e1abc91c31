"""Per-environment defaults, in the same camelCase shape as the stack files.

A stack file is deep-merged over these: maps merge key by key, anything else replaces,
and `null` removes a map entry (e.g. `nodePools: {burst: null}` drops the burst pool).
"""

from __future__ import annotations

import copy
from typing import Any

from stacks import (
    config_automation,
    config_cells,
    config_certs,
    config_harbor,
    config_inference,
    config_kafka,
    config_mesh,
    config_observability,
    config_pubsub,
    config_sandbox,
    config_signing,
)
from stacks.charts import CHART_IMAGES

_IMAGES = {
    # Resolved to digests at deploy time and pulled through our Artifact Registry caches.
    "cloud-sql-proxy": {"image": "gcr.io/cloud-sql-connectors/cloud-sql-proxy", "tag": "2.14.3"},
    "postgres-client": {"image": "docker.io/library/postgres", "tag": "16.6-alpine3.21"},
    # The observability layer's Redis exporter (components/observability/exporters.py).
    "redis-exporter": {"image": "docker.io/oliver006/redis_exporter", "tag": "v1.89.0"},
    "stackdriver-exporter": {"image": "docker.io/prometheuscommunity/stackdriver-exporter", "tag": "v0.19.0"},
    # The gateway's rate-limit service (components/cells/ratelimit.py): no releases since v1.4.0 (2020),
    # images are tagged with their commit's first 8 characters; this one is 2026-06's main, distroless.
    "ratelimit": {"image": "docker.io/envoyproxy/ratelimit", "tag": "1e745fc8"},
    # The model servers (ai-estate:inference): vLLM's OpenAI server (CUDA 13: the GPU pools run the
    # LATEST driver) also stages the weights; llama.cpp's server for GGUF files, CUDA 12.8.
    "vllm": {"image": "docker.io/vllm/vllm-openai", "tag": "v0.31.0"},
    "llama-cpp": {"image": "ghcr.io/ggml-org/llama.cpp", "tag": "server-cuda-b11347"},
    # The gateway's sign-in for the automation platforms (components/automation/sso.py).
    "oauth2-proxy": {"image": "quay.io/oauth2-proxy/oauth2-proxy", "tag": "v7.15.3"},
    # cosign for the release flow's worker group (components/automation/values_windmill.py): the `-dev`
    # build has a busybox beside the binary, so an init container can copy it out for the worker.
    "cosign": {"image": "ghcr.io/sigstore/cosign/cosign", "tag": "v3.1.3-dev"},
    **CHART_IMAGES,
}

_BUCKETS = {
    "artifacts": {"lifecycle": {"nearlineAfterDays": 30}},
    "registry": {},
    "logs": {"lifecycle": {"coldlineAfterDays": 30, "deleteAfterDays": 365}},
    "traces": {"lifecycle": {"deleteAfterDays": 30}},
    "models": {"lifecycle": {"noncurrentVersionsKept": 2}},
    "backups": {"storageClass": "NEARLINE", "lifecycle": {"coldlineAfterDays": 30, "deleteAfterDays": 400}},
}

_WORKLOADS = {
    "db-migrate": {
        "namespace": "estate-data",
        "serviceAccount": "db-migrate",
        "cloudSql": True,
        "secrets": ["db-admin-password"],
    },
    # The model servers read the weights; the staging Jobs write them (ai-estate:inference).
    "inference": {
        "namespace": "inference",
        "serviceAccount": "inference",
        "buckets": {"models": "reader"},
        "secrets": ["inference-api-key"],
    },
    "model-staging": {"namespace": "inference", "serviceAccount": "model-staging", "buckets": {"models": "writer"}},
    "cells": {
        "namespace": "cells",
        "serviceAccount": "cells",
        "cloudSql": True,
        "buckets": {"artifacts": "writer"},
        # The cells' Memorystore: its address, AUTH string and CA (stacks.rules_cells.REDIS_SECRETS);
        # the key llama.cpp servers ask their callers for.
        "secrets": ["redis-address", "redis-auth", "redis-ca", "inference-api-key"],
    },
    # What exports the audit stream and watches the dead letters (Pub/Sub grants); Loki and Tempo
    # have identities of their own (stacks/config_telemetry.py).
    "observability": {"namespace": "observability", "serviceAccount": "observability"},
    "backup": {"namespace": "estate-data", "serviceAccount": "backup", "buckets": {"backups": "writer"}},
}

# Application namespaces. Platform namespaces (mesh, cert-manager, ...) are fixed in code.
_NAMESPACES = {
    "estate-data": {"holdsData": True, "egress": {"cloudSql": True, "googleApis": True}},
    "cells": {
        "ingress": True,
        "egress": {"cloudSql": True, "redis": True, "googleApis": True},
        "quota": {"cpu": "16", "memory": "64Gi", "pods": 100},
    },
    # The model servers admit their callers (ai-estate:inference.<server>.callers) one by one.
    "inference": {
        "egress": {"googleApis": True},
        # GPUs: the model servers at their maximum plus a rollout's surge (stacks.rules_inference).
        "quota": {"cpu": "32", "memory": "192Gi", "pods": 50, "gpus": 8},
        "containerDefaults": {"maxCpu": "16", "maxMemory": "96Gi"},
    },
    "observability": {"holdsData": True, "egress": {"googleApis": True}},
    # Strimzi Kafka: out of the mesh (its listener is mutual TLS already, and ambient's ztunnel
    # would add nothing but a second handshake), its volumes backed up.
    "kafka": {
        "holdsData": True,
        "mesh": "none",
        "callers": {"cells": {"namespace": "cells", "serviceAccount": "cells"}},
        "quota": {"cpu": "16", "memory": "64Gi", "pods": 50},
    },
}

_SYSTEM_POOL = {"machineType": "e2-standard-4", "minNodes": 1, "maxNodes": 3, "labels": {"workload-class": "system"}}
_GPU_POOL = {
    "machineType": "g2-standard-8",
    "minNodes": 0,
    "maxNodes": 2,
    # LATEST: the vLLM image's CUDA 13 needs the R580 driver (stacks.serving.GKE_DRIVER_BRANCH).
    "gpu": {"type": "nvidia-l4", "count": 1, "driverVersion": "LATEST"},
    "labels": {"workload-class": "inference"},
    "maxSurge": 1,
    "maxUnavailable": 0,
}
# GKE Sandbox (gVisor) for generated code (ai-estate:sandbox): scaled to zero between jobs; GKE
# taints the nodes itself, so no taint of ours.
_SANDBOX_POOL = {
    "machineType": "e2-standard-4",
    "minNodes": 0,
    "maxNodes": 2,
    "sandbox": True,
    "labels": {"workload-class": "sandbox"},
}
_BURST_POOL = {
    "machineType": "e2-standard-8",
    "minNodes": 0,
    "maxNodes": 5,
    "spot": True,
    "taints": {"workload-class": {"value": "batch", "effect": "NoSchedule"}},
    "labels": {"workload-class": "batch"},
}

DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {
        "network": {
            "flowLogs": {"sampling": 0.1, "metadata": "EXCLUDE_ALL_METADATA"},
            "firewallLogs": "OFF",
        },
        "cluster": {
            "regional": False,
            "deletionProtection": False,
            "nodePools": {
                "system": _SYSTEM_POOL,
                "gpu": {
                    **_GPU_POOL,
                    "spot": True,
                    "gpu": {
                        "type": "nvidia-l4",
                        "count": 1,
                        "driverVersion": "LATEST",
                        "sharing": {"strategy": "TIME_SHARING", "maxSharedClientsPerGpu": 4},
                    },
                },
                "burst": _BURST_POOL,
                "sandbox": _SANDBOX_POOL,
            },
        },
        "database": {
            "tier": "db-custom-2-7680",
            "availability": "ZONAL",
            "deletionProtection": False,
            "databases": {"app": {}},
            "backups": {"retainedBackups": 7, "pointInTimeRecoveryDays": 3},
        },
        "cache": {"tier": "BASIC", "memorySizeGb": 1, "replicaCount": 0},
        "storage": {"buckets": _BUCKETS},
        "registry": {"images": _IMAGES},
        "identity": {"workloads": _WORKLOADS},
        "namespaces": _NAMESPACES,
    },
    "prod": {
        # Audits need who talked to whom: connection logs with their metadata.
        "network": {
            "flowLogs": {"sampling": 0.5, "metadata": "INCLUDE_ALL_METADATA"},
            "firewallLogs": "INCLUDE_ALL_METADATA",
        },
        "cluster": {
            "regional": True,
            "deletionProtection": True,
            "releaseChannel": "STABLE",
            "nodePools": {
                "system": {**_SYSTEM_POOL, "machineType": "n2-standard-8", "maxNodes": 5},
                "gpu": {**_GPU_POOL, "maxNodes": 4},
                # A100 40GB is not offered in every zone (in europe-west4: a and b): without `zones`
                # the pool runs in the cluster's zones that offer it (stacks.gpu.pool_zones).
                "gpu-large": {
                    "machineType": "a2-highgpu-1g",
                    "minNodes": 0,
                    "maxNodes": 2,
                    "gpu": {"type": "nvidia-tesla-a100", "count": 1, "driverVersion": "LATEST"},
                    "diskSizeGb": 500,
                    "diskType": "pd-ssd",
                    "labels": {"workload-class": "inference-large"},
                },
                "burst": {**_BURST_POOL, "maxNodes": 20},
                "sandbox": {**_SANDBOX_POOL, "maxNodes": 4},
            },
        },
        "database": {
            "tier": "db-custom-8-32768",
            "availability": "REGIONAL",
            "deletionProtection": True,
            "diskSizeGb": 100,
            "databases": {"app": {}},
            "backups": {"retainedBackups": 30, "pointInTimeRecoveryDays": 7},
        },
        "cache": {"tier": "STANDARD_HA", "memorySizeGb": 5, "replicaCount": 2, "readReplicas": True},
        "storage": {"buckets": _BUCKETS},
        "registry": {"images": _IMAGES},
        "identity": {"workloads": _WORKLOADS},
        "namespaces": _NAMESPACES,
    },
}


# The platform areas keep their per-environment defaults beside their models.
for _env, _areas in DEFAULTS.items():
    _areas.update(copy.deepcopy(config_certs.DEFAULTS[_env]))
    _areas.update(copy.deepcopy(config_signing.DEFAULTS[_env]))
    _areas["mesh"] = copy.deepcopy(config_mesh.DEFAULTS[_env])
    # The data layer's areas likewise.
    _areas.update(copy.deepcopy(config_pubsub.DEFAULTS[_env]))
    _areas.update(copy.deepcopy(config_kafka.DEFAULTS[_env]))
    _areas.update(copy.deepcopy(config_cells.DEFAULTS[_env]))
    _areas.update(copy.deepcopy(config_sandbox.DEFAULTS[_env]))
    _areas.update(copy.deepcopy(config_inference.DEFAULTS[_env]))


def merge(base: Any, override: Any) -> Any:
    """Deep-merge `override` onto `base` (see module docstring for the rules)."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = copy.deepcopy(base)
        for key, value in override.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = merge(out.get(key), value)
        return out
    return copy.deepcopy(override)


# Harbor also declares its database, user, namespace and identities in those areas: merged, not replaced.
for _env in DEFAULTS:
    DEFAULTS[_env] = merge(DEFAULTS[_env], config_harbor.DEFAULTS[_env])
    # The observability layer's too (Grafana's gateway host and its namespace's ingress).
    DEFAULTS[_env] = merge(DEFAULTS[_env], config_observability.DEFAULTS[_env])
    # And the workflow platforms' (their namespaces, database, user, workload and gateway host).
    DEFAULTS[_env] = merge(DEFAULTS[_env], config_automation.DEFAULTS[_env])

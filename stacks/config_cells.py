"""`ai-estate:cells`: the application's services, a map keyed by cell name.

A cell is one service released on its own (seed 002): its image from the estate's own repository,
its port and protocol, its Google identity (an `identity.workloads` entry, whose grants are the
cell's), the secrets it reads, its replicas and autoscaling, resources, probes, the node class it
runs on, its routes on the ingress gateway and the cells allowed to call it. A short entry is
enough: everything else has the default the seeds ask for (HPA at 70% CPU and 80% memory, probes
on `/health/live` and `/health/ready`).

The rules between a cell and the rest of the config (namespaces, hosts, workloads, secrets, node
pools, the database's IAM users) are in `stacks.rules_cells`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from stacks.base import Duration, LabelValue, Model, Name
from stacks.config_harbor import ProjectName
from stacks.config_mesh import HostName
from stacks.config_namespaces import Quantity

EnvName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]{0,127}$")]
ImagePath = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")]
Tag = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
Digest = Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
PathPrefix = Annotated[str, Field(pattern=r"^/([A-Za-z0-9._~-]+/?)*$")]
HttpPath = Annotated[str, Field(pattern=r"^/[A-Za-z0-9._~/-]*$")]

DEFAULT_NAMESPACE = "cells"
DEFAULT_UID = 10001  # a non-root user the estate's images are built to run as


class CellImage(Model):
    registry: Literal["artifactRegistry", "harbor"] = Field(
        "artifactRegistry",
        description="artifactRegistry: the estate's own repository, the tag resolved to its digest at deploy time; "
        "harbor: a Harbor project, pinned by `digest` (what the release flow verified and proposes).",
    )
    project: ProjectName | None = Field(None, description="The harbor.projects entry (registry: harbor only).")
    name: ImagePath = Field(
        description="Path in the repository: `<region>-docker.pkg.dev/<project>/images/<name>`, or "
        "`registry.<domain>/<project>/<name>` with Harbor."
    )
    tag: Tag = Field(
        description="With Artifact Registry, resolved to its digest at deploy time (a tag it lacks stops `up`)."
    )
    digest: Digest | None = Field(
        None, description="The manifest's digest, `sha256:<64 hex>`: required with Harbor, refused otherwise."
    )

    @property
    def repository(self) -> str:
        """`<project>/<name>`: how Harbor names the repository in its webhooks."""
        return f"{self.project}/{self.name}"


class Resources(Model):
    cpu: Quantity = Field("250m", description="CPU request.")
    cpu_limit: Quantity = Field("1", description="CPU limit.")
    memory: Quantity = Field("256Mi", description="Memory request (and limit, unless memoryLimit says more).")
    memory_limit: Quantity | None = Field(None, description="Memory limit; the request when absent.")


class Probes(Model):
    liveness: HttpPath = "/health/live"
    readiness: HttpPath = "/health/ready"
    startup_seconds: int = Field(60, ge=5, le=600, description="How long the cell may take to start.")


class Replicas(Model):
    min: int = Field(2, ge=0, le=500, description="Replicas at least (0 only for a cell scaled on its queue).")
    max: int = Field(6, ge=1, le=500, description="Replicas at most (the HPA's maxReplicas).")
    cpu_percent: int = Field(70, ge=1, le=100, description="HPA target: average CPU use against the request.")
    memory_percent: int = Field(80, ge=1, le=100, description="HPA target: average memory use against the request.")


class Queue(Model):
    """Scale on a Redis Streams consumer group's lag with KEDA (seed 001: "if XLEN grows, scale
    workers"), instead of the HPA on CPU and memory."""

    stream: Annotated[str, Field(pattern=r"^[A-Za-z0-9:_.-]{1,200}$")] = Field(description="The stream's key.")
    consumer_group: Annotated[str, Field(pattern=r"^[A-Za-z0-9:_.-]{1,200}$")] = Field(
        description="The group the cell's replicas read as: its lag (entries not yet delivered) scales."
    )
    lag_per_replica: int = Field(10, ge=1, le=100000, description="KEDA lagCount: entries behind per replica.")
    activation_lag: int = Field(
        0, ge=0, le=100000, description="KEDA activationLagCount: from zero replicas once the lag exceeds this."
    )
    database: int = Field(0, ge=0, le=15, description="The Redis database index.")


class RateLimit(Model):
    """Per client address, at the ingress gateway (seed 004's nginx `limit_req`): `requestsPerSecond`
    sustained, and `burst` more at once (nginx's burst with nodelay)."""

    requests_per_second: int = Field(ge=1, le=100000)
    burst: int = Field(0, ge=0, le=1000000, description="Extra requests a client may send at once.")


class Route(Model):
    host: HostName = Field(description="A mesh.hosts entry's host: a label in the DNS domain ('api') or a full name.")
    path_prefix: PathPrefix = Field("/", description="Requests whose path starts with this reach the cell.")
    timeout: Duration | None = Field(
        None, description="Per request; none for WebSocket cells (their connections live long). Default 30s."
    )
    rate_limit: RateLimit | None = Field(None, description="Per client address; on WebSocket, the upgrade only.")


class Release(Model):
    """How a new tag goes out. rolling: Kubernetes' rolling update. canary (cells with public routes):
    Flagger shifts `stepWeight` percent of the gateway's traffic at a time to the new version, up to
    `maxWeight`, then promotes it, or rolls back after `threshold` failed checks of its error rate
    and p95 latency, read from the gateway's metrics. blue-green: Flagger runs the new version
    beside the old for `iterations` intervals and switches the Service once its pods stay ready."""

    strategy: Literal["rolling", "canary", "blue-green"] = "rolling"
    step_weight: int = Field(5, ge=1, le=100, description="Canary: traffic percent added per interval.")
    max_weight: int = Field(
        50, ge=1, le=100, description="Canary: the most traffic the new version gets before promotion."
    )
    interval: Duration = Field("1m", description="Between checks.")
    threshold: int = Field(5, ge=1, le=100, description="Failed checks before the rollback.")
    iterations: int = Field(10, ge=1, le=1000, description="Blue-green: intervals the new version runs beside the old.")
    max_error_percent: float = Field(1.0, gt=0, le=100, description="Canary: 5xx share the new version may have.")
    max_latency_ms: int = Field(500, ge=1, le=600000, description="Canary: p95 latency the new version may have.")
    skip_analysis: bool = Field(False, description="Promote without checks (an emergency, or a stack without traffic).")


class CellConfig(Model):
    namespace: Name = Field(DEFAULT_NAMESPACE, description="An ai-estate:namespaces entry in the ambient mesh.")
    image: CellImage
    port: int | None = Field(8080, ge=1024, le=65535, description="What it serves on; none for a worker.")
    protocol: Literal["http", "grpc", "websocket"] = "http"
    command: list[str] = []
    args: list[str] = []
    env: dict[EnvName, str] = Field({}, description="Plain settings; secrets go in `secrets`.")
    secrets: dict[EnvName, Name] = Field(
        {}, description="Environment variable -> estate secret key synced to the namespace (never a value)."
    )
    workload: Name | None = Field(
        None, description="The identity.workloads entry whose Google account (and grants) the cell acts as."
    )
    cloud_sql: bool = Field(
        False, description="Cloud SQL through the Auth Proxy as a native sidecar, logging in as its workload (IAM)."
    )
    database: Name | None = Field(None, description="With cloudSql: the database; the only one when absent.")
    redis: bool = Field(False, description="Memorystore with AUTH and TLS: address, password and CA from secrets.")
    kafka: bool = Field(
        False, description="Kafka over mutual TLS as its workload's Kafka user: the user's access mounted as files."
    )
    kubernetes_api: bool = Field(False, description="Mount a service account token (only a cell that calls the API).")
    uid: int = Field(DEFAULT_UID, ge=1000, le=2147483647, description="The non-root user the image runs as.")
    replicas: Replicas = Replicas()
    queue: Queue | None = Field(None, description="Scale on a Redis Streams lag (KEDA) instead of CPU and memory.")
    resources: Resources = Resources()
    probes: Probes = Probes()
    node_class: LabelValue | None = Field(
        None, description="A node pool's `workload-class` label; any untainted pool when absent."
    )
    routes: dict[Name, Route] = Field({}, description="Public routes on the ingress gateway, keyed by a name.")
    callers: list[Name] = Field([], description="Cells that may call this one (in-mesh, by identity).")
    release: Release = Release()


CellsConfig = dict[Name, CellConfig]

# Seeds 003 (API gateway, AI, auth, user, analytics services, web app), 004 (chat over WebSocket)
# and 001 (an orchestrator with 3 replicas and /health + /ready; agent workers on Redis Streams).
_API = ["api-gateway"]
_API_LIMIT = {"requestsPerSecond": 10, "burst": 20}
# Seeds 002 and 000: public cells by canary at the gateway, 5% first; internal ones blue/green.
_CANARY = {"strategy": "canary", "stepWeight": 5, "maxWeight": 50}
_BLUE_GREEN = {"strategy": "blue-green"}
# The cells that keep state: the application database as the shared `cells` identity (IAM login).
_DB = {"workload": "cells", "cloudSql": True, "database": "app"}
REFERENCE: dict[str, dict[str, Any]] = {
    "web-app": {
        "image": {"name": "web-app", "tag": "1.0.0"},
        "release": _CANARY,
        "port": 3000,
        "routes": {"web": {"host": "app"}},
    },
    "api-gateway": {
        "image": {"name": "api-gateway", "tag": "1.0.0"},
        "release": _CANARY,
        # Seed 004: `limit_req zone=api rate=10r/s burst=20 nodelay` on /api/.
        "routes": {
            "api": {"host": "app", "pathPrefix": "/api/", "rateLimit": _API_LIMIT},
            "direct": {"host": "api", "rateLimit": _API_LIMIT},
        },
        "resources": {"cpu": "500m", "memory": "256Mi"},
    },
    "chat": {
        "image": {"name": "chat", "tag": "1.0.0"},
        "release": _CANARY,
        "protocol": "websocket",
        "workload": "cells",
        "redis": True,
        # Seed 004: `limit_req zone=chat rate=50r/s burst=100 nodelay` on /ws.
        "routes": {
            "chat": {"host": "chat"},
            "ws": {"host": "chat", "pathPrefix": "/ws", "rateLimit": {"requestsPerSecond": 50, "burst": 100}},
        },
        "replicas": {"min": 3, "max": 10},
    },
    "ai-service": {
        "image": {"name": "ai-service", "tag": "1.0.0"},
        "release": _BLUE_GREEN,
        **_DB,
        "callers": [*_API, "chat"],
        "resources": {"cpu": "500m", "memory": "1Gi"},
        # It calls the model servers (ai-estate:inference); the llama.cpp ones ask for this key.
        "secrets": {"INFERENCE_API_KEY": "inference-api-key"},
    },
    "auth-service": {
        "image": {"name": "auth-service", "tag": "1.0.0"},
        "release": _BLUE_GREEN,
        **_DB,
        "callers": [*_API, "chat"],
    },
    "user-service": {
        "image": {"name": "user-service", "tag": "1.0.0"},
        "release": _BLUE_GREEN,
        **_DB,
        "callers": _API,
    },
    "analytics-service": {
        "image": {"name": "analytics-service", "tag": "1.0.0"},
        "release": _BLUE_GREEN,
        **_DB,
        "kafka": True,  # seed 003: it reads the events topic
        "callers": _API,
        "resources": {"memory": "512Mi"},
    },
    "orchestrator": {
        "image": {"name": "orchestrator", "tag": "1.0.0"},
        "release": _BLUE_GREEN,
        **_DB,
        "kafka": True,  # publishes task events
        "redis": True,
        "callers": _API,
        "probes": {"liveness": "/health", "readiness": "/ready"},
        # Seed 001: it runs generated code as Jobs in the sandbox (ai-estate:sandbox).
        "kubernetesApi": True,
        "replicas": {"min": 3, "max": 6},
    },
    "agent-workers": {
        "image": {"name": "agent-workers", "tag": "1.0.0"},
        **_DB,
        "redis": True,
        "resources": {"cpu": "500m", "memory": "512Mi"},
        "queue": {"stream": "tasks", "consumerGroup": "agents", "lagPerReplica": 10},
        "replicas": {"min": 1, "max": 20},
    },
}
# Dev scales the workers from zero: nothing runs while the queue is empty; and it has no traffic to
# measure a canary by, so its releases promote without analysis.
_DEV = {
    **{
        name: {**cell, "release": {**cell["release"], "skipAnalysis": True}} if "release" in cell else cell
        for name, cell in REFERENCE.items()
    },
    "agent-workers": {**REFERENCE["agent-workers"], "replicas": {"min": 0, "max": 5}},
}
DEFAULTS: dict[str, dict[str, Any]] = {"dev": {"cells": _DEV}, "prod": {"cells": REFERENCE}}

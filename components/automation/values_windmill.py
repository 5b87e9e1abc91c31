"""Windmill chart values (windmill 4.0.246, Windmill 1.794.0, Community Edition): every unsafe
default replaced.

- The bundled demo PostgreSQL off (`postgresql.enabled`); the database URL from a Secret External
  Secrets writes, mounted as a file (`databaseUrlAsFile`: `DATABASE_URL_FILE`, never in the pod
  spec), pointing at the Cloud SQL Auth Proxy on localhost: a native sidecar in every pod, which
  takes the instance's name from a ConfigMap (the name is a resource output; values stay known at
  preview).
- Workers not privileged (the chart's default is privileged root), non-root, a writable HOME, and
  PID-namespace isolation off (`disableUnsharePid`): it needs privilege. The groups come from
  config and replace the chart's default list; their tags are `WORKER_TAGS`.
- No ingress (the gateway routes `windmill.<domain>` after sign-in), no windmill-extra (the LSP and
  debugger pods: no service account or probes of their own), no enterprise features.
- No hooks, `lookup` or generated secrets in the chart's templates; the superadmin secret is the
  program's (Secret Manager), given as `SUPERADMIN_SECRET`.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pydantic import Field

from components.automation.cloud_sql import PROXY_PORT, proxy_sidecar
from components.kube.api_token import mount as token_mount
from components.kube.api_token import volume as token_volume
from components.kube.values import (
    CONTAINER_SECURITY,
    SYSTEM_NODES,
    Account,
    ChartContext,
    PinnedImage,
    Toggle,
    Values,
    tag_at_digest,
    zone_spread,
)
from components.kube.values import resources as limits
from stacks.config_automation import WINDMILL_UID, WindmillConfig
from stacks.config_namespaces import quantity

RELEASE = "windmill"
DATABASE_SECRET = "windmill-database"  # key `url`
SUPERADMIN_SECRET = "windmill-superadmin"  # key `value`
SANDBOX_ACCOUNT = "windmill-sandbox"  # the account of the groups that start sandbox Jobs
APP_SELECTOR = {"app": "windmill-app"}
HOME = "/tmp"  # the chart's own advice for a non-root uid other than 1000's image user


def database_url_template(user: str, database: str) -> str:
    """The URL External Secrets writes (its template over the user's password). Plain text to the
    proxy on localhost: TLS and IAM authorization are the proxy's job."""
    return f"postgres://{user}:{{{{ .password | urlquery }}}}@127.0.0.1:{PROXY_PORT}/{database}?sslmode=disable"


def pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": WINDMILL_UID,
        "runAsGroup": WINDMILL_UID,
        "fsGroup": WINDMILL_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


class Pods(Values):
    """What the server's block and each worker group's say alike about their pods."""

    pod_security_context: dict[str, Any]
    container_security_context: dict[str, Any]
    resources: dict[str, Any]
    extra_env: list[dict[str, Any]]
    init_containers: list[dict[str, Any]]
    volumes: list[dict[str, Any]]
    volume_mounts: list[dict[str, Any]]
    node_selector: dict[str, str] = Field(default_factory=lambda: dict(SYSTEM_NODES))


class App(Pods):
    topology_spread_constraints: list[dict[str, Any]] | None = None


class WorkerGroupValues(Pods):
    name: str
    replicas: int
    privileged: bool = False
    disable_unshare_pid: bool = True
    labels: dict[str, str]
    service_account_name: str | None = None
    # A running job keeps its worker up to this long on a rollout (the chart's default is a week).
    termination_grace_period_seconds: int = 600


class WindmillBlock(Values):
    image: str
    tag: str | pulumi.Output[str]
    image_pull_policy: str = "IfNotPresent"
    app_replicas: int
    extra_replicas: int = 0
    database_url_secret_name: str = DATABASE_SECRET
    database_url_secret_key: str = "url"
    database_url_as_file: bool = True
    database_url: str = ""  # the chart's demo URL (with its password) out of every pod
    base_domain: str
    base_protocol: str = "https"
    worker_groups: list[WorkerGroupValues]
    app: App


class WindmillValues(Values):
    postgresql: Toggle = Toggle()
    minio: Toggle = Toggle()
    ingress: Toggle = Toggle()
    enterprise: Toggle = Toggle()
    service_account: Account
    windmill: WindmillBlock


def _scratch() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return [{"name": "tmp", "emptyDir": {"sizeLimit": "8Gi"}}], [{"name": "tmp", "mountPath": "/tmp"}]


def windmill_values(
    ctx: ChartContext,
    cfg: WindmillConfig,
    *,
    host: str,
    account: str,
    internal_url: str,
    release: tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]] | None = None,
) -> WindmillValues:
    """`release`: the release group's init containers, volumes and mounts (components/automation/release)."""
    image: PinnedImage = ctx.images["windmill"]
    proxy = proxy_sidecar(ctx.images["cloud-sql-proxy"])
    volumes, mounts = _scratch()
    common_env = [{"name": "HOME", "value": HOME}]
    groups = []
    for name, group in sorted(cfg.worker_groups.items()):
        g_volumes, g_mounts = list(volumes), list(mounts)
        if group.sandbox:
            # Declared, not automounted: the token it starts sandbox Jobs with, in this group only.
            g_volumes.append(token_volume())
            g_mounts.append(token_mount())
        g_init = [proxy]
        if group.release and release is not None:
            init, extra_volumes, extra_mounts = release
            g_init, g_volumes, g_mounts = [*init, proxy], g_volumes + extra_volumes, g_mounts + extra_mounts
        groups.append(
            WorkerGroupValues(
                name=name,
                replicas=group.replicas,
                pod_security_context=pod_security(),
                container_security_context=dict(CONTAINER_SECURITY),
                resources=limits(group.cpu, group.memory, cpu_limit=f"{round(quantity(group.cpu) * 2000)}m"),
                extra_env=[
                    *common_env,
                    {"name": "WORKER_TAGS", "value": ",".join(group.tags)},
                    # Scripts call the server inside the mesh, not through the gateway's sign-in.
                    {"name": "BASE_INTERNAL_URL", "value": internal_url},
                ],
                init_containers=g_init,
                volumes=g_volumes,
                volume_mounts=g_mounts,
                labels={"estate.io/worker-group": name},
                service_account_name=SANDBOX_ACCOUNT if group.sandbox else None,
            )
        )
    superadmin = {
        "name": "SUPERADMIN_SECRET",
        "valueFrom": {"secretKeyRef": {"name": SUPERADMIN_SECRET, "key": "value"}},
    }
    return WindmillValues(
        service_account=Account(name=account),
        windmill=WindmillBlock(
            image=image.repository,
            tag=tag_at_digest(image),
            app_replicas=cfg.replicas,
            base_domain=host,
            worker_groups=groups,
            app=App(
                pod_security_context=pod_security(),
                container_security_context=dict(CONTAINER_SECURITY),
                resources=limits("500m", "1Gi", cpu_limit="2"),
                extra_env=[*common_env, superadmin],
                init_containers=[proxy],
                volumes=volumes,
                volume_mounts=mounts,
                topology_spread_constraints=zone_spread(APP_SELECTOR) if ctx.prod else None,
            ),
        ),
    )

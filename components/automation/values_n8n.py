"""n8n chart values (n8n-io/n8n-hosting chart 1.11.0, n8n 2.29.1) and the transforms that finish
what its values cannot say.

- The image pinned (the chart's default tag is the moving `stable`), from our registry by digest.
- State in the estate's Cloud SQL instance, as a database and built-in user of its own, through the
  Cloud SQL Auth Proxy as a native sidecar on localhost (TLS is the proxy's: the chart's SSL switch
  stays off); the password from a Secret External Secrets writes.
- Queue mode in prod: a main process and workers on the estate's Memorystore with AUTH and TLS, the
  instance's CA trusted through `NODE_EXTRA_CA_CERTS`. The instance's address is a resource output
  and the chart reads it from its values (then a ConfigMap): the transform below takes it from the
  `redis-client` Secret instead, so the values stay known at preview.
- The encryption key generated once (Secret Manager) and given through the chart's existing-secret
  option with its host, port and protocol; the task runners' token likewise (the chart otherwise
  makes one with `lookup` and a random value, even with the runners off).
- No RBAC (the chart's Role reads every Secret of the namespace), no token automounted, no ingress,
  no NetworkPolicy of the chart's (the namespace's own are narrower), no PodDisruptionBudget of the
  chart's (with one replica it blocks every drain; the component makes one that does not).
- The containers' root filesystem read-only (the chart cannot say it): `/tmp` and n8n's home on
  emptyDirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pydantic import Field

from components.automation.cloud_sql import PROXY_PORT, proxy_sidecar
from components.kube import redis_client
from components.kube.transforms import POD_TEMPLATE_KINDS
from components.kube.values import SYSTEM_NODES, Account, ChartContext, PinnedImage, Toggle, Values, tag_at_digest
from components.kube.values import resources as limits
from stacks.config_automation import N8nConfig

RELEASE = "n8n"
DB_SECRET = "n8n-db-password"  # key `password`
SECRETS = "n8n-secrets"  # N8N_ENCRYPTION_KEY, N8N_HOST, N8N_PORT, N8N_PROTOCOL (the chart's fixed keys)
RUNNERS_SECRET = "n8n-runners"  # key `token`
UID = 1000  # the image's `node` user
HOME = "/home/node/.n8n"
REDIS_CA_DIR = "/etc/redis-ca"
REDIS_TLS_PORT = 6378


class Image(Values):
    repository: str
    tag: str | pulumi.Output[str]
    pull_policy: str = "IfNotPresent"


class QueueMode(Values):
    enabled: bool
    worker_replica_count: int


class RbacToggle(Values):
    create: bool = False


class AuthToken(Values):
    existing_secret: str = RUNNERS_SECRET
    existing_secret_key: str = "token"


class TaskRunners(Values):
    enabled: bool = False
    auth_token: AuthToken = AuthToken()


class SecretRef(Values):
    name: str
    key: str


class Ssl(Values):
    enabled: bool = False  # TLS is the proxy's


class Database(Values):
    type: str = "postgresdb"
    use_external: bool = True
    host: str = "127.0.0.1"  # the proxy, in the pod
    port: int = PROXY_PORT
    database: str
    db_schema: str = Field("public", alias="schema")
    user: str
    password_secret: SecretRef = SecretRef(name=DB_SECRET, key="password")
    ssl: Ssl = Ssl()


class Redis(Values):
    enabled: bool
    use_external: bool = True
    # Read by the chart's validation and ConfigMap only: the Deployments take the address from the
    # `redis-client` Secret (`redis_address_from_secret`).
    host: str = redis_client.SECRET
    port: int = REDIS_TLS_PORT
    password_secret: SecretRef | None = None
    tls: bool = True


class SecretRefs(Values):
    existing_secret: str = SECRETS


class Webhook(Values):
    enabled: bool = True
    url: str


class Config(Values):
    extra_env: list[dict[str, Any]]


class SecurityContext(Values):
    enabled: bool = True
    fs_group: int = UID
    run_as_user: int = UID
    run_as_group: int = UID


class N8nValues(Values):
    image: Image
    queue_mode: QueueMode
    webhook_processor: Toggle = Toggle()
    multi_main: Toggle = Toggle()
    task_runners: TaskRunners = TaskRunners()
    service_account: Account
    rbac: RbacToggle = RbacToggle()
    pdb: Toggle = Toggle()
    persistence: Toggle = Toggle()
    ingress: Toggle = Toggle()
    network_policy: Toggle = Toggle()
    security_context: SecurityContext = SecurityContext()
    resources: dict[str, Any]
    node_selector: dict[str, str]
    database: Database
    redis: Redis
    secret_refs: SecretRefs = SecretRefs()
    webhook: Webhook
    config: Config
    extra_init_containers: list[dict[str, Any]]
    extra_volumes: list[dict[str, Any]]
    extra_volume_mounts: list[dict[str, Any]]


def n8n_values(
    ctx: ChartContext, cfg: N8nConfig, *, host: str, account: str, workflows: str | None = None
) -> N8nValues:
    """`workflows`: a ConfigMap of committed workflows, mounted read-only at /workflows."""
    image: PinnedImage = ctx.images["n8n"]
    env = [
        {"name": "N8N_PROXY_HOPS", "value": "1"},  # the ingress gateway
        {"name": "N8N_METRICS", "value": "true"},
        {"name": "N8N_DIAGNOSTICS_ENABLED", "value": "false"},
        {"name": "N8N_VERSION_NOTIFICATIONS_ENABLED", "value": "false"},
        {"name": "N8N_PERSONALIZATION_ENABLED", "value": "false"},
    ]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}}]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    if workflows:
        volumes.append({"name": "workflows", "configMap": {"name": workflows}})
        mounts.append({"name": "workflows", "mountPath": "/workflows", "readOnly": True})
    if cfg.queue_mode:
        env.append({"name": "NODE_EXTRA_CA_CERTS", "value": f"{REDIS_CA_DIR}/ca.crt"})
        volumes.append(
            {
                "name": "redis-ca",
                "secret": {"secretName": redis_client.SECRET, "items": [{"key": "ca", "path": "ca.crt"}]},
            }
        )
        mounts.append({"name": "redis-ca", "mountPath": REDIS_CA_DIR, "readOnly": True})
    return N8nValues(
        image=Image(repository=image.repository, tag=tag_at_digest(image)),
        queue_mode=QueueMode(enabled=cfg.queue_mode, worker_replica_count=cfg.workers),
        service_account=Account(name=account),
        resources={
            "main": limits("250m", "1Gi", cpu_limit="1"),
            "worker": limits("250m", "1Gi", cpu_limit="1"),
        },
        node_selector=dict(SYSTEM_NODES),
        database=Database(database=cfg.database, user=cfg.database_user),
        redis=Redis(
            enabled=cfg.queue_mode,
            password_secret=SecretRef(name=redis_client.SECRET, key="password") if cfg.queue_mode else None,
        ),
        webhook=Webhook(url=f"https://{host}/"),
        config=Config(extra_env=env),
        extra_init_containers=[proxy_sidecar(ctx.images["cloud-sql-proxy"])],
        extra_volumes=volumes,
        extra_volume_mounts=mounts,
    )


# ---------------------------------------------------------------- transforms
WRITABLE = {"/tmp": "tmp", HOME: "home"}  # what n8n writes, on emptyDirs
_ADDRESS = {"QUEUE_BULL_REDIS_HOST": "host", "QUEUE_BULL_REDIS_PORT": "port"}


def hardened(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A Deployment of the chart with a read-only root filesystem in every container and emptyDirs
    where n8n writes, and the queue's address from the `redis-client` Secret."""
    spec = dict(obj["spec"])
    template = dict(spec["template"])
    pod = dict(template["spec"])
    volumes = list(pod.get("volumes") or [])
    containers = []
    for c in pod.get("containers") or []:
        c = dict(c)
        c["securityContext"] = {**(c.get("securityContext") or {}), "readOnlyRootFilesystem": True}
        mounts = list(c.get("volumeMounts") or [])
        mounted = {m["mountPath"] for m in mounts}
        for path, name in WRITABLE.items():
            if path not in mounted:
                mounts.append({"name": name, "mountPath": path})
                if name not in {v["name"] for v in volumes}:
                    volumes.append({"name": name, "emptyDir": {"sizeLimit": "2Gi"}})
        c["volumeMounts"] = mounts
        c["env"] = [
            {
                "name": e["name"],
                "valueFrom": {"secretKeyRef": {"name": redis_client.SECRET, "key": _ADDRESS[e["name"]]}},
            }
            if e.get("name") in _ADDRESS
            else e
            for e in c.get("env") or []
        ]
        containers.append(c)
    pod["containers"] = containers
    pod["volumes"] = volumes
    template["spec"] = pod
    spec["template"] = template
    return {**obj, "spec": spec}


def harden_n8n(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Pulumi transform: `hardened` on the chart's Deployments."""
    if args.type_ not in POD_TEMPLATE_KINDS:
        return None
    return pulumi.ResourceTransformResult(props=hardened(args.props), opts=args.opts)

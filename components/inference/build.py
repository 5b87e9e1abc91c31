"""The inference layer's builder: the model servers (`ai-estate:inference`) with their staged weights,
and the sandbox for generated code (`ai-estate:sandbox`). Like the others, it reads the layers below
only through their exported objects.

A gated model's token is a person's to set: `check_token`, which `__main__.py` calls before any
resource is registered, looks its secret up in Secret Manager (metadata only), and a missing one
stops `up` with the commands to add it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.cells import CellsLayer
from components.cloud import CloudLayer
from components.common import K8S_LABELS, child
from components.inference.alerts import inference_rule
from components.inference.sandbox import Sandbox, SandboxArgs
from components.inference.server import Caller, ModelServer, ModelServerArgs
from components.inference.staging import StagingArgs, staged
from components.kube.custom import custom_objects
from components.kube.pods import service_account
from components.observability import ObservabilityLayer
from components.platform import PlatformLayer
from stacks import secret_keys as keys
from stacks.config_inference import IMAGES, SERVERS_WORKLOAD, STAGING_WORKLOAD, ServerConfig
from stacks.config_observability import prometheus_url
from stacks.model import EstateConfig
from stacks.naming import bucket_name


@dataclass(frozen=True)
class ServingArgs:
    namespace: str
    accounts: Mapping[str, tuple[str, pulumi.Input[str]]]  # workload -> (its account's name, Google account)
    servers: Mapping[str, ServerConfig]
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource]
    monitors_after: pulumi.Resource | None  # the metrics stack's chart (its CRDs), when it runs


class Serving(pulumi.ComponentResource):
    """What the servers share: the Kubernetes accounts of the servers and of the staging Jobs, which
    their workloads' Google accounts already accept by name (components.cloud.identity), and the
    servers' alerts."""

    accounts: dict[str, k8s.core.v1.ServiceAccount]

    def __init__(self, name: str, args: ServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:inference:Serving", name, None, opts)
        self.accounts = {
            key: k8s.core.v1.ServiceAccount(
                f"{name}-{key}",
                service_account(account, args.namespace, K8S_LABELS, gsa),
                opts=child(self, provider=args.provider, depends_on=list(args.depends_on)),
            )
            for key, (account, gsa) in sorted(args.accounts.items())
        }
        if args.monitors_after is not None:
            custom_objects(
                self,
                f"{name}-alerts",
                [inference_rule(args.servers, args.namespace)],
                provider=args.provider,
                depends_on=[args.monitors_after],
            )
        self.register_outputs({"accounts": sorted(self.accounts)})


@dataclass(frozen=True)
class InferenceLayer:
    sandbox: Sandbox | None
    servers: dict[str, ModelServer]


def check_token(cfg: EstateConfig) -> None:
    """A gated model's token exists in Secret Manager (its value is not read)."""
    gated = sorted(name for name, s in cfg.inference.items() if s.model.gated)
    if not gated:
        return
    secret_id = keys.secret_id(cfg.prefix, keys.HF_TOKEN)
    try:
        gcp.secretmanager.get_secret_version(project=cfg.project, secret=secret_id, fetch_secret_data=False)
    except Exception as exc:  # the provider's error: no secret, no version, no access
        raise pulumi.RunError(
            f"inference.{gated[0]}.model.gated = true: Secret Manager secret {secret_id} has no version "
            f"({str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__}); add the "
            f"Hugging Face token first: `gcloud secrets create {secret_id} --replication-policy=user-managed "
            f"--locations={cfg.region}` and `gcloud secrets versions add {secret_id} --data-file=-`"
        ) from None


def build_inference(
    cfg: EstateConfig,
    cloud: CloudLayer,
    platform: PlatformLayer,
    cells: CellsLayer,
    observability: ObservabilityLayer,
) -> InferenceLayer:
    sandbox = None
    s = cfg.sandbox
    if s.enabled:
        orchestrator = cfg.cells[s.orchestrator]
        sandbox = Sandbox(
            f"{cfg.prefix}-sandbox",
            SandboxArgs(
                config=s,
                # Each cell runs as its own service account, named after it.
                orchestrator=(orchestrator.namespace, s.orchestrator),
                provider=cloud.kube.provider,
                depends_on=[cloud.pools, platform.guardrails],
            ),
        )
    return InferenceLayer(sandbox=sandbox, servers=_servers(cfg, cloud, platform, cells, observability))


def _servers(
    cfg: EstateConfig, cloud: CloudLayer, platform: PlatformLayer, cells: CellsLayer, observability: ObservabilityLayer
) -> dict[str, ModelServer]:
    if not cfg.inference:
        return {}
    provider = cloud.kube.provider
    servers_wl = cfg.identity.workloads[SERVERS_WORKLOAD]
    staging_wl = cfg.identity.workloads[STAGING_WORKLOAD]
    ns = servers_wl.namespace
    mesh = platform.mesh
    synced = platform.credentials.secrets.get(ns, {})
    base = [platform.namespaces.namespaces[ns], cloud.pools, *mesh.data_plane, mesh.control_plane, platform.guardrails]
    metrics = observability.metrics
    accounts = Serving(
        f"{cfg.prefix}-serving",
        ServingArgs(
            namespace=ns,
            accounts={
                SERVERS_WORKLOAD: (servers_wl.service_account, cloud.workloads.emails[SERVERS_WORKLOAD]),
                STAGING_WORKLOAD: (staging_wl.service_account, cloud.workloads.emails[STAGING_WORKLOAD]),
            },
            servers=cfg.inference,
            provider=provider,
            depends_on=base,
            monitors_after=metrics.chart if metrics is not None else None,
        ),
    ).accounts
    bucket = bucket_name(cfg.project, "models")
    out = {}
    for name, server in sorted(cfg.inference.items()):
        pool = cfg.cluster.node_pools[server.pool]
        token = [synced[keys.HF_TOKEN]] if server.model.gated and keys.HF_TOKEN in synced else []
        key = [synced[keys.INFERENCE_API_KEY]] if server.runtime == "llamacpp" else []
        callers = {
            c: Caller(
                namespace=cells.cells[c].identity[0],
                service_account=cells.cells[c].identity[1],
                pods=cells.cells[c].pods,
            )
            for c in server.callers
        }
        out[name] = ModelServer(
            f"{cfg.prefix}-server-{name}",
            ModelServerArgs(
                name=name,
                config=server,
                namespace=ns,
                image=cloud.registry.images[IMAGES[server.runtime]],
                service_account=servers_wl.service_account,
                bucket=bucket,
                taints=pool.taints,
                callers=callers,
                provider=provider,
                depends_on=[*base, accounts[SERVERS_WORKLOAD], *key],
                staging=StagingArgs(
                    server=name,
                    items=staged(name, server),
                    namespace=ns,
                    image=cloud.registry.images[IMAGES["vllm"]],
                    service_account=staging_wl.service_account,
                    bucket=bucket,
                    pool=server.pool,
                    taints=pool.taints,
                    provider=provider,
                    depends_on=[*base, accounts[STAGING_WORKLOAD], cloud.buckets, cloud.workloads, *token],
                ),
                prod=cfg.environment == "prod",
                keda=platform.keda.chart,
                prometheus=prometheus_url(cfg.observability.namespace) if metrics is not None else None,
                monitors_after=metrics.chart if metrics is not None else None,
            ),
        )
    return out

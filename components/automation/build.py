"""The automation layer's builder: the gateway's sign-in, Windmill and n8n. Like the others, it reads
the layers below only through their exported objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.automation.estate import Estate
from components.automation.n8n import N8n, N8nArgs, SmokeTestReach
from components.automation.release import ReleaseArgs, ReleaseFlow
from components.automation.sso import SignIn, SignInArgs
from components.automation.windmill import Windmill, WindmillArgs
from components.cloud import CloudLayer
from components.common import labels
from components.data import DataLayer
from components.inference import InferenceLayer
from components.observability import ObservabilityLayer
from components.platform import PlatformLayer
from stacks import secret_keys as keys
from stacks.config_mesh import fqdn
from stacks.config_observability import ALERTMANAGER_PORT
from stacks.config_release import release
from stacks.model import EstateConfig


@dataclass(frozen=True)
class AutomationLayer:
    windmill: Windmill | None
    n8n: N8n | None
    sign_in: SignIn | None


def build_automation(
    cfg: EstateConfig,
    cloud: CloudLayer,
    platform: PlatformLayer,
    data: DataLayer,
    observability: ObservabilityLayer,
    inference: InferenceLayer,
) -> AutomationLayer:
    a = cfg.automation
    if not a.enabled or not (a.windmill.enabled or a.n8n.enabled):
        return AutomationLayer(windmill=None, n8n=None, sign_in=None)
    domain = cfg.dns.domain or ""
    w, n = a.windmill, a.n8n
    mesh = platform.mesh
    estate = Estate(
        ctx=platform.ctx,
        pins=platform.pins,
        prefix=cfg.prefix,
        region=cfg.region,
        provider=cloud.kube.provider,
        namespaces=platform.namespaces.namespaces,
        cluster=cloud.cluster,
        apis=cloud.apis,
        secrets_operator=platform.secrets,
    )
    common = [cloud.pools, *mesh.data_plane, mesh.control_plane, platform.guardrails]
    # Full host name -> the paths that skip the sign-in.
    hosts: dict[str, list[str]] = {}
    windmill = n8n = None
    if w.enabled:
        windmill = _windmill(cfg, cloud, platform, data, inference, estate, common)
        hosts[fqdn(cfg.mesh.hosts[w.host].host, domain)] = []
    if n.enabled:
        host = fqdn(cfg.mesh.hosts[n.host].host, domain)
        metrics = observability.metrics
        n8n = N8n(
            f"{cfg.prefix}-n8n",
            N8nArgs(
                estate=estate,
                config=n,
                host=host,
                labels=labels(cfg.environment, "n8n"),
                account=cfg.identity.workloads[n.workload].service_account,
                gsa_email=cloud.workloads.emails[n.workload],
                connection_name=cloud.database.connection_name,
                db_password=cloud.secrets[keys.db_user_password(n.database_user)],
                redis_secrets={k: cloud.secrets[k] for k in (keys.REDIS_ADDRESS, keys.REDIS_AUTH, keys.REDIS_CA)},
                depends_on=[*common, cloud.access, platform.migration],
                monitors_after=metrics.chart if metrics is not None else None,
                smoke_test=_smoke_test(cfg, platform) if metrics is not None else None,
            ),
        )
        # Public paths are prefixes: the policy matches `<prefix>*`.
        hosts[host] = [f"{p}*" for p in n.public_paths]
    sign_in = SignIn(
        f"{cfg.prefix}-sign-in",
        SignInArgs(
            estate=estate,
            config=a.sso,
            domain=domain,
            hosts=hosts,
            image=cloud.registry.images["oauth2-proxy"],
            labels=labels(cfg.environment, "sign-in"),
            gateway_namespace=mesh.gateway_namespace,
            gateway_selector=mesh.gateway_selector,
            depends_on=common,
        ),
    )
    return AutomationLayer(windmill=windmill, n8n=n8n, sign_in=sign_in)


def _smoke_test(cfg: EstateConfig, platform: PlatformLayer) -> SmokeTestReach | None:
    """What n8n's release smoke test reaches: Flagger calls it, it calls the cells and Alertmanager."""
    if platform.flagger is None or not cfg.automation.n8n.smoke_test:
        return None
    cells: dict[str, list[int]] = {}
    for cell in cfg.cells.values():
        if cell.port is not None:
            cells.setdefault(cell.namespace, []).append(cell.port)
    return SmokeTestReach(
        flagger=platform.flagger.identity, cells=cells, alertmanager=(cfg.observability.namespace, ALERTMANAGER_PORT)
    )


def _windmill(
    cfg: EstateConfig,
    cloud: CloudLayer,
    platform: PlatformLayer,
    data: DataLayer,
    inference: InferenceLayer,
    estate: Estate,
    common: list[Any],
) -> Windmill:
    w = cfg.automation.windmill
    flow = _release(cfg, cloud, platform, data, estate, common)
    return Windmill(
        f"{cfg.prefix}-windmill",
        WindmillArgs(
            estate=estate,
            config=w,
            host=fqdn(cfg.mesh.hosts[w.host].host, cfg.dns.domain or ""),
            labels=labels(cfg.environment, "windmill"),
            account=cfg.identity.workloads[w.workload].service_account,
            gsa_email=cloud.workloads.emails[w.workload],
            workload_pool=cloud.cluster.workload_pool,
            connection_name=cloud.database.connection_name,
            db_password=cloud.secrets[keys.db_user_password(w.database_user)],
            control_plane=cloud.cluster.control_plane_ranges,
            depends_on=[*common, cloud.access, platform.migration],
            sandbox=inference.sandbox.namespace if inference.sandbox is not None else None,
            sandbox_after=inference.sandbox,
            release=flow,
        ),
    )


def _release(
    cfg: EstateConfig, cloud: CloudLayer, platform: PlatformLayer, data: DataLayer, estate: Estate, common: list[Any]
) -> ReleaseFlow | None:
    """Harbor's webhooks to Windmill's release flow, and what the flow reads, when it runs."""
    active = release(cfg)
    if active is None or data.harbor is None or cfg.harbor.pull_robot is None:
        return None
    w = cfg.automation.windmill
    robot_id = data.harbor.robot_secrets[cfg.harbor.pull_robot]
    return ReleaseFlow(
        f"{cfg.prefix}-release",
        ReleaseArgs(
            estate=estate,
            release=active,
            namespace=w.namespace,
            labels=labels(cfg.environment, "release"),
            stack=pulumi.get_stack(),
            registry=fqdn(cfg.harbor.host, cfg.dns.domain or ""),
            robot_user=data.harbor.robot_user(cfg.harbor.pull_robot),
            robot_secret_id=robot_id,
            robot_secret=data.harbor.stored[robot_id],
            cosign_key=platform.signing.cosign_key,
            signing_key_id=platform.signing.key_id,
            gsa_email=cloud.workloads.emails[w.workload],
            harbor_namespace=cfg.harbor.namespace,
            harbor_sender=(data.harbor.webhook_pods, data.harbor.webhook_account),
            harbor_api=data.harbor.api,
            harbor_projects=data.harbor.project_resources,
            depends_on=common,
        ),
    )

"""The automation layer's builder: the gateway's sign-in and Windmill. Like the others, it reads the
layers below only through their exported objects."""

from __future__ import annotations

from dataclasses import dataclass

from components.automation.sso import SignIn, SignInArgs
from components.automation.windmill import Windmill, WindmillArgs
from components.cloud import CloudLayer
from components.common import labels
from components.inference import InferenceLayer
from components.platform import PlatformLayer
from stacks import secret_keys as keys
from stacks.config_mesh import fqdn
from stacks.model import EstateConfig


@dataclass(frozen=True)
class AutomationLayer:
    windmill: Windmill | None
    sign_in: SignIn | None


def build_automation(
    cfg: EstateConfig, cloud: CloudLayer, platform: PlatformLayer, inference: InferenceLayer
) -> AutomationLayer:
    a = cfg.automation
    if not a.enabled or not a.windmill.enabled:
        return AutomationLayer(windmill=None, sign_in=None)
    domain = cfg.dns.domain or ""
    w = a.windmill
    mesh = platform.mesh
    provider = cloud.kube.provider
    host = fqdn(cfg.mesh.hosts[w.host].host, domain)
    common = [cloud.pools, *mesh.data_plane, mesh.control_plane, platform.guardrails]
    windmill = Windmill(
        f"{cfg.prefix}-windmill",
        WindmillArgs(
            ctx=platform.ctx,
            config=w,
            pins=platform.pins,
            host=host,
            prefix=cfg.prefix,
            region=cfg.region,
            labels=labels(cfg.environment, "windmill"),
            gsa_email=cloud.workloads.emails[w.workload],
            workload_pool=cloud.cluster.workload_pool,
            connection_name=cloud.database.connection_name,
            db_password=cloud.secrets[keys.db_user_password(w.database_user)],
            provider=provider,
            namespaces=platform.namespaces.namespaces,
            cluster=cloud.cluster,
            apis=cloud.apis,
            secrets_operator=platform.secrets,
            control_plane=cloud.cluster.control_plane_ranges,
            depends_on=[*common, cloud.access, platform.migration],
            sandbox=inference.sandbox.namespace if inference.sandbox is not None else None,
            sandbox_after=inference.sandbox,
        ),
    )
    sign_in = SignIn(
        f"{cfg.prefix}-sign-in",
        SignInArgs(
            config=a.sso,
            domain=domain,
            hosts={host: []},
            image=cloud.registry.images["oauth2-proxy"],
            project=cfg.project,
            environment=cfg.environment,
            prefix=cfg.prefix,
            region=cfg.region,
            labels=labels(cfg.environment, "sign-in"),
            prod=cfg.environment == "prod",
            gateway_namespace=mesh.gateway_namespace,
            gateway_selector=mesh.gateway_selector,
            provider=provider,
            namespaces=platform.namespaces.namespaces,
            depends_on=common,
            cluster=cloud.cluster,
            apis=cloud.apis,
            secrets_operator=platform.secrets,
        ),
    )
    return AutomationLayer(windmill=windmill, sign_in=sign_in)

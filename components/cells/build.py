"""The cells layer's builder: validated config and the layers below in, the cells and their routes
out. Like the others, it reads the layers below only through their exported objects.

Each cell's image is looked up in the estate's own repository before anything of the layer is
registered: a tag that is not there stops `up` with the cell and the tag named, instead of a pod
that never pulls.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.cells import release, spec
from components.cells.cell import Cell, CellArgs
from components.cells.ratelimit import RateLimiter, RateLimiterArgs
from components.cells.routes import Routes, RoutesArgs, virtual_services
from components.cloud import CloudLayer
from components.data import PULL_SECRET, DataLayer
from components.kube import redis_client
from components.kube.authz import principal
from components.observability import ObservabilityLayer
from components.platform import PlatformLayer
from stacks import images
from stacks.config_automation import smoke_test
from stacks.config_kafka import access_secret, users_of
from stacks.config_mesh import fqdn
from stacks.config_observability import prometheus_url
from stacks.model import EstateConfig
from stacks.rules_cells import REDIS_SECRETS, WORKLOAD_CLASS


@dataclass(frozen=True)
class CellsLayer:
    cells: dict[str, Cell]
    routes: Routes | None
    rate_limiter: RateLimiter | None = None


def image(cfg: EstateConfig, name: str) -> str:
    """The cell's image as `path:tag@sha256:...`: from Artifact Registry's answer, or Harbor's by config."""
    img = cfg.cells[name].image
    if img.registry == "harbor":
        # Pinned by config: the digest the release flow verified (its signature is checked again at admission).
        return f"{fqdn(cfg.harbor.host, cfg.dns.domain or '')}/{img.project}/{img.name}:{img.tag}@{img.digest}"
    repository = images.own_host(cfg.region, cfg.project)
    try:
        found = gcp.artifactregistry.get_docker_image(
            location=cfg.region,
            project=cfg.project,
            repository_id=images.OWN_REPOSITORY,
            image_name=f"{img.name}:{img.tag}",
        )
    except Exception as exc:  # the provider's error: not found, no access, no repository yet
        raise pulumi.RunError(
            f"cells.{name}.image.tag = {img.tag!r}: {repository}/{img.name}:{img.tag} cannot be found "
            f"({str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__}); push that tag "
            "first (CI builds, signs and pushes the cells' images) or name one the repository has"
        ) from None
    digest = found.self_link.rsplit("@", 1)[-1]
    return f"{repository}/{img.name}:{img.tag}@{digest}"


def build_cells(
    cfg: EstateConfig, cloud: CloudLayer, platform: PlatformLayer, data: DataLayer, observability: ObservabilityLayer
) -> CellsLayer:
    if not cfg.cells:
        return CellsLayer(cells={}, routes=None)
    refs = {name: image(cfg, name) for name in sorted(cfg.cells)}
    mesh = platform.mesh
    metrics = observability.metrics.chart if observability.metrics is not None else None
    databases = sorted(cfg.database.databases)
    pools = {p.labels[WORKLOAD_CLASS] for p in cfg.cluster.node_pools.values() if WORKLOAD_CLASS in p.labels}
    # The metric templates gateway canaries are judged by, in each namespace with one.
    canary_namespaces = sorted({c.namespace for c in cfg.cells.values() if c.release.strategy == "canary"})
    templates: list[pulumi.Resource] = []
    if canary_namespaces and platform.flagger is not None:
        metrics_templates = release.CanaryMetrics(
            f"{cfg.prefix}-canary-metrics",
            release.CanaryMetricsArgs(
                namespaces=canary_namespaces,
                prometheus=prometheus_url(cfg.observability.namespace),
                gateway=mesh.gateway_identity,
                provider=cloud.kube.provider,
                depends_on=[platform.flagger.chart, *(platform.namespaces.namespaces[ns] for ns in canary_namespaces)],
            ),
        )
        templates = metrics_templates.templates
    # After a release, n8n's smoke test (ai-estate:automation) calls every cell's readiness path and
    # reports to Alertmanager: with the metrics stack and Flagger (whose webhook starts it) only.
    triggered = observability.metrics is not None and platform.flagger is not None
    smoke = smoke_test(cfg.automation, cfg.identity.workloads) if triggered else None
    smoke_principal = principal(smoke.namespace, smoke.service_account) if smoke else None
    health = [spec.health_url(n, c) for n, c in sorted(cfg.cells.items()) if c.port is not None]
    webhook = (
        release.smoke_test_webhook(smoke.url, health, observability.metrics.alertmanager_url)
        if smoke and health and observability.metrics is not None
        else None
    )
    out: dict[str, Cell] = {}
    for name, cell in sorted(cfg.cells.items()):
        ns = cell.namespace
        harbor = cell.image.registry == "harbor"
        synced = platform.credentials.secrets.get(ns, {})
        used = {*cell.secrets.values(), *(REDIS_SECRETS if cell.redis else ())}
        deps = [
            platform.namespaces.namespaces[ns],
            cloud.pools,
            *mesh.data_plane,
            mesh.control_plane,
            platform.guardrails,  # its pods are admitted against the guardrails, so they exist first
            *(synced[k] for k in sorted(used)),
            *([cloud.access, platform.migration] if cell.cloud_sql else []),
            # The Access Operator writes the Kafka user's Secret; the cluster and users come first.
            *([data.kafka] if cell.kafka and data.kafka is not None else []),
            # Harbor's pull Secret, and the robot it holds the secret of.
            *([data.harbor, data.harbor.pull_secrets[ns]] if harbor and data.harbor is not None else []),
        ]
        user = spec.iam_user(cfg.environment, cell.workload, cfg.project) if cell.cloud_sql and cell.workload else None
        out[name] = Cell(
            f"{cfg.prefix}-cell-{name}",
            CellArgs(
                name=name,
                config=cell,
                image=refs[name],
                env=spec.environment(
                    name,
                    cell,
                    iam_user=user,
                    database=cell.database or (databases[0] if len(databases) == 1 else None),
                ),
                callers=spec.callers(name, cfg.cells, ingress=mesh.ingress_principal, smoke_test=smoke_principal),
                allows=spec.allows(name, cfg.cells, smoke_test=smoke.namespace if smoke else None),
                provider=cloud.kube.provider,
                depends_on=deps,
                prod=cfg.environment == "prod",
                node_selector={WORKLOAD_CLASS: cell.node_class} if cell.node_class in pools else None,
                gsa_email=cloud.workloads.emails[cell.workload] if cell.workload else None,
                project=cfg.project,
                workload_pool=cloud.cluster.workload_pool,
                proxy_image=cloud.registry.images["cloud-sql-proxy"],
                connection_name=cloud.database.connection_name,
                monitors_after=metrics,
                control_plane=cloud.cluster.control_plane_ranges,
                kafka_secret=access_secret(users_of(cfg.kafka, cell.workload)[0])
                if cell.kafka and cell.workload
                else None,
                keda=platform.keda.chart if cell.queue else None,
                redis_auth=platform.keda.redis_auth,
                flagger=platform.flagger.chart if platform.flagger is not None else None,
                release_after=templates if cell.release.strategy == "canary" else [],
                timeout=spec.request_timeout(cell),
                smoke_test=webhook,
                pull_secrets=(PULL_SECRET,) if harbor else (),
            ),
        )
    hosts = spec.host_routes(cfg.cells, cfg.dns.domain or "")
    routes = None
    if hosts:
        routes = Routes(
            f"{cfg.prefix}-cell-routes",
            RoutesArgs(
                objects=virtual_services(hosts, gateway=mesh.gateway, namespace=mesh.gateway_namespace),
                provider=cloud.kube.provider,
                depends_on=[mesh.control_plane, *out.values()],
            ),
        )
    limiter = None
    if routes is not None and any(t.rate_limit for targets in hosts.values() for t in targets):
        gateway_ns = mesh.gateway_namespace
        limiter = RateLimiter(
            f"{cfg.prefix}-ratelimit",
            RateLimiterArgs(
                hosts=hosts,
                image=cloud.registry.images["ratelimit"],
                namespace=gateway_ns,
                gateway_selector=mesh.gateway_selector,
                gateway_principal=mesh.ingress_principal,
                private_services=cloud.cidrs.private_services,
                provider=cloud.kube.provider,
                prod=cfg.environment == "prod",
                depends_on=[
                    platform.namespaces.namespaces[gateway_ns],
                    cloud.pools,
                    *mesh.data_plane,
                    platform.guardrails,
                    platform.credentials.secrets[gateway_ns][redis_client.SECRET],
                ],
                gateway_after=[mesh.control_plane, routes],
            ),
        )
    return CellsLayer(cells=out, routes=routes, rate_limiter=limiter)

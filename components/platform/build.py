"""The platform layer's builder: validated config and the cloud layer in, what workloads need out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.cloud import CloudLayer
from components.platform.migrate import PgVectorArgs, PgVectorMigration
from components.platform.namespaces import Namespaces, NamespacesArgs
from components.platform.values.base import ChartContext, PinnedImage
from stacks import images
from stacks.model import EstateConfig


@dataclass(frozen=True)
class PlatformLayer:
    namespaces: Namespaces
    migration: PgVectorMigration


def pinned_images(cfg: EstateConfig, refs: Mapping[str, pulumi.Output[str]]) -> dict[str, PinnedImage]:
    """Each configured image as repository (from config, known at preview) and digest (the lookup's)."""
    out = {}
    for key, img in cfg.registry.images.items():
        ref = images.resolve(img.image, img.tag, cfg.region, cfg.project)
        repository = images.pinned(ref, cfg.region, cfg.project, "").removesuffix("@")
        out[key] = PinnedImage(repository=repository, digest=refs[key].apply(lambda r: r.split("@", 1)[1]), tag=img.tag)
    return out


def chart_context(cfg: EstateConfig, cloud: CloudLayer) -> ChartContext:
    return ChartContext(
        environment=cfg.environment,
        project=cfg.project,
        region=cfg.region,
        cluster_name=f"{cfg.prefix}-gke",
        cluster_location=cfg.region if cfg.cluster.regional else cfg.cluster.zones[0],
        images=pinned_images(cfg, cloud.registry.images),
    )


def build_platform(cfg: EstateConfig, cloud: CloudLayer) -> PlatformLayer:
    prefix, prod = cfg.prefix, cfg.environment == "prod"
    provider = cloud.kube.provider
    namespaces = Namespaces(
        f"{prefix}-namespaces",
        NamespacesArgs(
            namespaces=cfg.namespaces,
            private_services_range=cloud.cidrs.private_services,
            provider=provider,
            protect_data=prod,
        ),
        opts=pulumi.ResourceOptions(depends_on=[cloud.pools]),
    )
    migrator = cfg.identity.workloads["db-migrate"]
    migration = PgVectorMigration(
        f"{prefix}-pgvector",
        PgVectorArgs(
            namespace=migrator.namespace,
            service_account=migrator.service_account,
            gcp_service_account=cloud.workloads.emails["db-migrate"],
            connection_name=cloud.database.connection_name,
            database=cfg.database.migration_database,
            admin_user=cloud.database.admin_user,
            admin_password=cloud.database.admin_password,
            proxy_image=cloud.registry.images["cloud-sql-proxy"],
            psql_image=cloud.registry.images["postgres-client"],
            provider=provider,
            environment=cfg.environment,
            depends_on=(*cloud.database.ready, cloud.pools, cloud.workloads, namespaces.namespaces[migrator.namespace]),
        ),
    )
    return PlatformLayer(namespaces=namespaces, migration=migration)

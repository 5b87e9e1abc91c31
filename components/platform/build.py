"""The platform layer's builder: validated config and the cloud layer in, what workloads need out."""

from __future__ import annotations

from dataclasses import dataclass

from components.cloud import CloudLayer
from components.platform.migrate import PgVectorArgs, PgVectorMigration
from stacks.model import EstateConfig


@dataclass(frozen=True)
class PlatformLayer:
    migration: PgVectorMigration


def build_platform(cfg: EstateConfig, cloud: CloudLayer) -> PlatformLayer:
    prefix = cfg.prefix
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
            provider=cloud.kube.provider,
            environment=cfg.environment,
            depends_on=(*cloud.database.ready, cloud.pools, cloud.workloads),
        ),
    )
    return PlatformLayer(migration=migration)

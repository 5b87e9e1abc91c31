"""pgvector really enabled: a Job that runs the repo's SQL migrations through the Cloud SQL Auth Proxy.

The Job's name carries a hash of the migrations, so it runs again exactly when they change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components.common import child
from components.kube.pods import PodArgs, cloud_sql_proxy, container_security, pod_spec, resources, scratch
from components.platform.grants import GENERATED_PREFIX

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
PSQL_UID = 70  # "postgres" in the Alpine postgres image

core, batch, meta = k8s.core.v1, k8s.batch.v1, k8s.meta.v1

# The repository's migrations each run in one transaction; the generated ones (pgaudit and IAM
# users' privileges in every database) `\connect` to their database and commit on their own.
APPLY_SCRIPT = f"""set -eu
for f in /migrations/*.sql; do
  echo "applying $f"
  case "$(basename "$f")" in
    {GENERATED_PREFIX}_*) psql --no-psqlrc -v ON_ERROR_STOP=1 -f "$f" ;;
    *) psql --no-psqlrc -v ON_ERROR_STOP=1 --single-transaction -f "$f" ;;
  esac
done
"""


def migrations(directory: Path = MIGRATIONS_DIR) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(directory.glob("*.sql"))}


def migrations_hash(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name, body in sorted(files.items()):
        digest.update(name.encode() + b"\0" + body.encode() + b"\0")
    return digest.hexdigest()[:10]


@dataclass(frozen=True)
class PgVectorArgs:
    namespace: str
    service_account: str
    gcp_service_account: pulumi.Input[str]
    connection_name: pulumi.Input[str]
    database: str
    admin_user: str
    credentials_secret: str  # the Kubernetes Secret External Secrets writes with the admin password
    credentials_key: str  # its key
    generated: Mapping[str, str]  # generated SQL files (components.platform.grants), run after the repository's
    proxy_image: pulumi.Input[str]
    psql_image: pulumi.Input[str]
    provider: pulumi.ProviderResource
    environment: str
    depends_on: tuple[pulumi.Resource, ...] = ()


class PgVectorMigration(pulumi.ComponentResource):
    job_name: str

    def __init__(self, name: str, args: PgVectorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:migrations:PgVectorMigration", name, None, opts)
        files = {**migrations(), **args.generated}
        version = migrations_hash(files)
        common = {
            "app.kubernetes.io/part-of": "ai-estate",
            "app.kubernetes.io/managed-by": "pulumi",
            "app.kubernetes.io/component": "pgvector-migrate",
            "estate.io/environment": args.environment,
        }

        def meta_(name_: str, **extra: object) -> meta.ObjectMetaArgs:
            return meta.ObjectMetaArgs(name=name_, namespace=args.namespace, labels=common, **extra)  # type: ignore[arg-type]

        # The namespace (restricted Pod Security, default-deny) comes from the Namespaces component.
        in_ns = child(self, provider=args.provider, depends_on=args.depends_on)
        sa = core.ServiceAccount(
            f"{name}-sa",
            core.ServiceAccountInitArgs(
                metadata=meta_(
                    args.service_account, annotations={"iam.gke.io/gcp-service-account": args.gcp_service_account}
                ),
                automount_service_account_token=False,
            ),
            opts=in_ns,
        )
        sql = core.ConfigMap(
            f"{name}-sql",
            core.ConfigMapInitArgs(metadata=meta_(f"pgvector-migrations-{version}"), immutable=True, data=files),
            opts=in_ns,
        )
        self.job_name = f"pgvector-migrate-{version}"
        proxy = cloud_sql_proxy(args.proxy_image, args.connection_name, sidecar=True)
        psql = core.ContainerArgs(
            name="migrate",
            image=args.psql_image,
            command=["/bin/sh", "-c", APPLY_SCRIPT],
            env=[
                core.EnvVarArgs(name="PGHOST", value="127.0.0.1"),
                core.EnvVarArgs(name="PGPORT", value="5432"),
                core.EnvVarArgs(name="PGUSER", value=args.admin_user),
                core.EnvVarArgs(name="PGDATABASE", value=args.database),
                # TLS ends at the proxy, which holds the client certificate Cloud SQL demands.
                core.EnvVarArgs(name="PGSSLMODE", value="disable"),
                core.EnvVarArgs(name="HOME", value="/tmp"),
                core.EnvVarArgs(
                    name="PGPASSWORD",
                    value_from=core.EnvVarSourceArgs(
                        secret_key_ref=core.SecretKeySelectorArgs(
                            name=args.credentials_secret, key=args.credentials_key
                        )
                    ),
                ),
            ],
            volume_mounts=[
                core.VolumeMountArgs(name="migrations", mount_path="/migrations", read_only=True),
                core.VolumeMountArgs(name="tmp", mount_path="/tmp"),
            ],
            security_context=container_security(PSQL_UID),
            resources=resources("100m", "128Mi"),
        )
        batch.Job(
            f"{name}-job",
            batch.JobInitArgs(
                metadata=meta.ObjectMetaArgs(
                    name=self.job_name,
                    namespace=args.namespace,
                    labels={**common, "app.kubernetes.io/version": version},
                ),
                spec=batch.JobSpecArgs(
                    backoff_limit=3,
                    active_deadline_seconds=900,
                    template=core.PodTemplateSpecArgs(
                        metadata=meta.ObjectMetaArgs(labels=common),
                        spec=pod_spec(
                            PodArgs(
                                containers=[psql],
                                init_containers=[proxy],
                                service_account=args.service_account,
                                fs_group=PSQL_UID,
                                restart_policy="Never",
                                volumes=[
                                    core.VolumeArgs(
                                        name="migrations",
                                        config_map=core.ConfigMapVolumeSourceArgs(name=sql.metadata.name),
                                    ),
                                    scratch(),
                                ],
                            )
                        ),
                    ),
                ),
            ),
            opts=child(
                self,
                provider=args.provider,
                depends_on=[sa, sql, *args.depends_on],
                custom_timeouts=pulumi.CustomTimeouts(create="20m", update="20m"),
            ),
        )
        self.register_outputs({"jobName": self.job_name, "migrationsVersion": version})

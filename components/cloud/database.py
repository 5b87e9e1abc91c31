"""Cloud SQL for PostgreSQL: private IP, trusted client certificates, PITR, CMEK, audit logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from components.common import child
from components.secret_manager import SecretArgs, secret
from stacks import secret_keys as keys
from stacks.model import DatabaseConfig

sql = gcp.sql

# Audit and diagnostics; pgaudit records DDL and role changes without logging every read.
FLAGS: dict[str, str] = {
    "cloudsql.iam_authentication": "on",
    "cloudsql.enable_pgaudit": "on",
    "pgaudit.log": "ddl,role",
    "log_checkpoints": "on",
    "log_connections": "on",
    "log_disconnections": "on",
    "log_lock_waits": "on",
    "log_temp_files": "0",
    "log_min_messages": "warning",
    "log_min_error_statement": "error",
    "log_min_duration_statement": "-1",
    "log_statement": "ddl",
}


def flags(log_hostname: bool) -> dict[str, str]:
    # log_hostname costs a reverse DNS lookup per connection; log_connections already has the IP.
    return {**FLAGS, "log_hostname": "on" if log_hostname else "off"}


def iam_user_name(email: str) -> str:
    """Cloud SQL names an IAM service-account user by its email without the domain suffix."""
    return email.removesuffix(".gserviceaccount.com")


@dataclass(frozen=True)
class DatabaseArgs:
    region: str
    prefix: str
    config: DatabaseConfig
    network_id: pulumi.Input[str]
    kms_key_id: pulumi.Input[str]
    workload_emails: Mapping[str, pulumi.Input[str]]
    labels: dict[str, str]
    protect: bool
    # Outside prod: an instance name stays blocked for about a week after deletion, so the
    # name carries a suffix kept in state and a destroyed stack can come back at once.
    recreatable_names: bool
    # The sqladmin and secretmanager APIs: every child waits for them.
    apis: Sequence[pulumi.Resource] = field(default=())
    # CMEK grant and Private Service Access: the instance waits for them.
    depends_on: Sequence[pulumi.Resource] = field(default=())


class Database(pulumi.ComponentResource):
    instance: sql.DatabaseInstance
    connection_name: pulumi.Output[str]
    admin_user: str
    admin_password: pulumi.Output[str]
    password_secret_id: pulumi.Output[str]
    ready: list[pulumi.Resource]
    secrets: dict[str, gcp.secretmanager.Secret]
    instance_name: pulumi.Output[str]

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:data:Database", name, None, opts)
        cfg = args.config
        protected = cfg.deletion_protection
        apis = list(args.apis)
        base = f"{args.prefix}-pg"
        instance_name: pulumi.Input[str] = (
            random.RandomId(
                f"{name}-instance-suffix",
                random.RandomIdArgs(byte_length=2, keepers={"name": base}),
                opts=child(self, depends_on=apis),
            ).hex.apply(lambda h: f"{base}-{h}")
            if args.recreatable_names
            else base
        )
        self.instance = sql.DatabaseInstance(
            f"{name}-instance",
            sql.DatabaseInstanceArgs(
                name=instance_name,
                region=args.region,
                database_version=cfg.version,
                deletion_protection=protected,
                encryption_key_name=args.kms_key_id,
                settings=sql.DatabaseInstanceSettingsArgs(
                    tier=cfg.tier,
                    edition=cfg.edition,
                    availability_type=cfg.availability,
                    disk_type="PD_SSD",
                    disk_size=cfg.disk_size_gb,
                    disk_autoresize=True,
                    deletion_protection_enabled=protected,
                    user_labels=args.labels,
                    ip_configuration=sql.DatabaseInstanceSettingsIpConfigurationArgs(
                        ipv4_enabled=False,
                        private_network=args.network_id,
                        ssl_mode="TRUSTED_CLIENT_CERTIFICATE_REQUIRED",
                        enable_private_path_for_google_cloud_services=True,
                    ),
                    backup_configuration=sql.DatabaseInstanceSettingsBackupConfigurationArgs(
                        enabled=True,
                        point_in_time_recovery_enabled=True,
                        start_time=cfg.backups.start_time,
                        location=args.region,
                        transaction_log_retention_days=cfg.backups.point_in_time_recovery_days,
                        backup_retention_settings=sql.DatabaseInstanceSettingsBackupConfigurationBackupRetentionSettingsArgs(
                            retained_backups=cfg.backups.retained_backups, retention_unit="COUNT"
                        ),
                    ),
                    insights_config=sql.DatabaseInstanceSettingsInsightsConfigArgs(
                        query_insights_enabled=True,
                        query_plans_per_minute=5,
                        query_string_length=1024,
                        record_application_tags=True,
                        record_client_address=True,
                    ),
                    maintenance_window=sql.DatabaseInstanceSettingsMaintenanceWindowArgs(
                        day=cfg.maintenance.day, hour=cfg.maintenance.hour, update_track="stable"
                    ),
                    database_flags=[
                        sql.DatabaseInstanceSettingsDatabaseFlagArgs(name=k, value=v)
                        for k, v in flags(cfg.log_hostname).items()
                    ],
                ),
            ),
            opts=child(
                self,
                depends_on=[*apis, *args.depends_on],
                protect=args.protect,
                custom_timeouts=pulumi.CustomTimeouts(create="60m", update="60m", delete="60m"),
            ),
        )
        # Users and databases go with the instance. Deleting them one by one fails: a role that
        # owns objects cannot be dropped, and Cloud SQL refuses to drop a database in use.
        # ABANDON only forgets them, and deleting the instance removes them.
        keep = child(self, depends_on=apis, protect=args.protect)
        databases = [
            sql.Database(
                f"{name}-db-{db}",
                sql.DatabaseArgs(name=db, instance=self.instance.name, deletion_policy="ABANDON"),
                opts=keep,
            )
            for db in sorted(cfg.databases)
        ]
        password = random.RandomPassword(
            f"{name}-admin-password",
            random.RandomPasswordArgs(
                length=32, special=True, override_special="-_.~", min_lower=2, min_upper=2, min_numeric=2
            ),
            opts=child(self, depends_on=apis, protect=args.protect),
        )
        self.admin_user = cfg.admin_user
        admin = sql.User(
            f"{name}-admin",
            sql.UserArgs(
                name=cfg.admin_user, instance=self.instance.name, password=password.result, deletion_policy="ABANDON"
            ),
            opts=child(self, depends_on=apis),
        )
        users: list[pulumi.Resource] = [admin]
        self.secrets = {}
        for user, spec in sorted(cfg.users.items()):
            if spec.type == "CLOUD_IAM_SERVICE_ACCOUNT":
                email = pulumi.Output.from_input(args.workload_emails[spec.workload or ""])
                users.append(
                    sql.User(
                        f"{name}-user-{user}",
                        sql.UserArgs(
                            name=email.apply(iam_user_name),
                            instance=self.instance.name,
                            type="CLOUD_IAM_SERVICE_ACCOUNT",
                            deletion_policy="ABANDON",
                        ),
                        opts=child(self, depends_on=apis),
                    )
                )
            else:
                user_password = random.RandomPassword(
                    f"{name}-user-{user}-password",
                    random.RandomPasswordArgs(length=32, special=False),
                    opts=child(self, depends_on=apis, protect=args.protect),
                )
                users.append(
                    sql.User(
                        f"{name}-user-{user}",
                        sql.UserArgs(
                            name=user,
                            instance=self.instance.name,
                            password=user_password.result,
                            deletion_policy="ABANDON",
                        ),
                        opts=child(self, depends_on=apis),
                    )
                )
                self.secrets[keys.db_user_password(user)] = secret(
                    self,
                    f"{name}-user-{user}-password",
                    SecretArgs(
                        secret_id=keys.secret_id(args.prefix, keys.db_user_password(user)),
                        region=args.region,
                        labels=args.labels,
                        data=user_password.result,
                        protect=args.protect,
                        depends_on=apis,
                    ),
                )
        stored = secret(
            self,
            f"{name}-admin-password-secret",
            SecretArgs(
                secret_id=keys.secret_id(args.prefix, keys.DB_ADMIN_PASSWORD),
                region=args.region,
                labels=args.labels,
                data=password.result,
                protect=args.protect,
                depends_on=apis,
            ),
        )
        self.secrets[keys.DB_ADMIN_PASSWORD] = stored
        self.connection_name = self.instance.connection_name
        self.instance_name = self.instance.name
        self.admin_password = pulumi.Output.secret(password.result)
        self.password_secret_id = stored.secret_id
        self.ready = [*databases, *users]
        self.register_outputs({"connectionName": self.connection_name, "passwordSecret": self.password_secret_id})

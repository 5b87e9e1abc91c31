"""Memorystore for Redis: AUTH, TLS, RDB persistence, CMEK; credentials in Secret Manager."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.common import child
from components.secret_manager import SecretArgs, secret
from stacks import secret_keys as keys
from stacks.model import CacheConfig

rd = gcp.redis
_DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


@dataclass(frozen=True)
class CacheArgs:
    region: str
    prefix: str
    config: CacheConfig
    network_id: pulumi.Input[str]
    kms_key_id: pulumi.Input[str]
    labels: dict[str, str]
    protect: bool
    # The redis and secretmanager APIs: every child waits for them.
    apis: Sequence[pulumi.Resource] = field(default=())
    # CMEK grant and Private Service Access: the instance waits for them.
    depends_on: Sequence[pulumi.Resource] = field(default=())


class Cache(pulumi.ComponentResource):
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    auth_secret_id: pulumi.Output[str]
    ca_secret_id: pulumi.Output[str]
    secrets: dict[str, gcp.secretmanager.Secret]

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:data:Cache", name, None, opts)
        cfg = args.config
        ha = cfg.tier == "STANDARD_HA"
        instance = rd.Instance(
            f"{name}-redis",
            rd.InstanceArgs(
                name=f"{args.prefix}-redis",
                region=args.region,
                tier=cfg.tier,
                memory_size_gb=cfg.memory_size_gb,
                redis_version=cfg.version,
                authorized_network=args.network_id,
                connect_mode="PRIVATE_SERVICE_ACCESS",
                auth_enabled=True,
                transit_encryption_mode="SERVER_AUTHENTICATION",
                customer_managed_key=args.kms_key_id,
                replica_count=cfg.replica_count if ha else None,
                read_replicas_mode=("READ_REPLICAS_ENABLED" if cfg.read_replicas else "READ_REPLICAS_DISABLED")
                if ha
                else None,
                # The work queues are Redis Streams: evicting them would drop jobs.
                redis_configs={"maxmemory-policy": "noeviction"},
                persistence_config=rd.InstancePersistenceConfigArgs(
                    persistence_mode="RDB", rdb_snapshot_period=cfg.rdb_snapshot_period
                ),
                maintenance_policy=rd.InstanceMaintenancePolicyArgs(
                    weekly_maintenance_windows=[
                        rd.InstanceMaintenancePolicyWeeklyMaintenanceWindowArgs(
                            day=_DAYS[cfg.maintenance.day - 1],
                            start_time=rd.InstanceMaintenancePolicyWeeklyMaintenanceWindowStartTimeArgs(
                                hours=cfg.maintenance.hour, minutes=0, seconds=0, nanos=0
                            ),
                        )
                    ]
                ),
                labels=args.labels,
            ),
            opts=child(
                self,
                depends_on=[*args.apis, *args.depends_on],
                protect=args.protect,
                custom_timeouts=pulumi.CustomTimeouts(create="45m", update="45m", delete="30m"),
            ),
        )
        # Its AUTH string (kept: a new one is a new password), its server CA and its address (read
        # again from the instance by every `up`). Clients in the cluster read all three through
        # External Secrets, as they read any credential: the observability layer's Redis exporter
        # takes the address from there rather than from this layer's outputs.
        stored = {
            keys.REDIS_AUTH: (instance.auth_string, args.protect),
            keys.REDIS_CA: (
                instance.server_ca_certs.apply(lambda certs: "\n".join(c.cert or "" for c in certs or [])),
                False,
            ),
            keys.REDIS_ADDRESS: (
                pulumi.Output.concat("rediss://", instance.host, ":", instance.port.apply(str)),
                False,
            ),
        }
        self.secrets = {
            key: secret(
                self,
                f"{name}-{key.removeprefix('redis-')}",
                SecretArgs(
                    secret_id=keys.secret_id(args.prefix, key),
                    region=args.region,
                    labels=args.labels,
                    data=data,
                    protect=protect,
                    depends_on=args.apis,
                ),
            )
            for key, (data, protect) in stored.items()
        }
        self.host = instance.host
        self.port = instance.port
        self.auth_secret_id = self.secrets[keys.REDIS_AUTH].secret_id
        self.ca_secret_id = self.secrets[keys.REDIS_CA].secret_id
        self.register_outputs({"host": self.host, "port": self.port})

"""Typed stack configuration: one pydantic model per `ai-estate:<area>` key.

Structural rules (types, enums, ranges, unknown keys) live here; rules that span
fields or areas live in `stacks.rules`, so each error can name its exact key path.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from stacks.base import Cidr, LabelKey, LabelValue, Model, Name
from stacks.charts import ChartPin, resolve_pins
from stacks.config_automation import AutomationConfig
from stacks.config_cells import CellsConfig
from stacks.config_certs import CertificatesConfig, DnsConfig
from stacks.config_charts import ChartsConfig
from stacks.config_harbor import HarborConfig
from stacks.config_inference import InferenceConfig
from stacks.config_kafka import KafkaConfig
from stacks.config_mesh import MeshConfig
from stacks.config_namespaces import NamespacesConfig
from stacks.config_observability import ObservabilityConfig
from stacks.config_pubsub import PubSubConfig
from stacks.config_sandbox import SandboxConfig
from stacks.config_signing import BackupConfig, SigningConfig
from stacks.gpu import GPU_TYPES


class Environment(StrEnum):
    dev = "dev"
    prod = "prod"


# ---------------------------------------------------------------- network
class Ranges(Model):
    nodes: Cidr | None = None
    pods: Cidr | None = None
    services: Cidr | None = None
    private_services: Cidr | None = None


class Prefixes(Model):
    nodes: int = Field(20, ge=16, le=28)
    pods: int = Field(14, ge=9, le=21)
    services: int = Field(20, ge=16, le=27)
    private_services: int = Field(20, ge=16, le=24)


class FlowLogs(Model):
    sampling: float = Field(0.5, ge=0.0, le=1.0)
    metadata: Literal["INCLUDE_ALL_METADATA", "EXCLUDE_ALL_METADATA"] = "EXCLUDE_ALL_METADATA"


Port = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,4}(-[1-9][0-9]{0,4})?$")]


class NetworkConfig(Model):
    supernet: Cidr = "10.64.0.0/12"
    prefixes: Prefixes = Prefixes()
    ranges: Ranges = Ranges()
    flow_logs: FlowLogs = FlowLogs()
    firewall_logs: Literal["OFF", "EXCLUDE_ALL_METADATA", "INCLUDE_ALL_METADATA"] = Field(
        "OFF", description="Logging on the estate's firewall rules; every logged connection is billed."
    )
    health_check_ports: list[Port] = Field(
        ["8080", "8443", "15021"],
        min_length=1,
        description="Ports Google's health checkers may reach: the ingress gateway's serving and status ports.",
    )
    nat_log_filter: Literal["ERRORS_ONLY", "TRANSLATIONS_ONLY", "ALL"] = "ERRORS_ONLY"


# ---------------------------------------------------------------- cluster
class Taint(Model):
    value: LabelValue = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class GpuSharing(Model):
    strategy: Literal["TIME_SHARING", "MPS"] = "TIME_SHARING"
    max_shared_clients_per_gpu: int = Field(2, ge=2, le=48)


class Gpu(Model):
    type: Literal[GPU_TYPES]  # type: ignore[valid-type]
    count: int = Field(1, ge=1, le=16)
    driver_version: Literal["DEFAULT", "LATEST"] = "DEFAULT"
    sharing: GpuSharing | None = None


class NodePool(Model):
    machine_type: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")]
    min_nodes: int = Field(ge=0, le=1000, description="Per zone.")
    max_nodes: int = Field(ge=0, le=1000, description="Per zone.")
    spot: bool = False
    disk_size_gb: int = Field(100, ge=20, le=65536)
    disk_type: Literal["pd-balanced", "pd-ssd", "pd-standard", "hyperdisk-balanced"] = "pd-balanced"
    zones: list[str] | None = Field(None, description="Subset of the cluster's zones; all of them when absent.")
    gpu: Gpu | None = None
    sandbox: bool = Field(
        False, description="GKE Sandbox (gVisor) nodes: GKE taints them, the gvisor RuntimeClass tolerates it."
    )
    taints: dict[LabelKey, Taint] = {}
    labels: dict[LabelKey, LabelValue] = {}
    max_surge: int = Field(1, ge=0, le=100)
    max_unavailable: int = Field(0, ge=0, le=100)


class GpuQuotaConfig(Model):
    request: bool = Field(True, description="File Cloud Quotas preferences for the GPU pools' maxima.")
    contact_email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$")


class ClusterConfig(Model):
    zones: list[str] = Field(min_length=1)
    regional: bool
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    deletion_protection: bool
    authorized_networks: dict[Name, Cidr] = {}
    node_pools: dict[Name, NodePool] = Field(min_length=1)
    gpu_quota: GpuQuotaConfig = GpuQuotaConfig()


# ---------------------------------------------------------------- database
class Backups(Model):
    start_time: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "02:00"
    retained_backups: int = Field(14, ge=1, le=365)
    point_in_time_recovery_days: int = Field(7, ge=1, le=35)


class MaintenanceWindow(Model):
    day: int = Field(7, ge=1, le=7, description="1 = Monday ... 7 = Sunday.")
    hour: int = Field(3, ge=0, le=23)


class DatabaseUser(Model):
    type: Literal["BUILT_IN", "CLOUD_IAM_SERVICE_ACCOUNT"] = "BUILT_IN"
    workload: Name | None = Field(None, description="Identity workload whose service account logs in (IAM users).")
    access: Literal["read-write", "read-only"] | None = Field(
        None,
        description="IAM users: privileges on database.schemas in every database, granted by the migrations "
        "(read-only when absent).",
    )


class DatabaseConfig(Model):
    version: Literal["POSTGRES_15", "POSTGRES_16", "POSTGRES_17"] = "POSTGRES_16"
    tier: Annotated[str, Field(pattern=r"^db-(custom-\d+-\d+|perf-optimized-N-\d+|g1-small|f1-micro)$")]
    edition: Literal["ENTERPRISE", "ENTERPRISE_PLUS"] = "ENTERPRISE"
    availability: Literal["ZONAL", "REGIONAL"]
    disk_size_gb: int = Field(20, ge=10, le=65536)
    deletion_protection: bool
    backups: Backups = Backups()
    maintenance: MaintenanceWindow = MaintenanceWindow()
    databases: dict[Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")], dict[str, str]] = Field(min_length=1)
    users: dict[Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")], DatabaseUser] = {}
    schemas: list[Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]] = Field(
        ["estate"], min_length=1, description="The estate's schemas: IAM users get their access on these."
    )
    log_hostname: bool = Field(False, description="Resolve client host names in connection logs (a DNS lookup each).")
    migration_database: str = Field("app", description="Database the pgvector migrations run against.")
    admin_user: str = Field("estate_admin", pattern=r"^[a-z_][a-z0-9_]{0,62}$")


# ---------------------------------------------------------------- cache
class CacheConfig(Model):
    tier: Literal["BASIC", "STANDARD_HA"]
    memory_size_gb: int = Field(ge=1, le=300)
    version: Literal["REDIS_7_0", "REDIS_7_2"] = "REDIS_7_2"
    rdb_snapshot_period: Literal["ONE_HOUR", "SIX_HOURS", "TWELVE_HOURS", "TWENTY_FOUR_HOURS"] = "ONE_HOUR"
    replica_count: int = Field(1, ge=0, le=5)
    read_replicas: bool = Field(False, description="STANDARD_HA only: serve reads from the replicas (5 GB and up).")
    maintenance: MaintenanceWindow = MaintenanceWindow()


# ---------------------------------------------------------------- storage
class Lifecycle(Model):
    nearline_after_days: int | None = Field(None, ge=1)
    coldline_after_days: int | None = Field(None, ge=1)
    delete_after_days: int | None = Field(None, ge=1)
    noncurrent_versions_kept: int = Field(3, ge=1, le=100)
    noncurrent_delete_after_days: int = Field(30, ge=1)


class Bucket(Model):
    storage_class: Literal["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"] = "STANDARD"
    lifecycle: Lifecycle = Lifecycle()
    retention_days: int | None = Field(None, ge=1, le=3650, description="Locked-free retention policy.")


class StorageConfig(Model):
    location: str | None = Field(None, description="Region or multi-region; the stack region when absent.")
    access_log_bucket: Name = "logs"
    buckets: dict[Name, Bucket] = Field(min_length=1)
    force_destroy: bool = Field(False, description="Outside prod only: destroy deletes buckets with their objects.")


# ---------------------------------------------------------------- images and identity
class Image(Model):
    image: Annotated[str, Field(pattern=r"^[a-z0-9.-]+(:\d+)?/[a-z0-9._/-]+$")]
    tag: Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]


class RegistryConfig(Model):
    images: dict[Name, Image] = Field(min_length=1)
    cleanup_keep_versions: int = Field(20, ge=1, le=1000)


class Workload(Model):
    namespace: Name
    service_account: Name
    roles: list[Annotated[str, Field(pattern=r"^roles/[A-Za-z0-9_.]+$")]] = []
    buckets: dict[Name, Literal["reader", "creator", "writer"]] = {}
    secrets: list[str] = Field([], description="Keys of estate secrets this workload reads (e.g. redis-auth).")
    cloud_sql: bool = False


class IdentityConfig(Model):
    workloads: dict[Name, Workload] = {}


class EstateConfig(Model):
    """Everything a stack file can say, after the environment defaults are merged in."""

    project: Annotated[str, Field(pattern=r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")]
    region: str
    environment: Environment
    network: NetworkConfig = NetworkConfig()
    cluster: ClusterConfig
    database: DatabaseConfig
    cache: CacheConfig
    storage: StorageConfig
    registry: RegistryConfig
    identity: IdentityConfig = IdentityConfig()
    namespaces: NamespacesConfig = {}
    charts: ChartsConfig = {}
    dns: DnsConfig = DnsConfig()
    certificates: CertificatesConfig = CertificatesConfig()
    mesh: MeshConfig = MeshConfig()
    signing: SigningConfig = SigningConfig()
    backup: BackupConfig = BackupConfig()
    # the data layer
    pubsub: PubSubConfig = PubSubConfig()
    kafka: KafkaConfig = KafkaConfig()
    harbor: HarborConfig = HarborConfig()
    # the observability layer
    observability: ObservabilityConfig = ObservabilityConfig()
    # the application's cells
    cells: CellsConfig = {}
    # where generated code runs
    sandbox: SandboxConfig = SandboxConfig()
    # the model servers
    inference: InferenceConfig = {}
    # the workflow platforms (the environment defaults always carry its worker groups)
    automation: AutomationConfig

    @property
    def pins(self) -> dict[str, ChartPin]:
        """The charts' pins with this stack's `ai-estate:charts` overrides applied."""
        return resolve_pins({k: v.model_dump() for k, v in self.charts.items()})

    @property
    def prefix(self) -> str:
        return f"estate-{self.environment}"

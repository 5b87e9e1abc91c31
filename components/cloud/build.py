"""The cloud layer's builder: validated config in, what the platform layer needs out.

Every component gets the `projects.Service` of each API its resources call
(`apis.for_types(...)`, table in components.cloud.apis) and hands it to every child: a
child does not inherit its component's `depends_on`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_gcp as gcp

from components.cloud.access import DataAccess, DataAccessArgs
from components.cloud.api_keys import ApiKeys, ApiKeysArgs
from components.cloud.apis import CONTAINER_FILESYSTEM, RESOURCE_MANAGER
from components.cloud.cache import Cache, CacheArgs
from components.cloud.cluster import Cluster, ClusterArgs
from components.cloud.database import Database, DatabaseArgs
from components.cloud.identity import Workloads, WorkloadsArgs
from components.cloud.keys import AGENT_APIS, Keys, KeysArgs
from components.cloud.kube import KubeAccess, KubeAccessArgs
from components.cloud.network import Network, NetworkArgs
from components.cloud.nodepools import NodePools, NodePoolsArgs
from components.cloud.project import Services, ServicesArgs
from components.cloud.quota import GpuQuota, GpuQuotaArgs
from components.cloud.registry import Registry, RegistryArgs
from components.cloud.storage import Buckets, BucketsArgs
from components.common import labels
from stacks import secret_keys as keys_
from stacks.charts import control_plane_ports
from stacks.cidr import CidrPlan, plan_cidrs
from stacks.model import EstateConfig
from stacks.quota import gpu_quota_requests

T_SA = "gcp:serviceaccount/account:Account"
T_SA_IAM = "gcp:serviceaccount/iAMMember:IAMMember"
T_PROJECT_IAM = "gcp:projects/iAMMember:IAMMember"
T_SECRET = "gcp:secretmanager/secret:Secret"


@dataclass(frozen=True)
class CloudLayer:
    apis: Services
    keys: Keys
    network: Network
    registry: Registry
    cluster: Cluster
    pools: NodePools
    buckets: Buckets
    workloads: Workloads
    database: Database
    cache: Cache
    access: DataAccess
    kube: KubeAccess
    quota: GpuQuota | None
    secrets: dict[str, gcp.secretmanager.Secret]  # by secret key (stacks.secret_keys)
    cidrs: CidrPlan


def build_cloud(cfg: EstateConfig) -> CloudLayer:
    env, prefix, prod = cfg.environment, cfg.prefix, cfg.environment == "prod"
    net_cfg = cfg.network
    cidrs = plan_cidrs(
        net_cfg.supernet,
        net_cfg.prefixes.model_dump(by_alias=True),
        {k: v for k, v in net_cfg.ranges.model_dump(by_alias=True).items() if v},
    )
    apis = Services(f"{prefix}-apis", ServicesArgs(project=cfg.project))
    keys = Keys(
        f"{prefix}-keys",
        KeysArgs(
            project=cfg.project,
            region=cfg.region,
            prefix=prefix,
            labels=labels(env, "keys"),
            protect=prod,
            recreatable_names=not prod,
            apis={api: apis.by_api[api] for api in ("cloudkms.googleapis.com", RESOURCE_MANAGER, *AGENT_APIS.values())},
        ),
    )
    network = Network(
        f"{prefix}-net",
        NetworkArgs(
            region=cfg.region,
            prefix=prefix,
            depends_on=apis.of("compute.googleapis.com", "servicenetworking.googleapis.com"),
            plan=cidrs,
            flow_log_sampling=net_cfg.flow_logs.sampling,
            flow_log_metadata=net_cfg.flow_logs.metadata,
            firewall_log_metadata=None if net_cfg.firewall_logs == "OFF" else net_cfg.firewall_logs,
            health_check_ports=net_cfg.health_check_ports,
            nat_log_filter=net_cfg.nat_log_filter,
            labels=labels(env, "network"),
            remove_peering_on_destroy=not prod,
        ),
    )
    registry = Registry(
        f"{prefix}-registry",
        RegistryArgs(
            project=cfg.project,
            region=cfg.region,
            labels=labels(env, "registry"),
            images=cfg.registry.images,
            keep_versions=cfg.registry.cleanup_keep_versions,
            protect=prod,
            depends_on=apis.of("artifactregistry.googleapis.com"),
        ),
    )
    cluster = Cluster(
        f"{prefix}-cluster",
        ClusterArgs(
            project=cfg.project,
            region=cfg.region,
            prefix=prefix,
            zones=cfg.cluster.zones,
            regional=cfg.cluster.regional,
            release_channel=cfg.cluster.release_channel,
            deletion_protection=cfg.cluster.deletion_protection,
            authorized_networks=cfg.cluster.authorized_networks,
            network_id=network.network_id,
            subnet_id=network.subnet_id,
            secrets_key_id=keys.key_ids["gke"],
            labels=labels(env, "cluster"),
            protect=prod,
            depends_on=apis.for_types(T_SA, T_PROJECT_IAM, "gcp:container/cluster:Cluster"),
            key_grant=[keys.grants["gke"]],
        ),
    )
    pools = NodePools(
        f"{prefix}-pools",
        NodePoolsArgs(
            project=cfg.project,
            environment=env,
            pools=cfg.cluster.node_pools,
            cluster_id=cluster.cluster.id,
            location=cluster.location,
            zones=cfg.cluster.zones,
            repositories=registry.repositories,
            labels=labels(env, "nodepools"),
            network_id=network.network_id,
            control_plane_sources=cluster.control_plane_ranges,
            control_plane_ports=control_plane_ports(cfg.pins),
            firewall_rule_name=f"{prefix}-allow-control-plane-webhooks",
            firewall_log_metadata=None if net_cfg.firewall_logs == "OFF" else net_cfg.firewall_logs,
            firewall_depends_on=apis.for_types("gcp:compute/firewall:Firewall"),
            depends_on=apis.for_types(
                T_SA,
                T_PROJECT_IAM,
                "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
                "gcp:container/nodePool:NodePool",
            )
            + apis.of(CONTAINER_FILESYSTEM),
        ),
    )
    requests = gpu_quota_requests(cfg)
    quota = (
        GpuQuota(
            f"{prefix}-gpu-quota",
            GpuQuotaArgs(
                project=cfg.project,
                requests=requests,
                contact_email=cfg.cluster.gpu_quota.contact_email,
                depends_on=apis.for_types("gcp:cloudquota/sQuotaPreference:SQuotaPreference"),
            ),
        )
        if requests and cfg.cluster.gpu_quota.request
        else None
    )
    buckets = Buckets(
        f"{prefix}-buckets",
        BucketsArgs(
            project=cfg.project,
            location=cfg.storage.location or cfg.region,
            buckets=cfg.storage.buckets,
            access_log_bucket=cfg.storage.access_log_bucket,
            kms_key_id=keys.key_ids["storage"],
            labels=labels(env, "storage"),
            protect=prod,
            force_destroy=cfg.storage.force_destroy,
            depends_on=[*apis.for_types("gcp:storage/bucket:Bucket"), keys.grants["storage"]],
        ),
    )
    workloads = Workloads(
        f"{prefix}-workloads",
        WorkloadsArgs(
            project=cfg.project,
            environment=env,
            workload_pool=cluster.workload_pool,
            workloads=cfg.identity.workloads,
            bucket_names=buckets.names,
            depends_on=apis.for_types(T_SA, T_SA_IAM, T_PROJECT_IAM, "gcp:storage/bucketIAMMember:BucketIAMMember"),
            cluster=[cluster.cluster],
        ),
    )
    secret_apis = apis.for_types(T_SECRET)
    database = Database(
        f"{prefix}-db",
        DatabaseArgs(
            region=cfg.region,
            prefix=prefix,
            config=cfg.database,
            network_id=network.network_id,
            kms_key_id=keys.key_ids["sql"],
            workload_emails=workloads.emails,
            labels=labels(env, "database"),
            protect=prod,
            recreatable_names=not prod,
            apis=[*apis.for_types("gcp:sql/databaseInstance:DatabaseInstance"), *secret_apis],
            depends_on=[network.private_services, keys.grants["sql"]],
        ),
    )
    cache = Cache(
        f"{prefix}-cache",
        CacheArgs(
            region=cfg.region,
            prefix=prefix,
            config=cfg.cache,
            network_id=network.network_id,
            kms_key_id=keys.key_ids["redis"],
            labels=labels(env, "cache"),
            protect=prod,
            apis=[*apis.for_types("gcp:redis/instance:Instance"), *secret_apis],
            depends_on=[network.private_services, keys.grants["redis"]],
        ),
    )
    access = DataAccess(
        f"{prefix}-access",
        DataAccessArgs(
            project=cfg.project,
            config=cfg,
            members=workloads.members,
            sql_instance_name=database.instance_name,
            depends_on=apis.for_types(T_PROJECT_IAM),
        ),
    )
    generated = [keys_.INFERENCE_API_KEY] if any(s.runtime == "llamacpp" for s in cfg.inference.values()) else []
    api_keys = ApiKeys(
        f"{prefix}-api-keys",
        ApiKeysArgs(
            prefix=prefix,
            region=cfg.region,
            labels=labels(env, "api-keys"),
            names=generated,
            protect=prod,
            apis=secret_apis,
        ),
    )
    kube = KubeAccess(f"{prefix}-kube", KubeAccessArgs(cluster_name=cluster.name, dns_endpoint=cluster.dns_endpoint))
    return CloudLayer(
        apis=apis,
        keys=keys,
        network=network,
        registry=registry,
        cluster=cluster,
        pools=pools,
        buckets=buckets,
        workloads=workloads,
        database=database,
        cache=cache,
        access=access,
        kube=kube,
        quota=quota,
        secrets={**database.secrets, **cache.secrets, **api_keys.secrets},
        cidrs=cidrs,
    )

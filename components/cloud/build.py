"""The cloud layer's builder: validated config in, what the platform layer needs out."""

from __future__ import annotations

from dataclasses import dataclass

from components.cloud.cache import Cache, CacheArgs
from components.cloud.cluster import Cluster, ClusterArgs
from components.cloud.database import Database, DatabaseArgs
from components.cloud.identity import Workloads, WorkloadsArgs
from components.cloud.keys import Keys, KeysArgs
from components.cloud.kube import KubeAccess, KubeAccessArgs
from components.cloud.network import Network, NetworkArgs
from components.cloud.nodepools import NodePools, NodePoolsArgs
from components.cloud.project import Services, ServicesArgs
from components.cloud.registry import Registry, RegistryArgs
from components.cloud.storage import Buckets, BucketsArgs
from components.common import labels
from stacks.cidr import CidrPlan, plan_cidrs
from stacks.model import EstateConfig


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
    kube: KubeAccess
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
            depends_on=[apis],
        ),
    )
    network = Network(
        f"{prefix}-net",
        NetworkArgs(
            region=cfg.region,
            prefix=prefix,
            depends_on=[apis],
            plan=cidrs,
            flow_log_sampling=net_cfg.flow_log_sampling,
            nat_log_filter=net_cfg.nat_log_filter,
            labels=labels(env, "network"),
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
            depends_on=[apis],
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
            depends_on=[keys.grants["gke"]],
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
        ),
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
            depends_on=[keys.grants["storage"]],
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
            depends_on=[cluster],
        ),
    )
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
            depends_on=[network.private_services, keys.grants["redis"]],
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
        kube=kube,
        cidrs=cidrs,
    )

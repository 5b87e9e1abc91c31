"""ai-estate: the Google Cloud layer of the AI platform. Load config, build components, export."""

import pulumi

from components.cache import Cache, CacheArgs
from components.cluster import Cluster, ClusterArgs
from components.common import labels
from components.database import Database, DatabaseArgs
from components.identity import Workloads, WorkloadsArgs
from components.keys import Keys, KeysArgs
from components.kube import KubeAccess, KubeAccessArgs
from components.network import Network, NetworkArgs
from components.nodepools import NodePools, NodePoolsArgs
from components.pgvector import PgVectorArgs, PgVectorMigration
from components.project import Services, ServicesArgs
from components.registry import Registry, RegistryArgs
from components.storage import Buckets, BucketsArgs
from stacks.cidr import plan_cidrs
from stacks.load import from_pulumi

cfg = from_pulumi()
env, prefix, prod = cfg.environment, cfg.prefix, cfg.environment == "prod"
net_cfg = cfg.network

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
        plan=plan_cidrs(
            net_cfg.supernet,
            net_cfg.prefixes.model_dump(by_alias=True),
            {k: v for k, v in net_cfg.ranges.model_dump(by_alias=True).items() if v},
        ),
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
migrator = cfg.identity.workloads["db-migrate"]
PgVectorMigration(
    f"{prefix}-pgvector",
    PgVectorArgs(
        namespace=migrator.namespace,
        service_account=migrator.service_account,
        gcp_service_account=workloads.emails["db-migrate"],
        connection_name=database.connection_name,
        database=cfg.database.migration_database,
        admin_user=database.admin_user,
        admin_password=database.admin_password,
        proxy_image=registry.images["cloud-sql-proxy"],
        psql_image=registry.images["postgres-client"],
        provider=kube.provider,
        environment=env,
        depends_on=(*database.ready, pools, workloads),
    ),
)

pulumi.export("clusterName", cluster.name)
pulumi.export("clusterDnsEndpoint", cluster.dns_endpoint)
pulumi.export("kubeconfig", kube.kubeconfig)
pulumi.export("sqlConnectionName", database.connection_name)
pulumi.export("sqlAdminPassword", database.admin_password)
pulumi.export("sqlAdminPasswordSecret", database.password_secret_id)
pulumi.export("redisHost", cache.host)
pulumi.export("redisAuthSecret", cache.auth_secret_id)
pulumi.export("buckets", buckets.names)
pulumi.export("nodeServiceAccounts", pools.service_accounts)
pulumi.export("workloadServiceAccounts", workloads.emails)
pulumi.export("images", registry.images)

"""The data layer's builder: validated config and the layers below in, what workloads need out.

Like the platform layer, it reads the cloud and platform layers only through the objects their
packages export (`CloudLayer`, `PlatformLayer`), never their modules.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.cloud import CloudLayer
from components.common import labels
from components.data.harbor import Harbor, HarborArgs
from components.data.kafka import Kafka, KafkaArgs
from components.data.pubsub import PubSub, PubSubArgs
from components.platform import PlatformLayer
from stacks import secret_keys as keys
from stacks.config_mesh import fqdn
from stacks.model import EstateConfig
from stacks.naming import bucket_name
from stacks.rules_cells import harbor_pull_namespaces

PUBSUB_TYPES = (
    "gcp:pubsub/schema:Schema",
    "gcp:pubsub/topic:Topic",
    "gcp:pubsub/topicIAMMember:TopicIAMMember",
    "gcp:pubsub/subscription:Subscription",
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember",
)


@dataclass(frozen=True)
class DataLayer:
    pubsub: PubSub
    kafka: Kafka | None
    harbor: Harbor | None


def build_data(cfg: EstateConfig, cloud: CloudLayer, platform: PlatformLayer) -> DataLayer:
    """Pub/Sub needs only the cloud layer (its key, service agent and workload identities); Kafka
    runs on the cluster, in a namespace the platform created, with its charts' context and pins."""
    prefix, env, prod = cfg.prefix, cfg.environment, cfg.environment == "prod"
    pubsub = PubSub(
        f"{prefix}-pubsub",
        PubSubArgs(
            project=cfg.project,
            region=cfg.region,
            prefix=prefix,
            config=cfg.pubsub,
            kms_key_id=cloud.keys.key_ids["pubsub"],
            key_grant=cloud.keys.grants["pubsub"],
            agent_member=cloud.keys.agents["pubsub"],
            workload_members=cloud.workloads.members,
            workload_emails=cloud.workloads.emails,
            labels=labels(env, "pubsub"),
            protect=prod,
            apis=cloud.apis.for_types(*PUBSUB_TYPES),
        ),
    )
    kafka = None
    if cfg.kafka.enabled:
        kafka = Kafka(
            f"{prefix}-kafka",
            KafkaArgs(
                ctx=platform.ctx,
                config=cfg.kafka,
                pins=platform.pins,
                provider=cloud.kube.provider,
                namespaces=platform.namespaces.namespaces,
                workload_namespaces={name: w.namespace for name, w in cfg.identity.workloads.items()},
                control_plane_ranges=cloud.cluster.control_plane_ranges,
                nodes=cloud.pools,
            ),
        )
    return DataLayer(pubsub=pubsub, kafka=kafka, harbor=_harbor(cfg, cloud, platform))


def _harbor(cfg: EstateConfig, cloud: CloudLayer, platform: PlatformLayer) -> Harbor | None:
    """Harbor reads its database, bucket and identities from the cloud layer, and its certificates,
    secrets sync and gateway from the platform layer."""
    h = cfg.harbor
    if not h.enabled:
        return None
    workloads = cfg.identity.workloads
    mesh = platform.mesh
    return Harbor(
        f"{cfg.prefix}-harbor",
        HarborArgs(
            ctx=platform.ctx,
            config=h,
            prefix=cfg.prefix,
            host=fqdn(h.host, cfg.dns.domain or ""),
            bucket=bucket_name(cfg.project, h.bucket),
            pins=platform.pins,
            provider=cloud.kube.provider,
            namespaces=platform.namespaces.namespaces,
            nodes=cloud.pools,
            apis=cloud.apis,
            cluster=cloud.cluster,
            secrets_operator=platform.secrets,
            database_secret=cloud.secrets[keys.db_user_password(h.database_user)],
            connection_name=cloud.database.connection_name,
            registry_gsa=cloud.workloads.emails[h.registry_workload],
            registry_ksa=workloads[h.registry_workload].service_account,
            proxy_gsa=cloud.workloads.emails[h.proxy_workload],
            proxy_ksa=workloads[h.proxy_workload].service_account,
            private_services=cloud.cidrs.private_services,
            control_plane_ranges=cloud.cluster.control_plane_ranges,
            cert_manager=platform.certs,
            acme_issuer=platform.certs.acme_issuer,
            internal_issuer=platform.certs.internal_issuer,
            mesh_control_plane=mesh.control_plane,
            mesh_data_plane=mesh.data_plane,
            gateway_namespace=mesh.gateway_namespace,
            gateway_selector=mesh.gateway_selector,
            address=mesh.address,
            dns_zone_name=platform.certs.zone_name,
            labels=labels(cfg.environment, "harbor"),
            force_destroy=cfg.storage.force_destroy,
            pull_identities={ns: platform.credentials.identities[ns] for ns in harbor_pull_namespaces(cfg)},
        ),
    )

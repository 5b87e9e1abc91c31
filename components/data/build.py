"""The data layer's builder: validated config and the layers below in, what workloads need out.

Like the platform layer, it reads the cloud and platform layers only through the objects their
packages export (`CloudLayer`, `PlatformLayer`), never their modules.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.cloud import CloudLayer
from components.common import labels
from components.data.kafka import Kafka, KafkaArgs
from components.data.pubsub import PubSub, PubSubArgs
from components.platform import PlatformLayer
from stacks.model import EstateConfig

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
    return DataLayer(pubsub=pubsub, kafka=kafka)

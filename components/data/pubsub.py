"""Pub/Sub: the estate's asynchronous messaging, from `ai-estate:pubsub`.

Every topic is encrypted with the estate's `pubsub` key (CMEK) and created only once the Pub/Sub
service agent's grant on that key has propagated; its messages are stored in the stack's region
only, where the key lives. Subscriptions never expire, retry with backoff and dead-letter what
keeps failing. Access is per workload and per topic or subscription, never project-wide: a
publisher gets `roles/pubsub.publisher` on its topics, a subscriber `roles/pubsub.subscriber` on
its subscriptions. Dead-lettering is done by the Pub/Sub service agent, which Google's
dead-letter documentation requires to publish to each dead-letter topic and to acknowledge
(subscriber) on each subscription that dead-letters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.common import child
from stacks.config_pubsub import PubSubConfig, Subscription, Topic, api_duration

PUBLISHER = "roles/pubsub.publisher"
SUBSCRIBER = "roles/pubsub.subscriber"
# expiration_policy.ttl "": "the associated resource never expires" (the default is 31 days idle).
NEVER_EXPIRES = ""


@dataclass(frozen=True)
class PubSubArgs:
    project: str
    region: str
    prefix: str
    config: PubSubConfig
    # The estate's `pubsub` key and the wait for the service agent's grant on it (components.cloud Keys).
    kms_key_id: pulumi.Input[str]
    key_grant: pulumi.Resource
    # The Pub/Sub service agent as an IAM member (`serviceAccount:service-<n>@gcp-sa-pubsub...`).
    agent_member: pulumi.Input[str]
    # Workload identities by key of identity.workloads: IAM members, and emails for push tokens.
    workload_members: Mapping[str, pulumi.Input[str]]
    workload_emails: Mapping[str, pulumi.Input[str]]
    labels: Mapping[str, str]
    protect: bool
    # The pubsub API's projects.Service (what every resource here waits for).
    apis: Sequence[pulumi.Resource]


@dataclass(frozen=True)
class Access:
    """One IAM grant on one topic or subscription."""

    kind: str  # "topic" or "subscription"
    target: str  # its key in config
    role: str
    who: str  # a workload key, or AGENT


# Who an Access is for when it is the Pub/Sub service agent: not a valid workload key, so no workload can be it.
AGENT = "@pubsub-service-agent"


def resource_name(prefix: str, key: str) -> str:
    """The Pub/Sub name of a topic, subscription or schema: `<prefix>-<key>` (e.g. estate-dev-agent-tasks)."""
    return f"{prefix}-{key}"


def workload_access(cfg: PubSubConfig) -> list[Access]:
    """Each workload's grants, once each: publisher on a topic, subscriber on a subscription."""
    out = []
    for workload, grant in sorted(cfg.grants.items()):
        out += [Access("topic", t, PUBLISHER, workload) for t in sorted(set(grant.publish))]
        out += [Access("subscription", s, SUBSCRIBER, workload) for s in sorted(set(grant.subscribe))]
    return out


def dead_letter_access(cfg: PubSubConfig) -> list[Access]:
    """What the service agent needs to dead-letter: publish to every dead-letter topic, and
    acknowledge (subscriber) the messages it forwards on every subscription that dead-letters."""
    topics = [Access("topic", t, PUBLISHER, AGENT) for t in sorted(cfg.dead_letter_topics())]
    subs = [
        Access("subscription", s, SUBSCRIBER, AGENT) for s, sub in sorted(cfg.subscriptions.items()) if sub.dead_letter
    ]
    return topics + subs


class PubSub(pulumi.ComponentResource):
    topics: dict[str, pulumi.Output[str]]  # key -> topic name
    topic_ids: dict[str, pulumi.Output[str]]  # key -> projects/<p>/topics/<name>
    subscriptions: dict[str, pulumi.Output[str]]  # key -> subscription name

    def __init__(self, name: str, args: PubSubArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:pubsub:PubSub", name, None, opts)
        cfg = args.config
        schemas = {
            key: gcp.pubsub.Schema(
                f"{name}-schema-{key}",
                gcp.pubsub.SchemaArgs(
                    name=resource_name(args.prefix, key),
                    project=args.project,
                    type=spec.type,
                    definition=spec.definition,
                ),
                opts=child(self, depends_on=args.apis, protect=args.protect),
            )
            for key, spec in sorted(cfg.schemas.items())
        }
        topics = {key: self._topic(name, key, spec, schemas, args) for key, spec in sorted(cfg.topics.items())}
        subscriptions = {
            key: self._subscription(name, key, spec, topics, args) for key, spec in sorted(cfg.subscriptions.items())
        }
        members = {**args.workload_members, AGENT: args.agent_member}
        for access in workload_access(cfg) + dead_letter_access(cfg):
            who = "agent" if access.who == AGENT else f"wl-{access.who}"
            verb = "publishes" if access.role == PUBLISHER else "subscribes"
            res_name = f"{name}-{who}-{verb}-{access.target}"
            if access.kind == "topic":
                gcp.pubsub.TopicIAMMember(
                    res_name,
                    gcp.pubsub.TopicIAMMemberArgs(
                        project=args.project,
                        topic=topics[access.target].name,
                        role=access.role,
                        member=members[access.who],
                    ),
                    opts=child(self, depends_on=args.apis),
                )
            else:
                gcp.pubsub.SubscriptionIAMMember(
                    res_name,
                    gcp.pubsub.SubscriptionIAMMemberArgs(
                        project=args.project,
                        subscription=subscriptions[access.target].name,
                        role=access.role,
                        member=members[access.who],
                    ),
                    opts=child(self, depends_on=args.apis),
                )
        self.topics = {key: t.name for key, t in topics.items()}
        self.topic_ids = {key: t.id for key, t in topics.items()}
        self.subscriptions = {key: s.name for key, s in subscriptions.items()}
        self.register_outputs({"topics": self.topics, "subscriptions": self.subscriptions})

    def _topic(
        self, name: str, key: str, spec: Topic, schemas: Mapping[str, gcp.pubsub.Schema], args: PubSubArgs
    ) -> gcp.pubsub.Topic:
        schema = spec.message_schema
        return gcp.pubsub.Topic(
            f"{name}-topic-{key}",
            gcp.pubsub.TopicArgs(
                name=resource_name(args.prefix, key),
                project=args.project,
                # CMEK: Pub/Sub wraps each topic's data keys with it; the service agent must hold
                # cryptoKeyEncrypterDecrypter on it before the topic exists (hence the wait below).
                kms_key_name=args.kms_key_id,
                # Messages are persisted only in the stack's region, beside the key that encrypts them.
                message_storage_policy=gcp.pubsub.TopicMessageStoragePolicyArgs(
                    allowed_persistence_regions=[args.region]
                ),
                message_retention_duration=api_duration(spec.message_retention) if spec.message_retention else None,
                schema_settings=(
                    gcp.pubsub.TopicSchemaSettingsArgs(schema=schemas[schema.name].id, encoding=schema.encoding)
                    if schema
                    else None
                ),
                labels={**spec.labels, **args.labels, "topic": key},
            ),
            opts=child(self, depends_on=[*args.apis, args.key_grant], protect=args.protect),
        )

    def _subscription(
        self, name: str, key: str, spec: Subscription, topics: Mapping[str, gcp.pubsub.Topic], args: PubSubArgs
    ) -> gcp.pubsub.Subscription:
        retry = spec.retry_policy
        dead = spec.dead_letter
        push = spec.push
        return gcp.pubsub.Subscription(
            f"{name}-sub-{key}",
            gcp.pubsub.SubscriptionArgs(
                name=resource_name(args.prefix, key),
                project=args.project,
                topic=topics[spec.topic].id,
                ack_deadline_seconds=spec.ack_deadline_seconds,
                message_retention_duration=api_duration(spec.message_retention),
                retry_policy=gcp.pubsub.SubscriptionRetryPolicyArgs(
                    minimum_backoff=api_duration(retry.minimum_backoff),
                    maximum_backoff=api_duration(retry.maximum_backoff),
                ),
                dead_letter_policy=(
                    gcp.pubsub.SubscriptionDeadLetterPolicyArgs(
                        dead_letter_topic=topics[dead.topic].id, max_delivery_attempts=dead.max_delivery_attempts
                    )
                    if dead
                    else None
                ),
                enable_exactly_once_delivery=spec.exactly_once_delivery,
                push_config=(
                    gcp.pubsub.SubscriptionPushConfigArgs(
                        push_endpoint=push.endpoint,
                        oidc_token=gcp.pubsub.SubscriptionPushConfigOidcTokenArgs(
                            service_account_email=args.workload_emails[push.workload]
                        ),
                    )
                    if push
                    else None
                ),
                filter=spec.filter,
                # A subscription nobody pulls for 31 days would otherwise be deleted with its backlog.
                expiration_policy=gcp.pubsub.SubscriptionExpirationPolicyArgs(ttl=NEVER_EXPIRES),
                labels={**spec.labels, **args.labels, "subscription": key},
            ),
            opts=child(self, depends_on=args.apis, protect=args.protect),
        )

"""Rules for `ai-estate:pubsub`: references between its maps and to the identities, and the limits
Pub/Sub documents (pulumi_gcp.pubsub Topic and Subscription; what the API would refuse half-way
through an `up`). Each problem names its exact key path."""

from __future__ import annotations

from collections.abc import Mapping

from stacks.config_namespaces import NamespaceConfig
from stacks.config_pubsub import PubSubConfig, seconds
from stacks.model import Workload
from stacks.problem import Problem

# Topic.message_retention_duration and Subscription.message_retention_duration: "Cannot be more
# than 31 days or less than 10 minutes".
RETENTION_MIN, RETENTION_MAX = 10 * 60, 31 * 86400
RETENTION_WORDS = "must be between 10m and 31d (Pub/Sub keeps messages 10 minutes to 31 days)"
# SubscriptionRetryPolicy minimum_backoff and maximum_backoff: "between 0 and 600 seconds".
BACKOFF_MAX = 600
# SubscriptionDeadLetterPolicy.max_delivery_attempts: "The value must be between 5 and 100".
ATTEMPTS_MIN, ATTEMPTS_MAX = 5, 100
# Labels the component sets on every topic and subscription (components.common.labels and the key).
RESERVED_LABELS = ("app", "managed-by", "environment", "component", "topic", "subscription")


def check_pubsub(
    cfg: PubSubConfig, workloads: Mapping[str, Workload], namespaces: Mapping[str, NamespaceConfig]
) -> list[Problem]:
    return _topics(cfg) + _subscriptions(cfg, workloads) + _grants(cfg, workloads, namespaces)


def _retention(path: str, value: str | None) -> list[Problem]:
    if value is not None and not RETENTION_MIN <= seconds(value) <= RETENTION_MAX:
        return [Problem(path, value, RETENTION_WORDS)]
    return []


def _labels(path: str, labels: Mapping[str, str]) -> list[Problem]:
    return [
        Problem(f"{path}.{key}", value, f"reserved: the estate sets {key!r} itself; pick another label key")
        for key, value in labels.items()
        if key in RESERVED_LABELS
    ]


def _topics(cfg: PubSubConfig) -> list[Problem]:
    out = []
    for name, topic in cfg.topics.items():
        at = f"pubsub.topics.{name}"
        out += _retention(f"{at}.messageRetention", topic.message_retention)
        out += _labels(f"{at}.labels", topic.labels)
        if topic.message_schema and topic.message_schema.name not in cfg.schemas:
            out.append(
                Problem(
                    f"{at}.schema.name",
                    topic.message_schema.name,
                    f"unknown schema; must be one of pubsub.schemas: {sorted(cfg.schemas)}",
                )
            )
    subscribed = {s.topic for s in cfg.subscriptions.values()}
    for dead in sorted(cfg.dead_letter_topics() & set(cfg.topics) - subscribed):
        out.append(
            Problem(
                f"pubsub.topics.{dead}",
                dead,
                "a dead-letter topic needs a subscription of its own in pubsub.subscriptions, or what is "
                "dead-lettered to it is lost",
            )
        )
    return out


def _subscriptions(cfg: PubSubConfig, workloads: Mapping[str, Workload]) -> list[Problem]:
    topics = sorted(cfg.topics)
    out = []
    for name, sub in cfg.subscriptions.items():
        at = f"pubsub.subscriptions.{name}"
        if sub.topic not in cfg.topics:
            out.append(Problem(f"{at}.topic", sub.topic, f"unknown topic; must be one of pubsub.topics: {topics}"))
        out += _retention(f"{at}.messageRetention", sub.message_retention)
        out += _labels(f"{at}.labels", sub.labels)
        retry = sub.retry_policy
        for key, value in (("minimumBackoff", retry.minimum_backoff), ("maximumBackoff", retry.maximum_backoff)):
            if seconds(value) > BACKOFF_MAX:
                out.append(Problem(f"{at}.retryPolicy.{key}", value, "must be between 0s and 600s (Pub/Sub's limit)"))
        if seconds(retry.minimum_backoff) > seconds(retry.maximum_backoff):
            out.append(
                Problem(
                    f"{at}.retryPolicy.minimumBackoff",
                    retry.minimum_backoff,
                    f"must be <= retryPolicy.maximumBackoff ({retry.maximum_backoff})",
                )
            )
        if sub.dead_letter:
            dead = sub.dead_letter
            if dead.topic not in cfg.topics:
                out.append(
                    Problem(
                        f"{at}.deadLetter.topic", dead.topic, f"unknown topic; must be one of pubsub.topics: {topics}"
                    )
                )
            elif dead.topic == sub.topic:
                out.append(
                    Problem(
                        f"{at}.deadLetter.topic",
                        dead.topic,
                        "must be another topic than the subscription's own: a failing message would be "
                        "dead-lettered back to where it failed",
                    )
                )
            if not ATTEMPTS_MIN <= dead.max_delivery_attempts <= ATTEMPTS_MAX:
                out.append(
                    Problem(
                        f"{at}.deadLetter.maxDeliveryAttempts",
                        dead.max_delivery_attempts,
                        f"must be between {ATTEMPTS_MIN} and {ATTEMPTS_MAX} (Pub/Sub's limits)",
                    )
                )
        if sub.push:
            if sub.exactly_once_delivery:
                out.append(
                    Problem(
                        f"{at}.exactlyOnceDelivery",
                        True,
                        "exactly-once delivery is for pull subscriptions only; remove push or set it to false",
                    )
                )
            if sub.push.workload not in workloads:
                out.append(
                    Problem(
                        f"{at}.push.workload",
                        sub.push.workload,
                        f"unknown workload; must be one of identity.workloads: {sorted(workloads)}",
                    )
                )
    return out


def _grants(
    cfg: PubSubConfig, workloads: Mapping[str, Workload], namespaces: Mapping[str, NamespaceConfig]
) -> list[Problem]:
    out = []
    for workload, grant in cfg.grants.items():
        at = f"pubsub.grants.{workload}"
        if workload not in workloads:
            out.append(
                Problem(at, workload, f"unknown workload; must be one of identity.workloads: {sorted(workloads)}")
            )
        else:
            ns = workloads[workload].namespace
            if (grant.publish or grant.subscribe) and ns in namespaces and not namespaces[ns].egress.google_apis:
                out.append(
                    Problem(
                        at,
                        workload,
                        f"its namespace {ns!r} cannot reach Pub/Sub: set namespaces.{ns}.egress.googleApis: true",
                    )
                )
        for i, topic in enumerate(grant.publish):
            if topic not in cfg.topics:
                out.append(
                    Problem(
                        f"{at}.publish[{i}]",
                        topic,
                        f"unknown topic; must be one of pubsub.topics: {sorted(cfg.topics)}",
                    )
                )
        for i, sub in enumerate(grant.subscribe):
            if sub not in cfg.subscriptions:
                out.append(
                    Problem(
                        f"{at}.subscribe[{i}]",
                        sub,
                        f"unknown subscription; must be one of pubsub.subscriptions: {sorted(cfg.subscriptions)}",
                    )
                )
    return out

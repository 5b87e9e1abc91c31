"""`ai-estate:pubsub`: Pub/Sub topics, subscriptions, schemas and who may publish or subscribe.

Every collection is a map keyed by name, so a stack file adds a topic, a subscription or a grant
without repeating the others (and `null` removes one). Durations are written `600s`, `10m`, `12h`
or `7d`; the limits Pub/Sub documents for each (retention, backoff) are checked by
`stacks.rules_pubsub`, with every reference between the maps and to `identity.workloads`.

A dead-letter topic is an ordinary entry of `topics` that a subscription's `deadLetter.topic`
names; it needs a subscription of its own, or what is dead-lettered to it is lost.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from stacks.base import Duration, LabelKey, LabelValue, Model, Name, seconds

PUSH_ENDPOINT_PATTERN = r"^https://[^\s/]+(/\S*)?$"


def api_duration(duration: str) -> str:
    """A Duration as the Pub/Sub API writes it: seconds with an `s` (`7d` -> `604800s`)."""
    return f"{seconds(duration)}s"


class Schema(Model):
    """A Pub/Sub schema that topics validate published messages against."""

    type: Literal["AVRO", "PROTOCOL_BUFFER"]
    definition: str = Field(
        min_length=1, description="The schema's full definition; a change commits a new revision (20 at most)."
    )


class TopicSchema(Model):
    name: Name = Field(description="A key of pubsub.schemas.")
    encoding: Literal["JSON", "BINARY"] = "JSON"


class Topic(Model):
    message_retention: Duration | None = Field(
        None,
        description="Keep published messages on the topic this long, acknowledged or not, so subscriptions can "
        "seek back (10m to 31d); none: the subscriptions' backlogs only.",
    )
    # `schema` is the stack file's key; the field has another name because BaseModel has a `schema`.
    message_schema: TopicSchema | None = Field(
        None, alias="schema", description="Validate every published message against a schema of pubsub.schemas."
    )
    labels: dict[LabelKey, LabelValue] = Field(
        {}, description="Extra labels; the estate's own (app, environment, component, topic) are reserved."
    )


class RetryPolicy(Model):
    minimum_backoff: Duration = Field("10s", description="First redelivery delay after a nack or an expired deadline.")
    maximum_backoff: Duration = Field("600s", description="Longest delay between redeliveries (600s at most).")


class DeadLetter(Model):
    topic: Name = Field(description="A key of pubsub.topics, not the subscription's own topic.")
    max_delivery_attempts: int = Field(10, description="Deliveries before a message is dead-lettered (5 to 100).")


class Push(Model):
    """Push delivery to an HTTPS endpoint, each request carrying an OIDC token of a workload."""

    endpoint: Annotated[str, Field(pattern=PUSH_ENDPOINT_PATTERN)]
    workload: Name = Field(
        description="Key of identity.workloads whose service account signs the OIDC token the endpoint verifies."
    )


class Subscription(Model):
    topic: Name = Field(description="A key of pubsub.topics.")
    ack_deadline_seconds: int = Field(60, ge=10, le=600, description="Time a subscriber has to acknowledge.")
    message_retention: Duration = Field("7d", description="Keep unacknowledged messages this long (10m to 31d).")
    retry_policy: RetryPolicy = RetryPolicy()
    dead_letter: DeadLetter | None = Field(
        None, description="Move a message that keeps failing to another topic instead of retrying it forever."
    )
    exactly_once_delivery: bool = Field(
        False, description="Pull subscriptions only: an acknowledged message is never delivered again."
    )
    push: Push | None = Field(None, description="Push to an HTTPS endpoint; none: a pull subscription.")
    filter: str | None = Field(
        None, min_length=1, max_length=256, description="Deliver only messages matching this attribute filter."
    )
    labels: dict[LabelKey, LabelValue] = Field(
        {}, description="Extra labels; the estate's own (app, environment, component, subscription) are reserved."
    )


class Grant(Model):
    publish: list[Name] = Field([], description="Topics the workload publishes to (roles/pubsub.publisher on each).")
    subscribe: list[Name] = Field(
        [], description="Subscriptions the workload pulls from (roles/pubsub.subscriber on each)."
    )


class PubSubConfig(Model):
    schemas: dict[Name, Schema] = Field({}, description="Message schemas topics may validate against.")
    topics: dict[Name, Topic] = Field({}, description="Topics, each named <prefix>-<key> in the project.")
    subscriptions: dict[Name, Subscription] = Field({}, description="Subscriptions, named <prefix>-<key>.")
    grants: dict[Name, Grant] = Field(
        {}, description="Per key of identity.workloads: the topics it publishes to and subscriptions it pulls from."
    )

    def dead_letter_topics(self) -> set[str]:
        """Topics some subscription dead-letters to."""
        return {s.dead_letter.topic for s in self.subscriptions.values() if s.dead_letter}


# ---------------------------------------------------------------- the seed's asynchronous messaging
# Seed 003: Pub/Sub for asynchronous messaging. Three streams, each with a pull subscription, a
# dead-letter topic and a subscription on that (what is dead-lettered stays inspectable and can be
# republished).
DEAD_LETTER_SUFFIX = "-dead-letter"
# name -> the subscription's settings besides topic, retention and dead-letter topic.
_STREAMS: dict[str, dict[str, Any]] = {
    # Work handed to agents: long-running, must not run twice (exactly once, pull).
    "agent-tasks": {
        "ackDeadlineSeconds": 300,
        "retryPolicy": {"minimumBackoff": "10s", "maximumBackoff": "600s"},
        "exactlyOnceDelivery": True,
        "deadLetter": {"maxDeliveryAttempts": 10},
    },
    # Fan-out of user-facing notifications: short deadline, quick retries; a duplicate is harmless.
    "notifications": {
        "ackDeadlineSeconds": 30,
        "retryPolicy": {"minimumBackoff": "5s", "maximumBackoff": "300s"},
        "exactlyOnceDelivery": False,
        "deadLetter": {"maxDeliveryAttempts": 10},
    },
    # Audit events exported to long-term storage: kept longest on the topic, so the export can replay.
    "audit-export": {
        "ackDeadlineSeconds": 60,
        "retryPolicy": {"minimumBackoff": "10s", "maximumBackoff": "600s"},
        "exactlyOnceDelivery": True,
        "deadLetter": {"maxDeliveryAttempts": 20},
    },
}


def _defaults(*, retention: str, dead_retention: str, audit_retention: str) -> dict[str, Any]:
    topics: dict[str, Any] = {}
    subscriptions: dict[str, Any] = {}
    for name, settings in _STREAMS.items():
        dead = f"{name}{DEAD_LETTER_SUFFIX}"
        kept = audit_retention if name == "audit-export" else retention
        topics[name] = {"messageRetention": kept}
        topics[dead] = {"messageRetention": dead_retention, "labels": {"dead-letter-of": name}}
        subscriptions[name] = {
            **settings,
            "topic": name,
            "messageRetention": kept,
            "deadLetter": {**settings["deadLetter"], "topic": dead},
        }
        subscriptions[dead] = {"topic": dead, "ackDeadlineSeconds": 60, "messageRetention": dead_retention}
    topics["audit-export"]["labels"] = {"data-class": "audit"}
    return {
        "schemas": {},
        "topics": topics,
        "subscriptions": subscriptions,
        "grants": {
            "cells": {
                "publish": ["agent-tasks", "notifications", "audit-export"],
                "subscribe": ["agent-tasks", "notifications"],
            },
            # Exports the audit stream and watches what every stream dead-letters.
            "observability": {"subscribe": ["audit-export", *(f"{n}{DEAD_LETTER_SUFFIX}" for n in _STREAMS)]},
        },
    }


# Merged into stacks/defaults.py (camelCase, as stack files spell them).
DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "dev": {"pubsub": _defaults(retention="1d", dead_retention="7d", audit_retention="7d")},
    "prod": {"pubsub": _defaults(retention="7d", dead_retention="31d", audit_retention="31d")},
}

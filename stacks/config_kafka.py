"""`ai-estate:kafka`: the Strimzi Kafka cluster (KRaft), its topics and its users.

Topics and users are maps keyed by name. A topic's key is its name in Kafka and the name of its
KafkaTopic; a user's key names its KafkaUser, and the user's access goes to the namespace of the
workload that uses it (delivered by Strimzi's Access Operator, never through Pulumi).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from stacks.base import Model, Name
from stacks.problem import Problem

Operation = Literal["Read", "Write", "Describe"]


class Pool(Model):
    replicas: int = Field(1, ge=1, le=15, description="Nodes in the pool (prod: brokers spread over the zones).")
    storage_gb: int = Field(
        20, ge=1, le=16384, description="Persistent SSD volume per node, in GiB; it can grow, never shrink."
    )
    cpu: str = Field("500m", description="CPU request and limit per node.")
    memory: str = Field("2Gi", description="Memory request and limit per node.")


class Topic(Model):
    partitions: int = Field(3, ge=1, le=1000)
    replicas: int | None = Field(
        None, ge=1, le=15, description="Replication factor; the cluster's default when absent."
    )
    min_insync_replicas: int | None = Field(
        None, ge=1, le=15, description="min.insync.replicas; the cluster's default when absent."
    )
    retention_ms: int = Field(7 * 24 * 3600 * 1000, ge=-1, description="retention.ms; -1 keeps messages forever.")
    cleanup_policy: Literal["delete", "compact", "compact,delete"] = "delete"
    release: bool = Field(
        False,
        description="Hand the topic back: strimzi.io/managed=false, so that removing it from config then deletes "
        "only the KafkaTopic, never the topic and its data.",
    )


class User(Model):
    workload: Name = Field(description="The workload (identity.workloads key) whose namespace gets this user's access.")
    authentication: Literal["tls", "scram-sha-512"] = "tls"
    topics: dict[Name, list[Operation]] = Field({}, description="Topic -> what the user may do on it.")
    group: Name | None = Field(None, description="The consumer group (prefix) it may use; its own name when absent.")


class KafkaConfig(Model):
    enabled: bool = Field(True, description="Install the operator and the cluster.")
    namespace: Name = Field("kafka", description="An ai-estate:namespaces entry that holds data.")
    cluster_name: Name = Field("estate", description="The Kafka resource's name (its Services are <name>-kafka-...).")
    version: str = Field("4.3.1", description="The Kafka version: the one in the pinned strimzi-kafka image.")
    dual_role: bool = Field(False, description="One pool of nodes that are controllers and brokers (dev only).")
    controllers: Pool = Pool()
    brokers: Pool = Pool()
    default_replication_factor: int = Field(1, ge=1, le=15)
    min_insync_replicas: int = Field(1, ge=1, le=15)
    topics: dict[Name, Topic] = {}
    users: dict[Name, User] = {}

    @property
    def broker_count(self) -> int:
        return self.brokers.replicas


def check(
    cfg: KafkaConfig,
    environment: str,
    namespaces: Mapping[str, Any],
    workloads: Mapping[str, Any],
    kafka_image_tag: str | None = None,
) -> list[Problem]:
    """What the cluster cannot honour: replication beyond the brokers, ISR beyond replication, ACLs
    on unknown topics, a namespace that is not there or does not hold data, a Kafka version other
    than the one in the pinned image (`registry.images.strimzi-kafka`, tag `<strimzi>-kafka-<version>`)."""
    if not cfg.enabled:
        return []
    out: list[Problem] = []
    at = "kafka"
    if kafka_image_tag is not None and not kafka_image_tag.endswith(f"-kafka-{cfg.version}"):
        pinned = kafka_image_tag.rpartition("-kafka-")[2]
        out.append(
            Problem(
                f"{at}.version",
                cfg.version,
                f"must be the Kafka of the pinned image registry.images.strimzi-kafka ({kafka_image_tag}): {pinned}",
            )
        )
    brokers = cfg.broker_count
    prod = environment == "prod"
    if cfg.namespace not in namespaces:
        out.append(
            Problem(f"{at}.namespace", cfg.namespace, f"must be an ai-estate:namespaces entry: {sorted(namespaces)}")
        )
    elif not namespaces[cfg.namespace].holds_data:
        out.append(Problem(f"{at}.namespace", cfg.namespace, "its ai-estate:namespaces entry must set holdsData: true"))
    if prod and cfg.dual_role:
        out.append(Problem(f"{at}.dualRole", True, "prod runs separate controller and broker pools (false)"))
    if prod and cfg.controllers.replicas != 3:
        out.append(Problem(f"{at}.controllers.replicas", cfg.controllers.replicas, "prod runs 3 KRaft controllers"))
    if prod and brokers < 3:
        out.append(Problem(f"{at}.brokers.replicas", brokers, "prod runs at least 3 brokers, one per zone or more"))
    out += _replication(
        f"{at}.defaultReplicationFactor", cfg.default_replication_factor, cfg.min_insync_replicas, brokers, prod
    )
    for name, topic in sorted(cfg.topics.items()):
        replicas = topic.replicas or cfg.default_replication_factor
        isr = topic.min_insync_replicas or cfg.min_insync_replicas
        out += _replication(f"{at}.topics.{name}.replicas", replicas, isr, brokers, prod)
    for name, user in sorted(cfg.users.items()):
        if user.workload not in workloads:
            out.append(
                Problem(
                    f"{at}.users.{name}.workload",
                    user.workload,
                    f"must be an identity.workloads key: {sorted(workloads)}",
                )
            )
        for wanted in sorted(user.topics):
            if wanted not in cfg.topics:
                out.append(
                    Problem(
                        f"{at}.users.{name}.topics.{wanted}", wanted, f"no such topic; topics: {sorted(cfg.topics)}"
                    )
                )
    return out


def _replication(at: str, replicas: int, isr: int, brokers: int, prod: bool) -> list[Problem]:
    """1 <= min ISR <= replicas <= brokers; in prod min ISR < replicas (one broker may be down)."""
    out = []
    if replicas > brokers:
        out.append(Problem(at, replicas, f"at most the number of brokers ({brokers})"))
    if isr > replicas:
        out.append(Problem(at, replicas, f"at least min.insync.replicas ({isr})"))
    elif prod and isr == replicas:
        out.append(Problem(at, replicas, f"more than min.insync.replicas ({isr}) in prod, so a broker can restart"))
    return out


# Seed defaults: real-time events (003), agent tasks (001), audit and telemetry (002).
_TOPICS: dict[str, dict[str, Any]] = {
    "events": {"partitions": 12},
    "agent-tasks": {"partitions": 12},
    "audit": {"partitions": 3, "retentionMs": 90 * 24 * 3600 * 1000},
    "telemetry": {"partitions": 6, "retentionMs": 3 * 24 * 3600 * 1000},
}
_USERS: dict[str, dict[str, Any]] = {
    "cells": {
        "workload": "cells",
        "topics": {
            "events": ["Describe", "Read", "Write"],
            "agent-tasks": ["Describe", "Read", "Write"],
            "audit": ["Describe", "Write"],
            "telemetry": ["Describe", "Write"],
        },
    },
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {
        "kafka": {
            "dualRole": True,
            "controllers": {"replicas": 1, "storageGb": 10, "cpu": "500m", "memory": "2Gi"},
            "brokers": {"replicas": 1, "storageGb": 10, "cpu": "500m", "memory": "2Gi"},
            "defaultReplicationFactor": 1,
            "minInsyncReplicas": 1,
            "topics": _TOPICS,
            "users": _USERS,
        }
    },
    "prod": {
        "kafka": {
            "dualRole": False,
            "controllers": {"replicas": 3, "storageGb": 20, "cpu": "1", "memory": "4Gi"},
            "brokers": {"replicas": 3, "storageGb": 500, "cpu": "2", "memory": "8Gi"},
            "defaultReplicationFactor": 3,
            "minInsyncReplicas": 2,
            "topics": _TOPICS,
            "users": _USERS,
        }
    },
}


def access_secret(user: str) -> str:
    """The Secret the Access Operator writes a user's connection details to, in its workload's
    namespace (bootstrap servers, the cluster's CA, the user's certificate and key)."""
    return f"kafka-{user}"


def users_of(cfg: KafkaConfig, workload: str) -> list[str]:
    """The Kafka users whose access goes to `workload`'s namespace."""
    return sorted(name for name, u in cfg.users.items() if u.workload == workload)

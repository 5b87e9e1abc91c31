"""Kafka on Strimzi: the config rules, the custom resources against Strimzi's CRDs, and the plans."""

from __future__ import annotations

from typing import Any

import pytest

from components.data import kafka_objects as ko
from stacks.config_kafka import DEFAULTS, KafkaConfig, check
from stacks.config_namespaces import NamespaceConfig
from stacks.defaults import merge
from tests.upstream import crd_problems
from tools.plan import Plan

NAMESPACES = {"kafka": NamespaceConfig(holds_data=True, mesh="none"), "cells": NamespaceConfig()}
WORKLOADS = {"cells": object()}


def cfg(env: str, **changes: Any) -> KafkaConfig:
    """The environment's defaults with `changes` merged in, as a stack file's values are."""
    return KafkaConfig.model_validate(merge(DEFAULTS[env]["kafka"], changes))


def problems(env: str, **changes: Any) -> list[str]:
    return [p.render() for p in check(cfg(env, **changes), env, NAMESPACES, WORKLOADS)]


# ---------------------------------------------------------------- rules
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_defaults_pass(env: str) -> None:
    assert problems(env) == []


def test_topic_replicas_above_the_brokers() -> None:
    assert problems("dev", topics={"events": {"replicas": 3}}) == [
        "kafka.topics.events.replicas = 3: at most the number of brokers (1)"
    ]


def test_min_isr_above_replicas_and_equal_in_prod() -> None:
    assert problems("prod", topics={"audit": {"replicas": 2, "minInsyncReplicas": 3}}) == [
        "kafka.topics.audit.replicas = 2: at least min.insync.replicas (3)"
    ]
    assert problems("prod", topics={"audit": {"replicas": 2}}) == [
        "kafka.topics.audit.replicas = 2: more than min.insync.replicas (2) in prod, so a broker can restart"
    ]
    # Dev may run replicas = min ISR = 1.
    assert problems("dev", topics={"audit": {"replicas": 1, "minInsyncReplicas": 1}}) == []


def test_a_user_acl_on_an_unknown_topic() -> None:
    users = {"reader": {"workload": "cells", "topics": {"evnets": ["Read"]}}}
    (message,) = problems("dev", users=users)
    assert message.startswith("kafka.users.reader.topics.evnets = 'evnets': no such topic; topics: [")


def test_a_user_of_an_unknown_workload() -> None:
    (message,) = problems("dev", users={"x": {"workload": "nobody", "topics": {}}})
    assert message == "kafka.users.x.workload = 'nobody': must be an identity.workloads key: ['cells']"


def test_prod_shape_and_namespace() -> None:
    assert problems("prod", dualRole=True) == [
        "kafka.dualRole = True: prod runs separate controller and broker pools (false)"
    ]
    assert problems("prod", controllers={"replicas": 1}) == [
        "kafka.controllers.replicas = 1: prod runs 3 KRaft controllers"
    ]
    assert problems("dev", namespace="cells") == [
        "kafka.namespace = 'cells': its ai-estate:namespaces entry must set holdsData: true"
    ]


# ---------------------------------------------------------------- objects against the CRDs
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_custom_resource_matches_strimzi_crds(env: str) -> None:
    c = cfg(env)
    objs = [ko.kafka(c, prod=env == "prod")]
    objs += [ko.node_pool(c, name, roles, size) for name, (roles, size) in ko.pools(c).items()]
    objs += [ko.topic(c, name, t) for name, t in c.topics.items()]
    objs += [ko.user(c, name, u) for name, u in c.users.items()]
    objs.append(ko.access(c, "cells", "cells"))
    assert {o["kind"] for o in objs} == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "KafkaAccess"}
    for obj in objs:
        assert crd_problems(obj) == [], obj["kind"]


def test_a_misspelt_field_is_caught_by_the_crd_check() -> None:
    obj = ko.kafka(cfg("dev"), prod=False)
    obj["spec"]["kafka"]["listners"] = obj["spec"]["kafka"].pop("listeners")
    assert crd_problems(obj)


def test_listeners_tls_with_client_certificates_and_simple_authorization() -> None:
    spec = ko.kafka(cfg("prod"), prod=True)["spec"]["kafka"]
    assert spec["listeners"] == [
        {"name": "tls", "port": 9093, "type": "internal", "tls": True, "authentication": {"type": "tls"}}
    ]
    assert spec["authorization"] == {"type": "simple"}
    assert spec["rack"] == {"topologyKey": "topology.kubernetes.io/zone"}
    assert spec["config"]["unclean.leader.election.enable"] is False
    assert spec["config"]["min.insync.replicas"] == 2 and spec["config"]["default.replication.factor"] == 3


def test_volumes_outlive_their_pools_and_a_released_topic_is_unmanaged() -> None:
    c = cfg("prod")
    for name, (roles, size) in ko.pools(c).items():
        storage = ko.node_pool(c, name, roles, size)["spec"]["storage"]
        assert storage["deleteClaim"] is False and storage["class"] == ko.STORAGE_CLASS
    released = ko.topic(c, "audit", c.topics["audit"].model_copy(update={"release": True}))
    assert released["metadata"]["annotations"] == {"strimzi.io/managed": "false"}
    assert "annotations" not in ko.topic(c, "audit", c.topics["audit"])["metadata"]


def test_user_acls_are_its_topics_only() -> None:
    c = cfg("dev")
    acls = ko.user(c, "cells", c.users["cells"])["spec"]["authorization"]["acls"]
    topics = {a["resource"]["name"] for a in acls if a["resource"]["type"] == "topic"}
    assert topics == set(c.users["cells"].topics)
    assert all(a["resource"]["patternType"] == "literal" for a in acls if a["resource"]["type"] == "topic")
    (group,) = [a for a in acls if a["resource"]["type"] == "group"]
    assert group["resource"] == {"type": "group", "name": "cells", "patternType": "prefix"}


# ---------------------------------------------------------------- the plans
KAFKA = "kubernetes:kafka.strimzi.io/v1:Kafka"


def test_the_plan_has_the_cluster_with_its_pools_topics_users_and_access(plan: Plan) -> None:
    prod = plan.stack == "prod"
    (kafka,) = plan.by_type(KAFKA)
    assert kafka["options"]["protect"] is prod
    pools = plan.by_type("kubernetes:kafka.strimzi.io/v1:KafkaNodePool")
    roles = sorted(tuple(p["inputs"]["spec"]["roles"]) for p in pools)
    assert roles == ([("broker",), ("controller",)] if prod else [("controller", "broker")])
    topics = plan.by_type("kubernetes:kafka.strimzi.io/v1:KafkaTopic")
    assert {t["inputs"]["metadata"]["name"] for t in topics} >= {"events", "agent-tasks", "audit", "telemetry"}
    assert all(t["options"]["protect"] is prod for t in topics)
    (access,) = plan.by_type("kubernetes:access.strimzi.io/v1alpha1:KafkaAccess")
    assert access["inputs"]["metadata"]["namespace"] == "cells"
    # No Secret with key material anywhere in the plan: the operators write them.
    assert not [s for s in plan.by_type("kubernetes:core/v1:Secret") if s["inputs"].get("data")]
    (storage,) = plan.by_type("kubernetes:storage.k8s.io/v1:StorageClass")
    assert storage["inputs"]["reclaimPolicy"] == "Retain" and storage["inputs"]["allowVolumeExpansion"] is True


def test_the_operator_runs_restricted_from_our_registry_by_digest(plan: Plan) -> None:
    (chart,) = [c for c in plan.by_type("kubernetes:helm.sh/v4:Chart") if c["name"].endswith("-kafka-operator")]
    values = chart["inputs"]["values"]
    assert {"name": "STRIMZI_POD_SECURITY_PROVIDER_CLASS", "value": "restricted"} in values["extraEnvs"]
    assert values["defaultImageRegistry"].endswith("-docker.pkg.dev")
    for key in ("image", "kafkaExporter", "topicOperator", "userOperator", "kafkaInit"):
        image = values[key] if key == "image" else values[key]["image"]
        assert image["digest"].startswith("sha256:"), key
    assert values["kafka"]["image"]["digest"].startswith("sha256:")


def test_the_kafka_namespace_is_out_of_the_mesh_and_backed_up(plan: Plan) -> None:
    (ns,) = [n for n in plan.by_type("kubernetes:core/v1:Namespace") if n["inputs"]["metadata"]["name"] == "kafka"]
    assert ns["inputs"]["metadata"]["labels"]["istio.io/dataplane-mode"] == "none"
    (bp,) = plan.by_type("gcp:gkebackup/backupPlan:BackupPlan")
    assert "kafka" in bp["inputs"]["backupConfig"]["selectedNamespaces"]["namespaces"]

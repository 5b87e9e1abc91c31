"""The Strimzi custom resources (kafka.strimzi.io/v1, access.strimzi.io/v1alpha1) as typed specs
and pure builders: each returns the whole object, so tests check it against the upstream CRD and
the component registers exactly that.

Choices, each with its reason:
- KRaft with node pools (the only mode of Strimzi 1.x): dev one dual-role node; prod 3
  controllers and N brokers, each pool spread over the zones.
- One internal listener, `tls: true` with mutual TLS (`authentication.type: tls`), `simple`
  authorization: every client is a KafkaUser with ACLs on its topics only.
- Rack awareness on `topology.kubernetes.io/zone` (prod): the operator creates the init
  container's ClusterRoleBinding itself, to the chart's `strimzi-kafka-broker` ClusterRole.
- Storage: persistent claims on the estate's SSD StorageClass (volume expansion, Retain),
  `deleteClaim: false`: deleting a pool or the cluster never deletes a volume.
- Metrics through Strimzi's own metrics reporter (no JMX exporter ConfigMap) and the Kafka
  exporter for consumer lag, for the observability layer to scrape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from components.kube.custom import Spec
from stacks.config_kafka import KafkaConfig, Pool, Topic, User, access_secret

API = "kafka.strimzi.io/v1"
ACCESS_API = "access.strimzi.io/v1alpha1"
CLUSTER_LABEL = "strimzi.io/cluster"
MANAGED_ANNOTATION = "strimzi.io/managed"
LISTENER = "tls"
LISTENER_PORT = 9093
ZONE_KEY = "topology.kubernetes.io/zone"
STORAGE_CLASS = "kafka-ssd"


# ---------------------------------------------------------------- Kafka
class Authentication(Spec):
    type: Literal["tls", "scram-sha-512"]


class Listener(Spec):
    name: str
    port: int
    type: Literal["internal"]
    tls: Literal[True]
    authentication: Authentication


class Authorization(Spec):
    type: Literal["simple"]


class Rack(Spec):
    topology_key: str


class MetricsConfig(Spec):
    type: Literal["strimziMetricsReporter"]


class KafkaBroker(Spec):
    version: str
    listeners: list[Listener] = Field(min_length=1)
    authorization: Authorization
    config: dict[str, Any]
    rack: Rack | None = None
    metrics_config: MetricsConfig


class Resources(Spec):
    requests: dict[str, str]
    limits: dict[str, str]


class OperatorContainer(Spec):
    resources: Resources


class EntityOperator(Spec):
    topic_operator: OperatorContainer
    user_operator: OperatorContainer


class KafkaExporter(Spec):
    topic_regex: str
    group_regex: str
    resources: Resources


class KafkaSpec(Spec):
    kafka: KafkaBroker
    entity_operator: EntityOperator
    kafka_exporter: KafkaExporter


# ---------------------------------------------------------------- KafkaNodePool
class Storage(Spec):
    type: Literal["persistent-claim"]
    size: str
    class_: str = Field(alias="class")
    delete_claim: Literal[False]


class PodTemplate(Spec):
    topology_spread_constraints: list[dict[str, Any]]


class PoolTemplate(Spec):
    pod: PodTemplate


class NodePoolSpec(Spec):
    replicas: int
    roles: list[Literal["controller", "broker"]] = Field(min_length=1)
    storage: Storage
    resources: Resources
    template: PoolTemplate


# ---------------------------------------------------------------- KafkaTopic, KafkaUser
class TopicSpec(Spec):
    partitions: int
    replicas: int
    config: dict[str, Any]


class AclResource(Spec):
    type: Literal["topic", "group"]
    name: str
    pattern_type: Literal["literal", "prefix"]


class Acl(Spec):
    resource: AclResource
    operations: list[str] = Field(min_length=1)


class UserAuthorization(Spec):
    type: Literal["simple"]
    acls: list[Acl]


class UserSpec(Spec):
    authentication: Authentication
    authorization: UserAuthorization


# ---------------------------------------------------------------- KafkaAccess
class KafkaRef(Spec):
    name: str
    namespace: str
    listener: str


class UserRef(Spec):
    kind: Literal["KafkaUser"]
    api_group: Literal["kafka.strimzi.io"]
    name: str
    namespace: str


class AccessSpec(Spec):
    kafka: KafkaRef
    user: UserRef
    secret_name: str


# ---------------------------------------------------------------- builders
# Pulumi waits for the operator's Ready condition (`pulumi.com/waitFor`) before what depends on the
# object goes ahead: topics and users wait for a running cluster, an access for its user's secret.
READY = {"pulumi.com/waitFor": "condition=Ready"}


def _obj(
    api: str,
    kind: str,
    name: str,
    namespace: str,
    spec: Spec,
    labels: Mapping[str, str] | None = None,
    *,
    ready: bool = False,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(labels)
    if ready:
        meta["annotations"] = dict(READY)
    return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec.dump()}


def _resources(cpu: str, memory: str) -> Resources:
    """Requests = limits: Guaranteed QoS, so a busy neighbour never starves a broker."""
    return Resources(requests={"cpu": cpu, "memory": memory}, limits={"cpu": cpu, "memory": memory})


def broker_config(cfg: KafkaConfig) -> dict[str, Any]:
    """Durability the cluster enforces whatever a client asks: replication, ISR, no unclean election."""
    internal = cfg.default_replication_factor
    return {
        "default.replication.factor": cfg.default_replication_factor,
        "min.insync.replicas": cfg.min_insync_replicas,
        "offsets.topic.replication.factor": internal,
        "transaction.state.log.replication.factor": internal,
        "transaction.state.log.min.isr": cfg.min_insync_replicas,
        "unclean.leader.election.enable": False,
        # Topics exist only as KafkaTopics: a typo in a client never creates one.
        "auto.create.topics.enable": False,
    }


def kafka(cfg: KafkaConfig, *, prod: bool) -> dict[str, Any]:
    small = _resources("100m", "256Mi")
    spec = KafkaSpec(
        kafka=KafkaBroker(
            version=cfg.version,
            listeners=[
                Listener(
                    name=LISTENER,
                    port=LISTENER_PORT,
                    type="internal",
                    tls=True,
                    authentication=Authentication(type="tls"),
                )
            ],
            authorization=Authorization(type="simple"),
            config=broker_config(cfg),
            rack=Rack(topology_key=ZONE_KEY) if prod else None,
            metrics_config=MetricsConfig(type="strimziMetricsReporter"),
        ),
        entity_operator=EntityOperator(
            topic_operator=OperatorContainer(resources=_resources("100m", "512Mi")),
            user_operator=OperatorContainer(resources=_resources("100m", "512Mi")),
        ),
        kafka_exporter=KafkaExporter(topic_regex=".*", group_regex=".*", resources=small),
    )
    return _obj(API, "Kafka", cfg.cluster_name, cfg.namespace, spec, ready=True)


def pools(cfg: KafkaConfig) -> dict[str, tuple[list[Literal["controller", "broker"]], Pool]]:
    """Pool name -> (roles, sizing): one dual-role pool, or controllers and brokers apart."""
    if cfg.dual_role:
        return {"dual-role": (["controller", "broker"], cfg.brokers)}
    return {"controllers": (["controller"], cfg.controllers), "brokers": (["broker"], cfg.brokers)}


def node_pool(cfg: KafkaConfig, name: str, roles: list[Literal["controller", "broker"]], pool: Pool) -> dict[str, Any]:
    # Strimzi labels each pool's pods with strimzi.io/pool-name; spread them over zones, then nodes.
    selector = {"matchLabels": {CLUSTER_LABEL: cfg.cluster_name, "strimzi.io/pool-name": name}}
    spread = [
        {"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": when, "labelSelector": selector}
        for key, when in ((ZONE_KEY, "DoNotSchedule"), ("kubernetes.io/hostname", "ScheduleAnyway"))
    ]
    spec = NodePoolSpec(
        replicas=pool.replicas,
        roles=roles,
        storage=Storage(type="persistent-claim", size=f"{pool.storage_gb}Gi", class_=STORAGE_CLASS, delete_claim=False),
        resources=_resources(pool.cpu, pool.memory),
        template=PoolTemplate(pod=PodTemplate(topology_spread_constraints=spread)),
    )
    return _obj(API, "KafkaNodePool", name, cfg.namespace, spec, {CLUSTER_LABEL: cfg.cluster_name})


def topic(cfg: KafkaConfig, name: str, t: Topic) -> dict[str, Any]:
    spec = TopicSpec(
        partitions=t.partitions,
        replicas=t.replicas or cfg.default_replication_factor,
        config={
            "retention.ms": t.retention_ms,
            "cleanup.policy": t.cleanup_policy,
            "min.insync.replicas": t.min_insync_replicas or cfg.min_insync_replicas,
        },
    )
    obj = _obj(API, "KafkaTopic", name, cfg.namespace, spec, {CLUSTER_LABEL: cfg.cluster_name})
    if t.release:
        obj["metadata"]["annotations"] = {MANAGED_ANNOTATION: "false"}
    return obj


def user(cfg: KafkaConfig, name: str, u: User) -> dict[str, Any]:
    acls = [
        Acl(resource=AclResource(type="topic", name=t, pattern_type="literal"), operations=sorted(ops))
        for t, ops in sorted(u.topics.items())
    ]
    if any("Read" in ops for ops in u.topics.values()):
        group = AclResource(type="group", name=u.group or name, pattern_type="prefix")
        acls.append(Acl(resource=group, operations=["Read"]))
    spec = UserSpec(
        authentication=Authentication(type=u.authentication),
        authorization=UserAuthorization(type="simple", acls=acls),
    )
    return _obj(API, "KafkaUser", name, cfg.namespace, spec, {CLUSTER_LABEL: cfg.cluster_name}, ready=True)


def access(cfg: KafkaConfig, name: str, namespace: str) -> dict[str, Any]:
    """The user's connection details (bootstrap, CA, its certificate) as a Secret in `namespace`,
    written by the Access Operator: Pulumi never holds the key material."""
    spec = AccessSpec(
        kafka=KafkaRef(name=cfg.cluster_name, namespace=cfg.namespace, listener=LISTENER),
        user=UserRef(kind="KafkaUser", api_group="kafka.strimzi.io", name=name, namespace=cfg.namespace),
        secret_name=access_secret(name),
    )
    return _obj(ACCESS_API, "KafkaAccess", f"kafka-{name}", namespace, spec)

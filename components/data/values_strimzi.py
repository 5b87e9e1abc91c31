"""Values for Strimzi's charts: the cluster operator (strimzi-kafka-operator 1.2.0) and the Access
Operator (strimzi-access-operator 0.3.0), images from our caches by digest, hardened.

The operator starts every operand (brokers, entity operator, exporter) from images its chart
passes as environment variables. `defaultImageRegistry`/`defaultImageRepository` move them all to
our quay.io cache, and a `digest` per image key pins each one (templates/_helpers.tpl
`strimzi.image`: a digest wins over the tag). `kafka.image.digest` pins one digest for every Kafka
version the operator knows, so the cluster runs exactly the version that digest is:
`KAFKA_VERSION` (a config rule refuses any other).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.kube.values import CONTAINER_SECURITY, POD_SECURITY, SYSTEM_NODES, ChartContext, Values, resources
from stacks.charts import chart_images

RELEASE = "strimzi"
ACCESS_RELEASE = "strimzi-access-operator"
KAFKA_VERSION = "4.3.1"  # the Kafka in the pinned kafka image, strimzi-kafka-operator 1.2.0's newest
IMAGES = chart_images("strimzi-")  # the images these charts run, declared with the pins
# Strimzi's restricted provider sets the operands' security contexts to Pod Security "restricted";
# its default (baseline) would be refused in the estate's namespaces.
RESTRICTED = {"name": "STRIMZI_POD_SECURITY_PROVIDER_CLASS", "value": "restricted"}


def _digest(image: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    return {"digest": image}


class StrimziValues(Values):
    default_image_registry: str
    default_image_repository: str
    image: dict[str, Any]
    kafka: dict[str, Any]
    kafka_exporter: dict[str, Any]
    cruise_control: dict[str, Any]
    topic_operator: dict[str, Any]
    user_operator: dict[str, Any]
    kafka_init: dict[str, Any]
    watch_namespaces: list[str]
    watch_any_namespace: bool
    extra_envs: list[dict[str, str]]
    resources: dict[str, Any]
    replicas: int
    pod_disruption_budget: dict[str, Any]
    leader_election: dict[str, Any]
    node_selector: dict[str, str]
    create_aggregate_roles: bool


def strimzi_values(ctx: ChartContext) -> StrimziValues:
    operator, kafka = ctx.images["strimzi-operator"], ctx.images["strimzi-kafka"]
    # `<region>-docker.pkg.dev/<project>/quay/strimzi/operator` -> registry and repository path.
    registry, _, path = operator.repository.partition("/")
    repository = path.rsplit("/", 1)[0]
    replicas = 2 if ctx.prod else 1
    return StrimziValues(
        default_image_registry=registry,
        default_image_repository=repository,
        image=_digest(operator.digest),
        kafka={"image": _digest(kafka.digest)},
        kafka_exporter={"image": _digest(kafka.digest)},
        cruise_control={"image": _digest(kafka.digest)},
        topic_operator={"image": _digest(operator.digest)},
        user_operator={"image": _digest(operator.digest)},
        kafka_init={"image": _digest(operator.digest)},
        # The release namespace only: the operator needs no rights anywhere else.
        watch_namespaces=[],
        watch_any_namespace=False,
        extra_envs=[dict(RESTRICTED)],
        resources=resources("200m", "512Mi", cpu_limit="1"),
        # Two replicas in prod with leader election: a node's loss does not stop reconciliation.
        replicas=replicas,
        pod_disruption_budget={"enabled": ctx.prod, "minAvailable": 1},
        leader_election={"enable": True},
        node_selector=dict(SYSTEM_NODES),
        create_aggregate_roles=False,
    )


class AccessOperatorValues(Values):
    image: dict[str, Any]
    resources: dict[str, Any]
    pod_security_context: dict[str, Any]
    security_context: dict[str, Any]


def access_operator_values(ctx: ChartContext) -> AccessOperatorValues:
    image = ctx.images["strimzi-access-operator"]
    registry, _, path = image.repository.partition("/")
    repository, _, name = path.rpartition("/")
    # templates/deployment.yaml prints `registry/repository/name:tag` and has no digest key: a tag
    # of `<tag>@<digest>` pins the image by digest (the runtime pulls the digest).
    tag = pulumi.Output.concat(image.tag, "@", image.digest)
    return AccessOperatorValues(
        image={"registry": registry, "repository": repository, "name": name, "tag": tag},
        resources=resources("100m", "256Mi", cpu_limit="500m"),
        pod_security_context=dict(POD_SECURITY),
        security_context=dict(CONTAINER_SECURITY),
    )

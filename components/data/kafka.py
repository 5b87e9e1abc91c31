"""Kafka on Strimzi: the operator and the Access Operator from their charts, an SSD StorageClass,
the KRaft cluster with its node pools, topics and users from config, and each user's access
delivered into its workload's namespace by the Access Operator (Pulumi never holds a key).

Data is never lost by an ordinary `up`: volumes are `deleteClaim: false` on a `Retain` class, the
namespace is in the Backup for GKE plan, and in prod the cluster, its pools and its topics are
protected. A topic leaves config in two steps (README, "Kafka"): `release: true` first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.common import K8S_LABELS, child
from components.data import kafka_objects as objects
from components.data.values_strimzi import ACCESS_RELEASE, RELEASE, access_operator_values, strimzi_values
from components.kube.charts import ChartPin, Release, install
from components.kube.custom import custom_object
from components.kube.netpol import allow_policies, api_server, same_namespace
from components.kube.values import ChartContext
from stacks.config_kafka import KafkaConfig, access_secret

# GKE's Persistent Disk CSI driver; pd-ssd for the brokers' log segments.
CSI = "pd.csi.storage.gke.io"


@dataclass(frozen=True)
class KafkaArgs:
    ctx: ChartContext
    config: KafkaConfig
    pins: Mapping[str, ChartPin]
    provider: k8s.Provider
    namespaces: Mapping[str, pulumi.Resource]
    workload_namespaces: Mapping[str, str]  # identity.workloads key -> its namespace
    control_plane_ranges: pulumi.Input[Sequence[str]]
    nodes: pulumi.Resource


class Kafka(pulumi.ComponentResource):
    bootstrap: str  # the TLS listener's in-cluster address
    access_secrets: dict[str, str]  # user -> "<namespace>/<secret>" its workload mounts

    def __init__(self, name: str, args: KafkaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:kafka:Kafka", name, None, opts)
        cfg, ctx, prod = args.config, args.ctx, args.ctx.prod
        ns = cfg.namespace
        in_ns = [args.namespaces[ns], args.nodes]
        storage = k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            k8s.storage.v1.StorageClassInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name=objects.STORAGE_CLASS, labels=K8S_LABELS),
                provisioner=CSI,
                parameters={"type": "pd-ssd"},
                # A volume outlives its claim: deleting a claim by mistake never deletes the data.
                reclaim_policy="Retain",
                allow_volume_expansion=True,
                # Bound where the broker is scheduled, so the disk is in the broker's zone.
                volume_binding_mode="WaitForFirstConsumer",
            ),
            opts=child(self, provider=args.provider, protect=prod),
        )
        # What the operators and the brokers need beyond the namespace's default allows: each
        # other, and the API server (the operators watch it).
        allow_policies(
            self,
            f"{name}-netpol",
            ns,
            [*same_namespace(), api_server()],
            provider=args.provider,
            depends_on=[args.namespaces[ns]],
            control_plane=args.control_plane_ranges,
        )
        operator = install(
            self,
            f"{name}-operator",
            Release(args.pins["strimzi-kafka-operator"], ns, strimzi_values(ctx), release_name=RELEASE),
            provider=args.provider,
            depends_on=in_ns,
        )
        access_operator = install(
            self,
            f"{name}-access-operator",
            Release(args.pins["strimzi-access-operator"], ns, access_operator_values(ctx), release_name=ACCESS_RELEASE),
            provider=args.provider,
            depends_on=in_ns,
        )

        pool_objs = [
            objects.node_pool(cfg, pool, roles, sizing) for pool, (roles, sizing) in objects.pools(cfg).items()
        ]
        # The pools and the cluster need only their CRDs (the operator's chart) and the StorageClass:
        # the operator reconciles them in whatever order they arrive. Topics and users come after
        # the cluster: its entity operator reconciles them and holds their finalizers, so on
        # `destroy` they must go while it still runs (before the Kafka resource), or the
        # namespace is left Terminating. Pulumi waits for the cluster and each user to be Ready.
        for obj in pool_objs:
            self._cr(obj, [operator, storage], args, name, protect=prod)
        cluster = self._cr(objects.kafka(cfg, prod=prod), [operator], args, name, protect=prod)
        for topic, t in sorted(cfg.topics.items()):
            self._cr(objects.topic(cfg, topic, t), [cluster], args, name, protect=prod and not t.release)
        self.access_secrets = {}
        for user, u in sorted(cfg.users.items()):
            self._cr(objects.user(cfg, user, u), [cluster], args, name, protect=False)
            target = args.workload_namespaces[u.workload]
            access = objects.access(cfg, user, target)
            self._cr(access, [access_operator, args.namespaces[target]], args, name, protect=False)
            self.access_secrets[user] = f"{target}/{access_secret(user)}"
        self.bootstrap = f"{cfg.cluster_name}-kafka-bootstrap.{ns}.svc:{objects.LISTENER_PORT}"
        self.register_outputs({"bootstrap": self.bootstrap, "accessSecrets": self.access_secrets})

    def _cr(
        self,
        obj: Mapping[str, Any],
        deps: list[pulumi.Resource],
        args: KafkaArgs,
        name: str,
        *,
        protect: bool,
    ) -> k8s.apiextensions.CustomResource:
        meta = obj["metadata"]
        return custom_object(
            self,
            f"{name}-{obj['kind'].lower()}-{meta['namespace']}-{meta['name']}",
            obj,
            provider=args.provider,
            depends_on=deps,
            protect=protect,
        )

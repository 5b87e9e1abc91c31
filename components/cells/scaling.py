"""A queue-scaled cell's KEDA ScaledObject (keda.sh/v1alpha1), typed and checked against KEDA's CRD
in the tests: the `redis-streams` trigger on its consumer group's lag, through the platform's Redis
ClusterTriggerAuthentication (address, AUTH, TLS and CA), with the HPA behaviour every cell has.

KEDA ignores `streamLength` once a consumer group is set and scales to zero only on `lagCount`
(Redis 7 and later, as Memorystore runs): the trigger sets `consumerGroup`, `lagCount` and
`activationLagCount`, and KEDA owns the cell's HPA (no second one is made).
"""

from __future__ import annotations

from typing import Any, Literal

from components.kube.custom import Spec
from components.kube.keda import (
    API,
    Advanced,
    AuthenticationRef,
    Behavior,
    HpaConfig,
    ScaledObjectSpec,
    ScaleTargetRef,
    ScalingPolicy,
    ScalingRules,
    Trigger,
)
from stacks.config_cells import CellConfig

# Up at once (doubling, or 4 pods, a minute); down slowly, after 5 quiet minutes: as the HPA of every cell.
BEHAVIOR = Behavior(
    scale_up=ScalingRules(
        stabilization_window_seconds=0,
        select_policy="Max",
        policies=[
            ScalingPolicy(type="Percent", value=100, period_seconds=60),
            ScalingPolicy(type="Pods", value=4, period_seconds=60),
        ],
    ),
    scale_down=ScalingRules(
        stabilization_window_seconds=300,
        select_policy="Min",
        policies=[ScalingPolicy(type="Percent", value=50, period_seconds=60)],
    ),
)


def scaled_object(name: str, cell: CellConfig, auth: str) -> dict[str, Any]:
    queue = cell.queue
    if queue is None:
        raise ValueError(f"cells.{name}: no queue to scale on")
    trigger = Trigger(
        metadata={
            "stream": queue.stream,
            "consumerGroup": queue.consumer_group,
            "lagCount": str(queue.lag_per_replica),
            "activationLagCount": str(queue.activation_lag),
            "databaseIndex": str(queue.database),
        },
        authentication_ref=AuthenticationRef(name=auth),
    )
    spec = ScaledObjectSpec(
        scale_target_ref=ScaleTargetRef(name=name),
        min_replica_count=cell.replicas.min,
        max_replica_count=cell.replicas.max,
        advanced=Advanced(horizontal_pod_autoscaler_config=HpaConfig(behavior=BEHAVIOR)),
        triggers=[trigger],
    )
    return {
        "apiVersion": API,
        "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": cell.namespace},
        "spec": spec.dump(),
    }


class TargetRef(Spec):
    api_version: str
    kind: str
    name: str


class UpdatePolicy(Spec):
    # Recommendations only: the HPA owns the replica count, and a VPA that evicted pods to resize
    # them would fight it over the same CPU and memory signals.
    update_mode: Literal["Off"] = "Off"


class VpaSpec(Spec):
    target_ref: TargetRef
    update_policy: UpdatePolicy = UpdatePolicy()


def vertical_pod_autoscaler(name: str, namespace: str) -> dict[str, Any]:
    """The cell's VerticalPodAutoscaler (autoscaling.k8s.io/v1), in recommendation mode."""
    spec = VpaSpec(target_ref=TargetRef(api_version="apps/v1", kind="Deployment", name=name))
    return {
        "apiVersion": "autoscaling.k8s.io/v1",
        "kind": "VerticalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec.dump(),
    }

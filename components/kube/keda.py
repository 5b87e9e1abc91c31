"""KEDA's ScaledObject (keda.sh/v1alpha1) as the estate writes them: typed, checked against KEDA's
CRD in the tests. Each layer builds its triggers (the cells' Redis Streams lag, the model servers'
queues in Prometheus) on this one model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.kube.custom import Spec

API = "keda.sh/v1alpha1"


class ScaleTargetRef(Spec):
    name: str


class AuthenticationRef(Spec):
    name: str
    kind: Literal["ClusterTriggerAuthentication"] = "ClusterTriggerAuthentication"


class Trigger(Spec):
    type: Literal["redis-streams", "prometheus"] = "redis-streams"
    metadata: dict[str, str]  # KEDA's trigger metadata is a map of strings
    authentication_ref: AuthenticationRef | None = None  # Prometheus in the mesh: identity, no secret


class ScalingPolicy(Spec):
    type: Literal["Percent", "Pods"]
    value: int
    period_seconds: int


class ScalingRules(Spec):
    stabilization_window_seconds: int
    select_policy: Literal["Max", "Min"]
    policies: list[ScalingPolicy] = Field(min_length=1)


class Behavior(Spec):
    scale_up: ScalingRules
    scale_down: ScalingRules


class HpaConfig(Spec):
    behavior: Behavior


class Advanced(Spec):
    horizontal_pod_autoscaler_config: HpaConfig


class ScaledObjectSpec(Spec):
    scale_target_ref: ScaleTargetRef
    min_replica_count: int
    max_replica_count: int
    polling_interval: int = 15
    cooldown_period: int = 300  # a queue idle this long takes the cell to zero (when min is 0)
    advanced: Advanced
    triggers: list[Trigger] = Field(min_length=1)

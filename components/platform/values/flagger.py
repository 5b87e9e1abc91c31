"""Flagger chart values (flagger 1.44.0): the controller that releases the cells by canary (at the
ingress gateway, through Istio VirtualServices) and blue/green.

Hooks: none (no `helm.sh/hook`, `lookup` or generated secrets in its templates). CRDs: crds/ (the
chart's `crd.create` would render them a second time from templates/). The chart has no pod
security context and no switch for the pod's token: the container's security context is set whole
(`securityContext.context`), and the token is mounted explicitly (api_token) while the `no_api_token`
transform turns the automounted one off. In the ambient mesh by its pod's label: it reads
Prometheus, which admits it by identity.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pydantic import Field

from components.kube import api_token
from components.kube.values import (
    CONTAINER_SECURITY,
    SYSTEM_NODES,
    ChartContext,
    PinnedImage,
    Values,
    resources,
    tag_at_digest,
)

NAMESPACE = "flagger"
RELEASE = "flagger"  # its Deployment and service account (the chart's fullname)
UID = 10001  # the chart's runAsUser


class Image(Values):
    """templates/deployment.yaml prints `<repository>:<tag>`; `<tag>@<digest>` pulls by digest."""

    repository: str
    tag: str | pulumi.Output[str]
    pull_policy: str = "IfNotPresent"

    @classmethod
    def of(cls, pinned: PinnedImage) -> Image:
        return cls(repository=pinned.repository, tag=tag_at_digest(pinned))


class SecurityContext(Values):
    enabled: bool = True
    context: dict[str, Any] = Field(default_factory=lambda: {**CONTAINER_SECURITY, "runAsUser": UID, "runAsGroup": UID})


class LeaderElection(Values):
    enabled: bool
    replica_count: int


class Pdb(Values):
    enabled: bool
    min_available: int = 1


class FlaggerValues(Values):
    image: Image
    # Istio: canaries at the ingress gateway own a delegate VirtualService each.
    mesh_provider: str = "istio"
    metrics_server: str
    # Only `app`: the primary copies of a cell get `app: <cell>-primary`; the estate selects a cell's
    # pods by `estate.io/cell`, which Flagger copies as is.
    selector_labels: str = "app"
    security_context: SecurityContext = SecurityContext()
    leader_election: LeaderElection
    pod_disruption_budget: Pdb
    pod_labels: dict[str, str] = Field(default_factory=lambda: {"istio.io/dataplane-mode": "ambient"})
    resources: dict[str, Any] = Field(
        default_factory=lambda: resources("50m", "128Mi", cpu_limit="1", memory_limit="512Mi")
    )
    node_selector: dict[str, str] = SYSTEM_NODES
    additional_volumes: list[dict[str, Any]] = Field(default_factory=lambda: [api_token.volume()])
    additional_volume_mounts: list[dict[str, Any]] = Field(default_factory=lambda: [api_token.mount()])


def flagger_values(ctx: ChartContext, *, prometheus: str) -> FlaggerValues:
    """Prod: two replicas with leader election and a PodDisruptionBudget; dev: one."""
    return FlaggerValues(
        image=Image.of(ctx.images["flagger"]),
        metrics_server=prometheus,
        leader_election=LeaderElection(enabled=ctx.prod, replica_count=2 if ctx.prod else 1),
        pod_disruption_budget=Pdb(enabled=ctx.prod),
    )

"""`ai-estate:namespaces`: the application namespaces, a map keyed by name.

Every application namespace enforces the restricted Pod Security Standard, denies all traffic
by default and opens only what its entry says. Platform namespaces (the mesh, cert-manager,
...) are fixed in code with their reasons (components/platform/namespaces.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import Field

from stacks.base import Model, Name
from stacks.problem import Problem

Quantity = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$")]

_UNITS = {"": 1.0, "m": 1e-3, "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}


def quantity(text: str) -> float:
    """A Kubernetes quantity as a number (`250m` -> 0.25, `1Gi` -> 1073741824)."""
    for suffix in sorted(_UNITS, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            return float(text[: -len(suffix)]) * _UNITS[suffix]
    return float(text)


class Caller(Model):
    """A workload allowed to call into the namespace, by its Kubernetes service account."""

    namespace: Name
    service_account: Name


class Egress(Model):
    """What the namespace's pods may reach beyond DNS, the mesh and the metadata server."""

    cloud_sql: bool = Field(False, description="Cloud SQL over the Private Service Access range (Auth Proxy, 3307).")
    redis: bool = Field(False, description="Memorystore over the Private Service Access range (TLS, 6378).")
    google_apis: bool = Field(False, description="Google APIs over HTTPS (Cloud Storage, Secret Manager, ...).")


class Quota(Model):
    cpu: Quantity = "8"
    memory: Quantity = "32Gi"
    pods: int = Field(50, ge=1, le=10000)
    gpus: int = Field(0, ge=0, le=1000)


class ContainerDefaults(Model):
    """LimitRange defaults for containers that state no resources of their own."""

    cpu: Quantity = "250m"
    memory: Quantity = "256Mi"
    max_cpu: Quantity = "8"
    max_memory: Quantity = "64Gi"


class NamespaceConfig(Model):
    holds_data: bool = Field(False, description="Backup for GKE covers the namespace's volumes and objects.")
    mesh: Literal["ambient", "none"] = Field(
        "ambient",
        description="ambient: ztunnel carries the namespace's traffic with mTLS; none: out of the mesh, for "
        "servers that encrypt and authenticate every connection themselves (Kafka's mutual TLS).",
    )
    ingress: bool = Field(False, description="The ingress gateway may call in (the namespace serves public hosts).")
    callers: dict[Name, Caller] = Field({}, description="Workloads in the mesh that may call in, keyed by a name.")
    egress: Egress = Egress()
    quota: Quota = Quota()
    container_defaults: ContainerDefaults = ContainerDefaults()


NamespacesConfig = dict[Name, NamespaceConfig]


# ---------------------------------------------------------------- names an application namespace may not take
# Namespaces Kubernetes itself creates and owns.
KUBERNETES_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
# Prefixes GKE keeps for its own namespaces: gke-* (gke-managed-system, gke-gmp-system, ...) and
# Google Cloud Managed Service for Prometheus' gmp-* (gmp-system, gmp-public).
GKE_PREFIXES = {"gke-": "GKE creates its own namespaces under gke-*", "gmp-": "GKE's managed Prometheus uses gmp-*"}
# The platform's own namespaces, created by components/platform/namespaces.py with their Pod
# Security levels (PLATFORM_NAMESPACES there; a test keeps the two equal). The list lives here too
# because stacks/ may not import components/ (the components import stacks/).
PLATFORM_NAMESPACES = (
    "istio-system",
    "istio-ingress",
    "cert-manager",
    "external-secrets",
    "cosign-system",
    "keda",
    "flagger",
)
_INSTEAD = "give the application namespace a name of its own, e.g. after its team or workload ('apps', 'inference')"


def reserved(name: str) -> str | None:
    """Why `name` cannot be an application namespace, or None when it can."""
    if name in KUBERNETES_NAMESPACES:
        return f"reserved: Kubernetes creates and owns the {name!r} namespace"
    if name in PLATFORM_NAMESPACES:
        return (
            f"reserved: {name!r} is a platform namespace the estate creates itself "
            "(components/platform/namespaces.py); a second Namespace of that name would have the same URN"
        )
    for prefix, why in GKE_PREFIXES.items():
        if name.startswith(prefix):
            return f"reserved: {why}"
    return None


def check(namespaces: Mapping[str, NamespaceConfig]) -> list[Problem]:
    """Application namespaces named like a Kubernetes, GKE or platform namespace, each naming its key."""
    return [
        Problem(f"namespaces.{name}", name, f"{why}; {_INSTEAD}")
        for name in namespaces
        if (why := reserved(name)) is not None
    ]

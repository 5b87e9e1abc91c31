"""Small helpers every component shares: labels and child options."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi

BASE_LABELS = {"app": "ai-estate", "managed-by": "pulumi"}


def labels(environment: str, component: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """GCP labels for one component; every labelled resource carries environment and component."""
    return {**BASE_LABELS, "environment": environment, "component": component, **(extra or {})}


def child(
    parent: pulumi.Resource, *, depends_on: Sequence[pulumi.Resource] = (), protect: bool = False, **kwargs: object
) -> pulumi.ResourceOptions:
    """Options for a component's child: parented, with the component's explicit ordering."""
    return pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on), protect=protect, **kwargs)  # type: ignore[arg-type]


# Every Kubernetes object the program registers carries these (charts label their own objects).
K8S_LABELS = {"app.kubernetes.io/part-of": "ai-estate", "app.kubernetes.io/managed-by": "pulumi"}


# Which kind of namespace this is: platform, application, or sandbox (the pack reads it).
NAMESPACE_CLASS = "estate.io/class"


def pod_security(level: str) -> dict[str, str]:
    """A namespace's Pod Security labels: `level` enforced, audited and warned, at the latest version."""
    return {f"pod-security.kubernetes.io/{mode}": level for mode in ("enforce", "audit", "warn")} | {
        "pod-security.kubernetes.io/enforce-version": "latest"
    }

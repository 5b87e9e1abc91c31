"""Where the pod spec lives in each pod-bearing Kubernetes kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from estate_policies.common import get, items

_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
POD_KINDS = frozenset(_SPEC_PATHS)
LONG_RUNNING = frozenset(POD_KINDS - {"kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob"})


def is_pod_kind(type_: str) -> bool:
    return type_ in POD_KINDS


def pod_spec(type_: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = get(props, *_SPEC_PATHS[type_], default={})
    return spec if isinstance(spec, Mapping) else {}


def containers(spec: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Every container with a label for messages: init, sidecar (restartPolicy Always) and main."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    for c in items(spec.get("initContainers")):
        kind = "sidecar" if c.get("restartPolicy") == "Always" else "init container"
        out.append((f"{kind} {c.get('name', '?')!r}", c))
    for c in items(spec.get("ephemeralContainers")):
        out.append((f"ephemeral container {c.get('name', '?')!r}", c))
    out += [(f"container {c.get('name', '?')!r}", c) for c in items(spec.get("containers"))]
    return out


def long_running_containers(spec: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Main containers and native sidecars: what keeps running and so needs probes."""
    return [(label, c) for label, c in containers(spec) if label.startswith(("container", "sidecar"))]

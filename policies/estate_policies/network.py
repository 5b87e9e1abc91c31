"""Every application namespace starts closed: a default-deny NetworkPolicy and Istio's allow-nothing policy.

Explicit allows are added on top of these; without the deny-by-default base any workload that
no allow names is reachable. Objects rendered by Helm charts count like the program's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity

from estate_policies.common import (
    NAMESPACE,
    SYSTEM_NAMESPACES_SCHEMA,
    app_namespaces,
    get,
    items,
    namespace_of,
    rules,
    stack_policy,
)
from estate_policies.mesh import MESH_ROOT, mesh_absent

NSA = "NSA/CISA Kubernetes Hardening Guidance"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
AUTHZ = (
    "kubernetes:security.istio.io/v1:AuthorizationPolicy",
    "kubernetes:security.istio.io/v1beta1:AuthorizationPolicy",
)
DIRECTIONS = {"Ingress": "ingress", "Egress": "egress"}


def _namespaces_absent(resources: list[PolicyResource]) -> str | None:
    return None if any(r.resource_type == NAMESPACE for r in resources) else "no Namespace in the plan yet"


def _denies(props: Mapping[str, Any]) -> set[str]:
    """The directions a NetworkPolicy closes for every pod of its namespace."""
    selector = get(props, "spec", "podSelector", default={}) or {}
    if selector.get("matchLabels") or selector.get("matchExpressions"):
        return set()
    spec = props.get("spec") or {}
    # Kubernetes' defaults: Ingress always, Egress only when egress rules are given.
    types = items(spec.get("policyTypes")) or ["Ingress", *(["Egress"] if spec.get("egress") else [])]
    return {d for d in types if d in DIRECTIONS and not items(spec.get(DIRECTIONS[d]))}


def _default_deny(resources: list[PolicyResource], config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    closed: dict[str, set[str]] = {}
    for r in resources:
        if r.resource_type == NETWORK_POLICY:
            closed.setdefault(namespace_of(r.props), set()).update(_denies(r.props))
    for name, ns in app_namespaces(resources, config).items():
        missing = [d for d in DIRECTIONS if d not in closed.get(name, set())]
        if missing:
            yield (
                f"namespace {name!r} has no default-deny NetworkPolicy for {' and '.join(missing)} "
                "(podSelector {}, policyTypes listing it, no rules)",
                ns.urn,
            )


def _allow_nothing(props: Mapping[str, Any]) -> bool:
    spec = props.get("spec") or {}
    return (
        spec.get("action", "ALLOW") == "ALLOW"
        and not items(spec.get("rules"))
        and not spec.get("selector")
        and not spec.get("targetRef")
        and not items(spec.get("targetRefs"))
    )


def _authz(resources: list[PolicyResource], config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    closed = {namespace_of(r.props) for r in resources if r.resource_type in AUTHZ and _allow_nothing(r.props)}
    # An allow-nothing policy in the mesh root namespace applies to every namespace.
    if config.get("meshRootNamespace", MESH_ROOT) in closed:
        return
    for name, ns in app_namespaces(resources, config).items():
        if name not in closed:
            yield f"namespace {name!r} has no allow-nothing AuthorizationPolicy (spec: {{}})", ns.urn


_r = rules("estate-network-")

POLICIES = [
    stack_policy(
        _r(
            "default-deny",
            "Every application namespace has a default-deny NetworkPolicy for ingress and egress.",
            Severity.HIGH,
            f"{NSA}: network separation (default-deny policies)",
            "Add a NetworkPolicy with podSelector: {}, policyTypes: [Ingress, Egress] and no rules in the namespace, "
            "then explicit allows (DNS, the mesh control plane, private data ranges, the metadata server).",
            config={"systemNamespaces": SYSTEM_NAMESPACES_SCHEMA},
        ),
        _namespaces_absent,
        _default_deny,
    ),
    stack_policy(
        _r(
            "authz-default-deny",
            "Every application namespace has a deny-by-default Istio AuthorizationPolicy.",
            Severity.HIGH,
            "Istio security best practices: default-deny authorization",
            "Add an AuthorizationPolicy with an empty spec (allow nothing) in the namespace, or once in the mesh root "
            "namespace, then ALLOW policies per caller.",
            config={
                "systemNamespaces": SYSTEM_NAMESPACES_SCHEMA,
                "meshRootNamespace": {"type": "string", "default": MESH_ROOT},
            },
        ),
        mesh_absent,
        _authz,
    ),
]

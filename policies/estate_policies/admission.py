"""Runtime guardrails: pods that Pulumi does not create (jobs, canary copies, `kubectl run`) never
reach this pack, so the cluster must refuse the failing ones itself. A stack rule: a
ValidatingAdmissionPolicy on pods, failing closed, bound so that every application namespace is
covered and at least one binding denies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity

from estate_policies.common import SYSTEM_NAMESPACES_SCHEMA, app_namespaces, get, items, rules, stack_policy

POLICY = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
NAME_LABEL = "kubernetes.io/metadata.name"


def _absent(resources: list[PolicyResource]) -> str | None:
    if any(r.resource_type == "kubernetes:core/v1:Namespace" for r in resources):
        return None
    return "no Kubernetes namespaces in the plan yet"


def _matches_pods(props: Mapping[str, Any]) -> bool:
    for rule in items(get(props, "spec", "matchConstraints", "resourceRules")):
        if "pods" in (rule.get("resources") or []) and "" in (rule.get("apiGroups") or []):
            ops = rule.get("operations") or []
            if "CREATE" in ops or "*" in ops:
                return True
    return False


def _selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A label selector against a namespace's labels (an absent selector selects every namespace)."""
    if not selector:
        return True
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for req in items(selector.get("matchExpressions")):
        key, op, values = req.get("key"), req.get("operator"), req.get("values") or []
        present = key in labels
        if (
            (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and present and labels.get(key) in values)
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def _guardrails(resources: list[PolicyResource], config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    policies: dict[str, PolicyResource] = {}
    for r in resources:
        if r.resource_type != POLICY:
            continue
        name = str(get(r.props, "metadata", "name", default=""))
        if not _matches_pods(r.props):
            continue
        if get(r.props, "spec", "failurePolicy", default="Fail") != "Fail":
            yield f"ValidatingAdmissionPolicy {name!r} fails open (failurePolicy Ignore)", r.urn
            continue
        if not items(get(r.props, "spec", "validations")):
            yield f"ValidatingAdmissionPolicy {name!r} validates nothing", r.urn
            continue
        policies[name] = r
    bindings = [r for r in resources if r.resource_type == BINDING and get(r.props, "spec", "policyName") in policies]
    if not policies or not bindings:
        yield "no ValidatingAdmissionPolicy on pods, failing closed and bound, in the plan", None
        return
    if not any("Deny" in (get(b.props, "spec", "validationActions") or []) for b in bindings):
        yield "no binding of the pod guardrails denies (validationActions without Deny)", None
    uncovered = []
    for name, ns in app_namespaces(resources, config).items():
        labels = {**(get(ns.props, "metadata", "labels") or {}), NAME_LABEL: name}
        if not any(_selects(get(b.props, "spec", "matchResources", "namespaceSelector"), labels) for b in bindings):
            uncovered.append(name)
    if uncovered:
        yield f"application namespaces no binding of the pod guardrails covers: {uncovered}", None


SANDBOX_CLASS = ("estate.io/class", "sandbox")
NODE_POOL = "gcp:container/nodePool:NodePool"


def _sandboxes(resources: list[PolicyResource]) -> dict[str, PolicyResource]:
    return {
        str(get(r.props, "metadata", "name")): r
        for r in resources
        if r.resource_type == "kubernetes:core/v1:Namespace"
        and (get(r.props, "metadata", "labels") or {}).get(SANDBOX_CLASS[0]) == SANDBOX_CLASS[1]
    }


def _no_sandbox(resources: list[PolicyResource]) -> str | None:
    return None if _sandboxes(resources) else "no sandbox namespace (estate.io/class: sandbox) in the plan"


def _gvisor(pool: PolicyResource) -> bool:
    sandbox = get(pool.props, "nodeConfig", "sandboxConfig") or {}
    return str(sandbox.get("type", "")).upper() == "GVISOR" or str(sandbox.get("sandboxType", "")).lower() == "gvisor"


def _sandbox(resources: list[PolicyResource], _config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    if not any(r.resource_type == NODE_POOL and _gvisor(r) for r in resources):
        yield "no GKE Sandbox (gVisor) node pool in the plan for the sandbox namespace's pods", None
    policies = {
        str(get(r.props, "metadata", "name")): r
        for r in resources
        if r.resource_type == POLICY
        and any("runtimeClassName" in str(v.get("expression", "")) for v in items(get(r.props, "spec", "validations")))
        and get(r.props, "spec", "failurePolicy", default="Fail") == "Fail"
    }
    bindings = [
        b
        for b in resources
        if b.resource_type == BINDING
        and get(b.props, "spec", "policyName") in policies
        and "Deny" in (get(b.props, "spec", "validationActions") or [])
    ]
    for name, ns in _sandboxes(resources).items():
        labels = {**(get(ns.props, "metadata", "labels") or {}), NAME_LABEL: name}
        if not any(_selects(get(b.props, "spec", "matchResources", "namespaceSelector"), labels) for b in bindings):
            yield (
                f"sandbox namespace {name!r}: no admission policy requiring the gVisor runtime bound to it with Deny",
                ns.urn,
            )


_r = rules("estate-workloads-")

POLICIES = [
    stack_policy(
        _r(
            "admission-guardrails",
            "The cluster itself refuses failing pods in every application namespace.",
            Severity.HIGH,
            "Kubernetes ValidatingAdmissionPolicy (GA 1.30); NSA/CISA Kubernetes Hardening Guidance: admission control",
            "Create a ValidatingAdmissionPolicy on pods (CREATE) with failurePolicy Fail and validations, and "
            "bindings whose namespaceSelector covers every application namespace, one of them with Deny.",
            config={"systemNamespaces": SYSTEM_NAMESPACES_SCHEMA},
        ),
        _absent,
        _guardrails,
    ),
    stack_policy(
        _r(
            "sandbox",
            "Generated code runs on GKE Sandbox (gVisor) nodes, held there by an admission policy.",
            Severity.HIGH,
            "GKE Sandbox (gVisor); seed 001: generated code in an isolated sandbox",
            "Add a node pool with sandboxConfig type GVISOR, and a ValidatingAdmissionPolicy requiring "
            "runtimeClassName gvisor (failurePolicy Fail) bound with Deny to each sandbox namespace.",
        ),
        _no_sandbox,
        _sandbox,
    ),
]

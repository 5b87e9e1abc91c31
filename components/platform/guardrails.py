"""Admission guardrails: the cluster refuses, in every application namespace, pods whose containers
(init containers and native sidecars included) lack the restricted security context or CPU and
memory limits, or run an image that is not from the estate's registry by digest.

CrossGuard sees only what Pulumi registers; pods made at run time (agent jobs, a canary's copies,
`kubectl run`) never pass through it. Kubernetes' ValidatingAdmissionPolicy (CEL, GA since 1.30)
checks them all in the API server, with no webhook to run. Pod Security "restricted" already holds
these namespaces to most of the security context; the policy states it again so the pods' limits
and images are refused in the same place with one message per rule.

The CEL is plain data (`variables`, `validations`), tested by evaluating it against pods; GKE's
own injected container (the Cloud Storage FUSE sidecar) is the one named exception for images and
limits: GKE injects it with its own image, and its resources come from pod annotations.

Two bindings: Deny where every pod is the estate's own or made from a spec the gate checks (cells,
inference, jobs), and Warn + Audit where operators make pods from their own templates (Strimzi's
brokers, the Prometheus Operator's servers, Harbor's chart), whose containers no gate here has
seen: each would-be refusal shows as a warning and an audit annotation until a live cluster shows
none, and then the namespace moves to Deny (`guarded_namespaces`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kube import admission

adm, meta = k8s.admissionregistration.v1, k8s.meta.v1

NAME = "estate-pod-guardrails"
# GKE's Cloud Storage FUSE CSI driver injects this container into pods that mount a bucket.
GKE_INJECTED = ("gke-gcsfuse-sidecar",)

_SECURE = (
    "has(c.securityContext)"
    " && has(c.securityContext.allowPrivilegeEscalation) && c.securityContext.allowPrivilegeEscalation == false"
    " && has(c.securityContext.capabilities) && has(c.securityContext.capabilities.drop)"
    " && 'ALL' in c.securityContext.capabilities.drop"
    " && (!has(c.securityContext.privileged) || c.securityContext.privileged == false)"
    " && ((has(c.securityContext.runAsNonRoot) && c.securityContext.runAsNonRoot == true) || variables.podNonRoot)"
    " && ((has(c.securityContext.seccompProfile)"
    " && c.securityContext.seccompProfile.type in ['RuntimeDefault', 'Localhost']) || variables.podSeccomp)"
)
_LIMITED = (
    "has(c.resources) && has(c.resources.limits) && 'cpu' in c.resources.limits && 'memory' in c.resources.limits"
)
_POD_SC = "has(object.spec.securityContext)"


def variables(registries: Sequence[str]) -> dict[str, str]:
    """Name -> CEL, in the order the API server evaluates them (later ones may use earlier ones)."""
    prefixes = ", ".join(f"'{r.rstrip('/')}/'" for r in registries)
    exempt = ", ".join(f"'{n}'" for n in GKE_INJECTED)
    return {
        "containers": "object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])",
        "podNonRoot": f"{_POD_SC} && has(object.spec.securityContext.runAsNonRoot)"
        " && object.spec.securityContext.runAsNonRoot == true",
        "podSeccomp": f"{_POD_SC} && has(object.spec.securityContext.seccompProfile)"
        " && object.spec.securityContext.seccompProfile.type in ['RuntimeDefault', 'Localhost']",
        "ours": f"variables.containers.filter(c, !(c.name in [{exempt}]))",
        "insecure": f"variables.containers.filter(c, !({_SECURE})).map(c, c.name)",
        "unlimited": f"variables.ours.filter(c, !({_LIMITED})).map(c, c.name)",
        "foreign": f"variables.ours.filter(c, !(c.image.contains('@sha256:') && [{prefixes}]"
        ".exists(p, c.image.startsWith(p)))).map(c, c.name)",
    }


@dataclass(frozen=True)
class Check:
    variable: str  # a list of container names; the pod passes when it is empty
    message: str
    reason: str = "Forbidden"


CHECKS = (
    Check(
        "insecure",
        "containers without the restricted security context (non-root, no privilege escalation, "
        "capabilities drop ALL, RuntimeDefault seccomp): ",
    ),
    Check("unlimited", "containers without CPU and memory limits: "),
    Check(
        "foreign", "containers whose image is not from the estate's registry by digest (<registry>/...@sha256:...): "
    ),
)


def validations() -> list[tuple[str, str]]:
    """(expression, messageExpression) per check."""
    return [
        # A CEL string literal the way JSON writes one (the messages hold apostrophes).
        (f"size(variables.{c.variable}) == 0", f"{json.dumps(c.message)} + variables.{c.variable}.join(', ')")
        for c in CHECKS
    ]


@dataclass(frozen=True)
class GuardrailsArgs:
    registries: Sequence[str]  # image prefixes allowed (the estate's Artifact Registry host)
    enforced: Sequence[str]  # namespaces where a failing pod is refused
    audited: Sequence[str]  # namespaces where it is warned about and audited
    provider: pulumi.ProviderResource
    depends_on: Sequence[pulumi.Resource] = ()


class Guardrails(pulumi.ComponentResource):
    policy: str

    def __init__(self, name: str, args: GuardrailsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:platform:Guardrails", name, None, opts)
        created = admission.policy(
            self,
            f"{name}-policy",
            NAME,
            [admission.rule("", "pods")],
            variables(args.registries),
            [
                adm.ValidationArgs(expression=e, message_expression=m, reason=c.reason)
                for (e, m), c in zip(validations(), CHECKS, strict=True)
            ],
            args.provider,
            args.depends_on,
        )
        for suffix, actions, namespaces in (("", ["Deny"], args.enforced), ("-audit", ["Warn", "Audit"], args.audited)):
            if namespaces:
                admission.binding(
                    self,
                    f"{name}-binding{suffix}",
                    f"{NAME}{suffix}",
                    NAME,
                    actions,
                    namespaces,
                    args.provider,
                    after=created,
                )
        self.policy = NAME
        self.register_outputs({"policy": self.policy})

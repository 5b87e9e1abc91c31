"""The sandbox for generated code (seed 001): a namespace on GKE Sandbox (gVisor) nodes where the
orchestrator starts Jobs and reads their results, and nothing else happens.

- Out of the mesh (ambient does not work with gVisor), so no AuthorizationPolicy holds it: a
  default-deny NetworkPolicy for ingress and **all** egress (not even DNS), with no allow.
- Pod Security restricted; no Workload Identity, no Secret synced, the default service account's
  token off; a ResourceQuota and a LimitRange on CPU, memory and ephemeral storage.
- The orchestrator's Role: create and read Jobs, read pods and their logs; nothing else.
- A ValidatingAdmissionPolicy (components.inference.sandbox_policy) refuses what the pods made at
  run time could otherwise bring in: another runtime than gVisor, a token, a Secret, no limits,
  no time limit. The platform's guardrails hold the images and security contexts too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common import K8S_LABELS, NAMESPACE_CLASS, child, pod_security
from components.inference import sandbox_policy
from components.kube import admission
from components.kube.netpol import network_policies
from components.kube.pods import quota
from stacks.config_sandbox import SandboxConfig

core, meta, rbac, adm = k8s.core.v1, k8s.meta.v1, k8s.rbac.v1, k8s.admissionregistration.v1

POLICY = "estate-sandbox"


@dataclass(frozen=True)
class SandboxArgs:
    config: SandboxConfig
    orchestrator: tuple[str, str]  # the orchestrator cell's (namespace, service account)
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource]  # the cluster's nodes (the sandbox pool among them)


class Sandbox(pulumi.ComponentResource):
    namespace: str

    def __init__(self, name: str, args: SandboxArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:inference:Sandbox", name, None, opts)
        cfg = args.config
        ns = cfg.namespace
        labels = {
            **K8S_LABELS,
            **pod_security("restricted"),
            NAMESPACE_CLASS: "sandbox",
            "istio.io/dataplane-mode": "none",  # gVisor pods cannot join the ambient mesh
            "policy.sigstore.dev/include": "true",
        }
        namespace = core.Namespace(
            f"{name}-namespace",
            core.NamespaceInitArgs(metadata=meta.ObjectMetaArgs(name=ns, labels=labels)),
            opts=child(self, provider=args.provider, depends_on=list(args.depends_on)),
        )
        opts_ = child(self, provider=args.provider, depends_on=[namespace])
        # Default-deny both ways and nothing allowed: generated code reaches nothing, not even DNS.
        network_policies(self, f"{name}-netpol", ns, [], provider=args.provider, depends_on=[namespace])
        q, lim = cfg.quota, cfg.limits
        core.ResourceQuota(
            f"{name}-quota",
            core.ResourceQuotaInitArgs(
                metadata=meta.ObjectMetaArgs(name="sandbox", namespace=ns, labels=K8S_LABELS),
                spec=core.ResourceQuotaSpecArgs(
                    hard={
                        **quota(q.pods, cpu=q.cpu, memory=q.memory, ephemeral_storage=q.ephemeral_storage),
                        "count/jobs.batch": str(q.jobs),
                    }
                ),
            ),
            opts=opts_,
        )
        core.LimitRange(
            f"{name}-limits",
            core.LimitRangeInitArgs(
                metadata=meta.ObjectMetaArgs(name="sandbox", namespace=ns, labels=K8S_LABELS),
                spec=core.LimitRangeSpecArgs(
                    limits=[
                        core.LimitRangeItemArgs(
                            type="Container",
                            default={"cpu": lim.cpu, "memory": lim.memory, "ephemeral-storage": lim.ephemeral_storage},
                            default_request={
                                "cpu": lim.cpu,
                                "memory": lim.memory,
                                "ephemeral-storage": lim.ephemeral_storage,
                            },
                            max={
                                "cpu": lim.max_cpu,
                                "memory": lim.max_memory,
                                "ephemeral-storage": lim.max_ephemeral_storage,
                            },
                        )
                    ]
                ),
            ),
            opts=opts_,
        )
        # The namespace's default account mounts no token (the policy refuses pods that do anyway).
        core.ServiceAccountPatch(
            f"{name}-default-account",
            core.ServiceAccountPatchArgs(
                metadata=meta.ObjectMetaPatchArgs(name="default", namespace=ns, labels=K8S_LABELS),
                automount_service_account_token=False,
            ),
            opts=opts_,
        )
        role = rbac.Role(
            f"{name}-orchestrator-role",
            rbac.RoleInitArgs(
                metadata=meta.ObjectMetaArgs(name="orchestrator", namespace=ns, labels=K8S_LABELS),
                rules=[
                    rbac.PolicyRuleArgs(
                        api_groups=["batch"], resources=["jobs"], verbs=["create", "get", "list", "watch"]
                    ),
                    rbac.PolicyRuleArgs(
                        api_groups=[""], resources=["pods", "pods/log"], verbs=["get", "list", "watch"]
                    ),
                ],
            ),
            opts=opts_,
        )
        rbac.RoleBinding(
            f"{name}-orchestrator-binding",
            rbac.RoleBindingInitArgs(
                metadata=meta.ObjectMetaArgs(name="orchestrator", namespace=ns, labels=K8S_LABELS),
                role_ref=rbac.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name="orchestrator"),
                subjects=[
                    rbac.SubjectArgs(kind="ServiceAccount", name=args.orchestrator[1], namespace=args.orchestrator[0])
                ],
            ),
            opts=child(self, provider=args.provider, depends_on=[role]),
        )
        self._admission(name, ns, cfg.max_deadline_seconds, args.provider)
        self.namespace = ns
        self.register_outputs({"namespace": ns})

    def _admission(self, name: str, ns: str, max_deadline: int, provider: k8s.Provider) -> None:
        created = admission.policy(
            self,
            f"{name}-policy",
            POLICY,
            [admission.rule("", "pods"), admission.rule("batch", "jobs")],
            sandbox_policy.variables(),
            [
                adm.ValidationArgs(expression=e, message=m, reason="Forbidden")
                for e, m in sandbox_policy.checks(max_deadline)
            ],
            provider,
        )
        admission.binding(self, f"{name}-policy-binding", POLICY, POLICY, ["Deny"], [ns], provider, after=created)

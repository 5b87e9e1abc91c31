"""ValidatingAdmissionPolicies (CEL in the API server, GA since Kubernetes 1.30) and their bindings,
the way every layer writes them: failing closed, bound by namespace name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.common import K8S_LABELS, child
from components.kube.netpol import NAME_LABEL

adm, meta = k8s.admissionregistration.v1, k8s.meta.v1


def rule(group: str, resource: str) -> adm.NamedRuleWithOperationsArgs:
    """Creation and update of `resource` (v1 of `group`; "" is the core group)."""
    return adm.NamedRuleWithOperationsArgs(
        api_groups=[group], api_versions=["v1"], operations=["CREATE", "UPDATE"], resources=[resource]
    )


def policy(
    parent: pulumi.Resource,
    name: str,
    policy_name: str,
    rules: Sequence[adm.NamedRuleWithOperationsArgs],
    variables: Mapping[str, str],
    validations: Sequence[adm.ValidationArgs],
    provider: pulumi.ProviderResource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> adm.ValidatingAdmissionPolicy:
    return adm.ValidatingAdmissionPolicy(
        name,
        adm.ValidatingAdmissionPolicyInitArgs(
            metadata=meta.ObjectMetaArgs(name=policy_name, labels=K8S_LABELS),
            spec=adm.ValidatingAdmissionPolicySpecArgs(
                # An expression that cannot be evaluated refuses the object rather than letting it through.
                failure_policy="Fail",
                match_constraints=adm.MatchResourcesArgs(resource_rules=list(rules)),
                variables=[adm.VariableArgs(name=n, expression=e) for n, e in variables.items()],
                validations=list(validations),
            ),
        ),
        opts=child(parent, provider=provider, depends_on=depends_on),
    )


def binding(
    parent: pulumi.Resource,
    name: str,
    binding_name: str,
    policy_name: str,
    actions: Sequence[str],
    namespaces: Sequence[str],
    provider: pulumi.ProviderResource,
    after: pulumi.Resource,
) -> adm.ValidatingAdmissionPolicyBinding:
    """The policy applied in `namespaces` (by name) with `actions` (Deny, or Warn and Audit)."""
    return adm.ValidatingAdmissionPolicyBinding(
        name,
        adm.ValidatingAdmissionPolicyBindingInitArgs(
            metadata=meta.ObjectMetaArgs(name=binding_name, labels=K8S_LABELS),
            spec=adm.ValidatingAdmissionPolicyBindingSpecArgs(
                policy_name=policy_name,
                validation_actions=list(actions),
                match_resources=adm.MatchResourcesArgs(
                    namespace_selector=meta.LabelSelectorArgs(
                        match_expressions=[
                            meta.LabelSelectorRequirementArgs(key=NAME_LABEL, operator="In", values=sorted(namespaces))
                        ]
                    )
                ),
            ),
        ),
        opts=child(parent, provider=provider, depends_on=[after]),
    )

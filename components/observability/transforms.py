"""Order inside the kube-prometheus-stack chart: its own PrometheusRules go through the operator's
admission webhook (`failurePolicy: Fail`), so each waits for the operator's Deployment and for both
webhook configurations (which wait for their injected CA, components.kube.webhooks); created
earlier, a rule would be refused while the webhook cannot answer yet."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pulumi

from components.observability.values_kps import FULLNAME

DEPENDS_ON = "config.kubernetes.io/depends-on"
VALIDATED = frozenset(
    f"kubernetes:monitoring.coreos.com/{v}:{k}"
    for v, k in (("v1", "PrometheusRule"), ("v1alpha1", "AlertmanagerConfig"), ("v1beta1", "AlertmanagerConfig"))
)


def after_admission(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(obj))
    meta = out.setdefault("metadata", {})
    ns = meta.get("namespace") or "default"
    needs = [
        f"apps/namespaces/{ns}/Deployment/{FULLNAME}-operator",
        f"admissionregistration.k8s.io/ValidatingWebhookConfiguration/{FULLNAME}-admission",
        f"admissionregistration.k8s.io/MutatingWebhookConfiguration/{FULLNAME}-admission",
    ]
    meta["annotations"] = {**(meta.get("annotations") or {}), DEPENDS_ON: ",".join(needs)}
    return out


def rules_after_admission(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Pulumi transform: `after_admission` on each object the operator's webhook validates."""
    if args.type_ not in VALIDATED:
        return None
    return pulumi.ResourceTransformResult(props=after_admission(args.props), opts=args.opts)

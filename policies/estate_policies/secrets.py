"""Secret material reaches Kubernetes only through External Secrets, never in a Secret the program writes.

Chart-rendered Secrets are held to the same rule: an operator chart may render an empty Secret
that its controller fills at runtime (webhook certificates), which passes; a chart that renders
secret values into the manifest is flagged like the program would be.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from estate_policies.charts import HELM
from estate_policies.common import exemption, k8s_identity, rules, urn_type

SECRET = "kubernetes:core/v1:Secret"


def _filled(value: Any) -> list[str]:
    """The keys of `data`/`stringData` that hold a value (a whole secret-wrapped map counts as one)."""
    if isinstance(value, Mapping):
        return sorted(str(k) for k, v in value.items() if v not in (None, ""))
    return ["(a secret value)"] if value not in (None, "", []) else []


def _material(props: Mapping[str, Any], rendered_by: str | None) -> Iterable[str]:
    source = f"rendered by chart {rendered_by}" if rendered_by else "registered by the program"
    for field in ("data", "stringData"):
        keys = _filled(props.get(field))
        if keys:
            yield f"Secret {k8s_identity(props)} {source} holds {field} {keys}; deliver it with an ExternalSecret"


_r = rules("estate-secrets-")
_RULE = _r(
    "external-only",
    "No Kubernetes Secret holds secret material; it arrives through External Secrets.",
    Severity.HIGH,
    "CIS Kubernetes Benchmark: 5.4.2 (external secret storage); NSA/CISA Kubernetes Hardening Guidance: secrets",
    "Keep the value in Secret Manager and create an ExternalSecret (ClusterSecretStore for Google Secret Manager); "
    "a Secret without data or stringData (one a controller fills) is fine.",
)


def _validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != SECRET:
        return
    config = args.get_config() or {}
    reason = exemption(config, args.name, args.props)
    if reason:
        args.not_applicable(reason)
    parent = args.opts.parent if args.opts else None
    chart = parent.rsplit("::", 1)[-1] if urn_type(parent) in HELM and parent else None
    for message in _material(args.props, chart):
        report(message, None)


POLICIES = [ResourceValidationPolicy(validate=_validate, **_RULE.metadata())]

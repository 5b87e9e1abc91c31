"""Kubernetes RBAC: no wildcard grants, no cluster-admin bindings, nothing granted to anonymous users.

Wildcards some operators truly need are allowed by `allowedWildcards`, not by an exemption: each
entry names the Role/ClusterRole (namespace/name, or name for cluster-scoped objects; globs),
which fields may carry "*" (an operator that needs every resource of its own API group never
needs every verb on every group), and the reason. The rest of the role stays checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from estate_policies.common import (
    EXEMPT_PREFIX,
    Rule,
    exemption,
    get,
    items,
    matching,
    of_types,
    resource_policy,
    rules,
)

CIS_K8S = "CIS Kubernetes Benchmark"
RBAC = "kubernetes:rbac.authorization.k8s.io/v1"
ROLES = (f"{RBAC}:Role", f"{RBAC}:ClusterRole")
BINDINGS = (f"{RBAC}:RoleBinding", f"{RBAC}:ClusterRoleBinding")
FIELDS = ("apiGroups", "resources", "verbs", "nonResourceURLs")
AGGREGATE_TO = ("admin", "edit", "view")
# GKE puts every Google account in system:authenticated, so it is as public as the other two.
PUBLIC_SUBJECTS = {("User", "system:anonymous"), ("Group", "system:unauthenticated"), ("Group", "system:authenticated")}

ALLOWED_WILDCARDS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "Roles allowed a wildcard, each with the fields it may appear in and the reason.",
    "items": {
        "type": "object",
        "properties": {
            "resource": {"type": "string", "minLength": 1},
            "fields": {"type": "array", "items": {"enum": list(FIELDS)}, "minItems": 1, "uniqueItems": True},
            "reason": {"type": "string", "minLength": 10},
        },
        "required": ["resource", "fields", "reason"],
        "additionalProperties": False,
    },
    "default": [],
}


def _wildcards(props: Mapping[str, Any]) -> list[tuple[int, str]]:
    """(rule index, field) for every "*" in the role's rules."""
    return [(i, f) for i, rule in enumerate(items(props.get("rules"))) for f in FIELDS if "*" in items(rule.get(f))]


def _aggregation(props: Mapping[str, Any]) -> Iterable[str]:
    selectors = items(get(props, "aggregationRule", "clusterRoleSelectors"))
    for selector in selectors:
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            yield "aggregationRule has an empty clusterRoleSelector: it aggregates every ClusterRole (cluster-admin)"


def _validate_roles(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in ROLES:
        return
    config = args.get_config() or {}
    reason = exemption(config, args.name, args.props)
    if reason:
        args.not_applicable(reason)
    messages = list(_aggregation(args.props))
    allowance = matching(config.get("allowedWildcards", []) or [], args.name, args.props)
    labels = get(args.props, "metadata", "labels", default={}) or {}
    spreads = [r for r in AGGREGATE_TO if labels.get(f"rbac.authorization.k8s.io/aggregate-to-{r}") == "true"]
    # An allowance is for the operator's own role, never for what every namespace admin inherits.
    allowed = set(allowance["fields"]) if allowance and not spreads else set()
    found = _wildcards(args.props)
    into = f"; it aggregates into the built-in {spreads} roles" if spreads else ""
    messages += [f"rules[{i}].{f} contains '*'{into}; list what the role needs" for i, f in found if f not in allowed]
    for message in messages:
        report(message, None)
    if allowance and found and not messages:
        args.not_applicable(f"{EXEMPT_PREFIX}{allowance['resource']}: {allowance['reason']}")


def _role_policy(rule: Rule) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(validate=_validate_roles, **rule.metadata())


def _cluster_admin(_t: str, props: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    ref = props.get("roleRef") or {}
    if ref.get("kind") == "ClusterRole" and ref.get("name") == "cluster-admin":
        yield "binds the cluster-admin ClusterRole; bind a role that lists what the subjects need"


def _public(_t: str, props: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for subject in items(props.get("subjects")):
        if (subject.get("kind"), subject.get("name")) in PUBLIC_SUBJECTS:
            yield f"grants {get(props, 'roleRef', 'name')!r} to {subject.get('kind')} {subject.get('name')}"


_r = rules("estate-rbac-")

POLICIES = [
    _role_policy(
        _r(
            "no-wildcards",
            "Roles and ClusterRoles grant no wildcard verbs, resources or API groups.",
            Severity.HIGH,
            f"{CIS_K8S}: 5.1.3 (minimize wildcard use in Roles and ClusterRoles)",
            "List the verbs, resources and apiGroups the role needs. An operator that truly needs a wildcard is "
            "listed in allowedWildcards with the fields it may use and the reason (not for roles aggregated into "
            "admin, edit or view). An aggregated ClusterRole keeps "
            "rules empty and selects its parts by label.",
            config={"allowedWildcards": ALLOWED_WILDCARDS_SCHEMA},
        )
    ),
    resource_policy(
        _r(
            "no-cluster-admin",
            "No RoleBinding or ClusterRoleBinding grants cluster-admin.",
            Severity.CRITICAL,
            f"{CIS_K8S}: 5.1.1 (cluster-admin only where required)",
            "Bind a Role or ClusterRole with the permissions the subject needs; operators get theirs from their "
            "charts' own ClusterRoles.",
        ),
        of_types(*BINDINGS),
        _cluster_admin,
    ),
    resource_policy(
        _r(
            "no-public-subjects",
            "No binding grants anything to anonymous, unauthenticated or all authenticated users.",
            Severity.CRITICAL,
            f"{CIS_K8S}: 5.1 (RBAC); GKE hardening: avoid system:authenticated and system:anonymous",
            "Remove system:anonymous, system:unauthenticated and system:authenticated from subjects; bind named "
            "users, groups or service accounts.",
        ),
        of_types(*BINDINGS),
        _public,
    ),
]

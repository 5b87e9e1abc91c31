"""What every rule shares: metadata, exemptions from policy config, and safe property access.

Properties arrive as the SDK's unknown-checking proxies: reading a value that is unknown
during preview raises UnknownValueError, which the SDK reports as a diagnostic. Rules never
catch it, so an unknown value neither crashes a rule nor lets it pass silently.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

EXEMPT_PREFIX = "exempt: "
NAMESPACE = "kubernetes:core/v1:Namespace"

# Namespaces the platform or its operators own: not application namespaces. Globs allowed.
SYSTEM_NAMESPACES = [
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "gke-*",
    "gmp-*",
    "istio-system",
    "istio-ingress",
    "cert-manager",
    "external-secrets",
    "cosign-system",
    "keda",
    "flagger",
]
SYSTEM_NAMESPACES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string"},
    "default": SYSTEM_NAMESPACES,
    "description": "Namespaces that are not application namespaces (globs allowed).",
}

EXEMPTIONS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "Resources this rule does not apply to, each with the reason the gate prints.",
    "items": {
        "type": "object",
        "properties": {
            "resource": {
                "type": "string",
                "minLength": 1,
                "description": "Pulumi resource name, Kubernetes namespace/name, or name of a cluster-scoped "
                "object; globs allowed.",
            },
            "reason": {"type": "string", "minLength": 10},
        },
        "required": ["resource", "reason"],
        "additionalProperties": False,
    },
    "default": [],
}


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    severity: Severity
    standard: str
    remediation: str
    level: EnforcementLevel = EnforcementLevel.MANDATORY
    config: Mapping[str, dict[str, Any]] | None = None

    def framework(self) -> PolicyComplianceFramework:
        name, _, control = self.standard.partition(": ")
        return PolicyComplianceFramework(name=name, specification=control or None)

    def schema(self) -> PolicyConfigSchema:
        return PolicyConfigSchema(properties={"exemptions": EXEMPTIONS_SCHEMA, **(self.config or {})})

    @property
    def area(self) -> str:
        return self.name.split("-")[1]

    def metadata(self) -> dict[str, Any]:
        """Everything the pack reports about the rule, as Policy keyword arguments."""
        return {
            "name": self.name,
            "description": self.description,
            "enforcement_level": self.level,
            "config_schema": self.schema(),
            "severity": self.severity,
            "framework": self.framework(),
            "tags": [self.area],
            "remediation_steps": self.remediation,
        }


class RuleMaker(Protocol):
    def __call__(
        self,
        name: str,
        description: str,
        severity: Severity,
        standard: str,
        remediation: str,
        level: EnforcementLevel = ...,
        config: Mapping[str, dict[str, Any]] | None = ...,
    ) -> Rule: ...


def rules(prefix: str, standard_prefix: str = "") -> RuleMaker:
    """A Rule constructor for one area: names get `prefix`, standards `standard_prefix`."""

    def make(
        name: str,
        description: str,
        severity: Severity,
        standard: str,
        remediation: str,
        level: EnforcementLevel = EnforcementLevel.MANDATORY,
        config: Mapping[str, dict[str, Any]] | None = None,
    ) -> Rule:
        return Rule(
            f"{prefix}{name}", description, severity, f"{standard_prefix}{standard}", remediation, level, config
        )

    return make


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """Follow `path` through mappings and sequences; `default` where it stops."""
    for key in path:
        if isinstance(key, int):
            if isinstance(obj, Sequence) and not isinstance(obj, str) and -len(obj) <= key < len(obj):
                obj = obj[key]
                continue
            return default
        if not isinstance(obj, Mapping) or key not in obj:
            return default
        obj = obj[key]
    return obj


def items(obj: Any) -> list[Any]:
    """A list property as a list; empty where it is absent."""
    if isinstance(obj, Sequence) and not isinstance(obj, str):
        return list(obj)
    return []


def k8s_identity(props: Mapping[str, Any]) -> str | None:
    name = get(props, "metadata", "name")
    if name is None:
        return None
    return f"{get(props, 'metadata', 'namespace', default='default')}/{name}"


def identities(name: str, props: Mapping[str, Any] | None) -> list[str]:
    """What a config pattern may name: the Pulumi name, namespace/name, and the bare name of an
    object without a namespace (cluster-scoped kinds such as Namespace or ClusterRole)."""
    out = [name]
    if props is not None and (identity := k8s_identity(props)):
        out.append(identity)
        if get(props, "metadata", "namespace") is None:
            out.append(str(get(props, "metadata", "name")))
    return out


def matching(
    entries: Iterable[Mapping[str, Any]], name: str, props: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The first config entry whose `resource` pattern names this resource."""
    names = identities(name, props)
    for entry in entries:
        if any(fnmatch.fnmatchcase(n, entry["resource"]) for n in names):
            return entry
    return None


def exemption(config: Mapping[str, Any], name: str, props: Mapping[str, Any] | None = None) -> str | None:
    """The configured reason when this resource is exempt from the rule."""
    entry = matching(config.get("exemptions", []) or [], name, props)
    return f"{EXEMPT_PREFIX}{entry['resource']}: {entry['reason']}" if entry else None


def namespace_of(props: Mapping[str, Any]) -> str:
    return str(get(props, "metadata", "namespace", default="default") or "default")


def is_system_namespace(name: str, config: Mapping[str, Any]) -> bool:
    patterns = config.get("systemNamespaces", SYSTEM_NAMESPACES)
    return any(fnmatch.fnmatchcase(name, str(p)) for p in patterns)


def app_namespaces(resources: Iterable[PolicyResource], config: Mapping[str, Any]) -> dict[str, PolicyResource]:
    """The plan's application namespaces by name: every Namespace not matching `systemNamespaces`."""
    out: dict[str, PolicyResource] = {}
    for r in resources:
        if r.resource_type == NAMESPACE:
            name = str(get(r.props, "metadata", "name", default=""))
            if name and not is_system_namespace(name, config):
                out[name] = r
    return dict(sorted(out.items()))


def urn_type(urn: str | None) -> str | None:
    """The resource type a URN names (the last entry of its type chain)."""
    if not urn or "::" not in urn:
        return None
    return urn.split("::")[2].rsplit("$", 1)[-1]


Check = Callable[[str, Mapping[str, Any], Mapping[str, Any]], Iterable[str]]


def resource_policy(rule: Rule, applies: Callable[[str], bool], check: Check) -> ResourceValidationPolicy:
    """A resource rule: `check(type, props, config)` yields one message per violation."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if not applies(args.resource_type):
            return
        config = args.get_config() or {}
        reason = exemption(config, args.name, args.props)
        if reason:
            args.not_applicable(reason)
        for message in check(args.resource_type, args.props, config):
            report(message, None)

    return ResourceValidationPolicy(validate=validate, **rule.metadata())


StackCheck = Callable[[list[PolicyResource], Mapping[str, Any]], Iterable[tuple[str, str | None]]]


def stack_policy(
    rule: Rule, present: Callable[[list[PolicyResource]], str | None], check: StackCheck
) -> StackValidationPolicy:
    """A stack rule. `present` returns why it is not applicable yet (None once its part is in the plan)."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        config = args.get_config() or {}
        missing = present(list(args.resources))
        if missing:
            args.not_applicable(missing)
        exempt = [reason for r in args.resources if (reason := exemption(config, r.name, r.props))]
        resources = [r for r in args.resources if not exemption(config, r.name, r.props)]
        violations = list(check(resources, config))
        for message, urn in violations:
            report(message, urn)
        if exempt and not violations:
            # Lets the gate show the exemption as used; with violations it stays silent.
            args.not_applicable(exempt[0])

    return StackValidationPolicy(validate=validate, **rule.metadata())


def of_types(*types: str) -> Callable[[str], bool]:
    wanted = frozenset(types)
    return lambda t: t in wanted

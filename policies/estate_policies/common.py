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

EXEMPTIONS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "Resources this rule does not apply to, each with the reason the gate prints.",
    "items": {
        "type": "object",
        "properties": {
            "resource": {
                "type": "string",
                "minLength": 1,
                "description": "Pulumi resource name, or Kubernetes namespace/name; globs allowed.",
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


def exemption(config: Mapping[str, Any], name: str, props: Mapping[str, Any] | None = None) -> str | None:
    """The configured reason when this resource is exempt from the rule."""
    identity = k8s_identity(props) if props is not None else None
    for entry in config.get("exemptions", []) or []:
        pattern = entry["resource"]
        if fnmatch.fnmatchcase(name, pattern) or (identity and fnmatch.fnmatchcase(identity, pattern)):
            return f"{EXEMPT_PREFIX}{pattern}: {entry['reason']}"
    return None


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
        resources = [r for r in args.resources if not exemption(config, r.name, r.props)]
        missing = present(resources)
        if missing:
            args.not_applicable(missing)
        for message, urn in check(resources, config):
            report(message, urn)

    return StackValidationPolicy(validate=validate, **rule.metadata())


def of_types(*types: str) -> Callable[[str], bool]:
    wanted = frozenset(types)
    return lambda t: t in wanted

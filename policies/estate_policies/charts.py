"""Upstream software arrives as Helm charts: pinned to an exact version, from allowlisted repositories.

Where the pack sees a chart's inputs: a `helm.sh/v3:Release` is a custom resource, so the engine
passes its inputs to every analyzer. A `helm.sh/v4:Chart` is a remote component: the engine
hands the program's inputs to the provider's Construct, and the provider registers the Chart
itself with no inputs (pulumi/pulumi#10533), so in a real preview the pack sees an empty Chart
and these rules say not applicable. The offline gate records what the program registered and
sends the Chart with its inputs, so the pins are enforced there (and in CI).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from estate_policies.common import Rule, exemption, get, rules

CHART_V4 = "kubernetes:helm.sh/v4:Chart"
RELEASE_V3 = "kubernetes:helm.sh/v3:Release"
HELM = (RELEASE_V3, CHART_V4, "kubernetes:helm.sh/v3:Chart")
PINNED = (CHART_V4, RELEASE_V3)
# Semantic Versioning 2.0.0, with the optional leading "v" some charts (cert-manager) publish.
EXACT = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
NO_INPUTS = (
    "the engine passes no inputs of a remote component (helm.v4.Chart) to analyzers (pulumi/pulumi#10533); "
    "the offline gate checks this chart's pin"
)


def chart_name(r: PolicyResource) -> str | None:
    """The chart a Helm resource installs, without its repository."""
    if r.resource_type not in HELM:
        return None
    chart = str(get(r.props, "chart", default="") or "")
    return chart.rsplit("/", 1)[-1]


def repository(props: Mapping[str, Any]) -> str:
    """Where the chart comes from: repositoryOpts.repo, or the registry path of an oci:// chart reference."""
    chart = str(props.get("chart") or "")
    if chart.startswith("oci://"):
        return chart.rsplit("/", 1)[0]
    return str(get(props, "repositoryOpts", "repo", default="") or "")


def _normalise(url: str) -> str:
    return url.strip().rstrip("/").lower()


def _version(_t: str, props: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    version = str(props.get("version") or "")
    chart = props.get("chart")
    if not version:
        yield f"chart {chart!r} has no version: Helm would install whatever is newest"
    elif not EXACT.match(version):
        yield f"chart {chart!r} version {version!r} is not an exact semantic version (no ranges, wildcards or latest)"


def _repository(_t: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    allowed = [str(u) for u in config.get("allowedChartRepositories", [])]
    repo = repository(props)
    chart = props.get("chart")
    if not repo:
        yield f"chart {chart!r} names no repository (repositoryOpts.repo or oci://); local paths are refused"
    elif _normalise(repo) not in {_normalise(u) for u in allowed}:
        yield f"chart {chart!r} comes from {repo!r}, which is not in allowedChartRepositories {allowed}"


def _chart_policy(rule: Rule, check: Any) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in PINNED:
            return
        config = args.get_config() or {}
        reason = exemption(config, args.name, args.props)
        if reason:
            args.not_applicable(reason)
        if args.resource_type == CHART_V4 and "chart" not in args.props:
            args.not_applicable(NO_INPUTS)
        for message in check(args.resource_type, args.props, config):
            report(message, None)

    return ResourceValidationPolicy(validate=validate, **rule.metadata())


_r = rules("estate-charts-")

POLICIES = [
    _chart_policy(
        _r(
            "exact-version",
            "Helm charts are pinned to an exact version.",
            Severity.HIGH,
            "SLSA: pinned, reviewed dependencies",
            "Pin the chart's exact version (e.g. 1.30.3, v1.21.1) in stacks/charts.py; move an "
            "upgrade through ai-estate:charts on dev first.",
        ),
        _version,
    ),
    _chart_policy(
        _r(
            "repository-allowlist",
            "Helm charts come only from allowlisted repositories.",
            Severity.HIGH,
            "SLSA: trusted sources; NIST SP 800-161r1: supply chain risk management",
            "Install from a repository listed in allowedChartRepositories (repositoryOpts.repo, or the registry "
            "path of an oci:// chart); add a repository there with review.",
            config={
                "allowedChartRepositories": {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^(https|oci)://"},
                    "default": [],
                    "description": "Helm repository URLs (https://...) or OCI registry paths (oci://host/path).",
                }
            },
        ),
        _repository,
    ),
]

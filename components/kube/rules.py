"""The shape of a PrometheusRule (monitoring.coreos.com/v1) as the estate writes them: typed, checked
against the Prometheus Operator's CRD in the tests; every alert with a severity, a summary, a
description naming where its series come from, and a runbook."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from components.kube.custom import Spec

API_VERSION = "monitoring.coreos.com/v1"


class Rule(Spec):
    alert: str
    expr: str
    for_: str = Field(alias="for")
    labels: dict[str, str]
    annotations: dict[str, str]


class RuleGroup(Spec):
    name: str
    rules: list[Rule] = Field(min_length=1)


class RecordingRule(Spec):
    record: str = Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    expr: str


class RecordGroup(Spec):
    name: str
    rules: list[RecordingRule] = Field(min_length=1)


class PrometheusRuleSpec(Spec):
    groups: list[RuleGroup | RecordGroup] = Field(min_length=1)


def alert(
    name: str,
    expr: str,
    duration: str,
    severity: Literal["critical", "warning"],
    summary: str,
    description: str,
    source: str,
    runbook: str,
) -> Rule:
    return Rule(
        alert=name,
        expr=expr,
        for_=duration,
        labels={"severity": severity},
        annotations={"summary": summary, "description": f"{description} Source: {source}.", "runbook": runbook},
    )


def prometheus_rule(name: str, namespace: str, groups: list[RuleGroup | RecordGroup]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "PrometheusRule",
        "metadata": {"name": name, "namespace": namespace},
        "spec": PrometheusRuleSpec(groups=groups).dump(),
    }

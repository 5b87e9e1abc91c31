"""Each cell's own PrometheusRule (when the metrics stack runs): CellUnavailable, critical, when the
cell should run (its Deployments, a release's primary copy included, ask for replicas) and none is
available for 5 minutes. A queue-scaled cell at zero asks for none and stays silent. Request rates,
errors and latency are the gateway's and the services' own (the observability layer's alerts and
SLOs)."""

from __future__ import annotations

from typing import Any

from components.kube.rules import API_VERSION, PrometheusRuleSpec, RuleGroup, alert

RUNBOOK = (
    "kubectl -n <namespace> describe deployment <cell> (and <cell>-primary): pods pending (quota, node "
    "pool at its maximum), crashing (the previous tag: roll back), refused at admission (the guardrails' "
    "message in the ReplicaSet's events) or failing readiness (its dependencies)."
)


def cell_rule(name: str, namespace: str) -> dict[str, Any]:
    deployments = f'namespace="{namespace}",deployment=~"{name}(-primary)?"'
    expr = (
        f"sum(kube_deployment_spec_replicas{{{deployments}}}) > 0"
        f" and sum(kube_deployment_status_replicas_available{{{deployments}}}) == 0"
    )
    rule = alert(
        "CellUnavailable",
        expr,
        "5m",
        "critical",
        f"Cell {name} has no available replica",
        f"The cell {name} in {namespace} should run but none of its pods is available.",
        "kube-state-metrics (the cell's Deployments)",
        RUNBOOK,
    )
    rule = rule.model_copy(update={"labels": {**rule.labels, "cell": name}})
    spec = PrometheusRuleSpec(groups=[RuleGroup(name=f"cell-{name}", rules=[rule])])
    return {
        "apiVersion": API_VERSION,
        "kind": "PrometheusRule",
        "metadata": {"name": f"cell-{name}", "namespace": namespace},
        "spec": spec.dump(),
    }

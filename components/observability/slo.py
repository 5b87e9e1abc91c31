"""Service level objectives as multi-window, multi-burn-rate alerts (the Google SRE workbook's):
recording rules for the error and slow-request ratios over each window, then a page when the
budget burns fast (14.4x over 1 h and 5 min, or 6x over 6 h and 30 min) and a ticket when it burns
slowly (3x over 1 d and 2 h, or 1x over 3 d and 6 h).

Measured at the ingress gateway, on its requests to the service: Istio's standard metrics from the
gateway's Envoy, whose request-duration buckets include each objective's edge (200 ms).
"""

from __future__ import annotations

from typing import Any

from components.kube.rules import RecordGroup, RecordingRule, Rule, RuleGroup, prometheus_rule
from stacks.config_observability import Slo

GATEWAY_WORKLOAD = "istio-ingressgateway"
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# (severity, burn rate, long window, short window, for)
BURNS = (
    ("critical", 14.4, "1h", "5m", "2m"),
    ("critical", 6, "6h", "30m", "15m"),
    ("warning", 3, "1d", "2h", "1h"),
    ("warning", 1, "3d", "6h", "3h"),
)
RUNBOOK = (
    "Check which requests fail or are slow (the gateway's access log and the service's traces); the "
    "service's latest release (roll back to the previous tag if it started with it); its saturation and "
    "dependencies (database, cache, Kafka). Seed 002's runbooks: incident, high latency."
)


def _selector(slo: Slo) -> str:
    # A service released by Flagger is reached through its -primary and -canary Services: the SLO
    # counts the requests to all three.
    return (
        f'reporter="source",source_workload="{GATEWAY_WORKLOAD}",'
        f'destination_service_namespace="{slo.namespace}",destination_service_name=~"{slo.service}(-primary|-canary)?"'
    )


def metric_name(name: str) -> str:
    return "slo:" + name.replace("-", "_").replace(".", "_")


def recording_rules(name: str, slo: Slo) -> list[RecordingRule]:
    sel, base = _selector(slo), metric_name(name)
    # Prometheus 3 stores a classic histogram's `le` as a float (`200.0`, whatever the target wrote),
    # so a bucket matched by its integer spelling would select nothing.
    bucket = f"{float(slo.latency_ms)!r}"
    out = []
    for w in WINDOWS:
        total = f"sum(rate(istio_requests_total{{{sel}}}[{w}]))"
        errors = f'sum(rate(istio_requests_total{{{sel},response_code=~"5.."}}[{w}]))'
        fast = f'sum(rate(istio_request_duration_milliseconds_bucket{{{sel},le="{bucket}"}}[{w}]))'
        count = f"sum(rate(istio_request_duration_milliseconds_count{{{sel}}}[{w}]))"
        out.append(RecordingRule(record=f"{base}:error_ratio:rate{w}", expr=f"{errors} / {total}"))
        out.append(RecordingRule(record=f"{base}:slow_ratio:rate{w}", expr=f"1 - ({fast} / {count})"))
    return out


def burn_alerts(name: str, slo: Slo) -> list[Rule]:
    base = metric_name(name)
    out = []
    for kind, budget, what in (
        ("error", 1 - slo.availability_percent / 100, f"{slo.availability_percent:g}% of requests without a 5xx"),
        ("slow", 1 - slo.latency_percent / 100, f"{slo.latency_percent:g}% of requests under {slo.latency_ms} ms"),
    ):
        title = "".join(part.capitalize() for part in name.replace(".", "-").split("-"))
        for severity, rate, long, short, duration in BURNS:
            limit = f"({rate:g} * {budget:.6g})"
            ratio = f"{base}:{kind}_ratio"
            out.append(
                Rule.model_validate(
                    {
                        "alert": f"{title}{kind.capitalize()}BudgetBurn",
                        "expr": f"{ratio}:rate{long} > {limit} and {ratio}:rate{short} > {limit}",
                        "for": duration,
                        "labels": {"severity": severity, "slo": name, "window": long},
                        "annotations": {
                            "summary": f"{name}: error budget burning {rate:g}x over {long}",
                            "description": f"The objective is {what} over 30 days; at this rate its budget lasts "
                            f"{30 / rate:.1f} days. Source: the ingress gateway's requests to "
                            f"{slo.namespace}/{slo.service}.",
                            "runbook": RUNBOOK,
                        },
                    }
                )
            )
    return out


def slo_rules(namespace: str, slos: dict[str, Slo]) -> list[dict[str, Any]]:
    return [
        prometheus_rule(
            f"slo-{name}",
            namespace,
            [
                RecordGroup(name=f"slo-{name}-records", rules=recording_rules(name, slo)),
                RuleGroup(name=f"slo-{name}-alerts", rules=burn_alerts(name, slo)),
            ],
        )
        for name, slo in sorted(slos.items())
    ]

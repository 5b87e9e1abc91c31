"""Grafana dashboards as code, built with Grafana's foundation SDK and delivered as ConfigMaps that
Grafana's sidecar loads (label `grafana_dashboard: "1"`, the chart's default).

- The seed 004 overview: request rate, p95 response time, active WebSocket connections, GPU
  utilisation (DCGM's metric, not the seed's `nvidia_gpu_utilization`), model inference time.
- SLO burn: each objective's error and slow-request ratios against its budget, from the recording
  rules (components.observability.slo).
- Kafka: consumer lag, under-replicated partitions, messages in per topic.
- RED per service, GPUs and inference, and seed 001's work queue: components.observability.dashboards_workloads.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import dashboard, gauge, stat
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from components.observability.dashboards_workloads import gpu_inference, red, work_queue
from components.observability.panels import DATASOURCE, new_board, query, series
from components.observability.slo import metric_name
from stacks.config_observability import Slo

LABEL = {"grafana_dashboard": "1"}  # grafana.sidecar.dashboards.label / labelValue


def overview() -> dashboard.Dashboard:
    """Seed 004's overview, with its five panels."""
    rate = "$__rate_interval"
    return (
        new_board("estate-overview", "ai-estate / Overview")
        .with_panel(
            series(
                "Request rate",
                "reqps",
                query(f"sum by (service, method) (rate(http_requests_total[{rate}]))", "{{service}} - {{method}}"),
            )
        )
        .with_panel(
            series(
                "Response time (p95)",
                "s",
                query(
                    "histogram_quantile(0.95, sum by (le, service)"
                    f" (rate(http_request_duration_seconds_bucket[{rate}])))",
                    "{{service}}",
                ),
            )
        )
        .with_panel(
            stat.Panel()
            .title("Active WebSocket connections")
            .datasource(DATASOURCE)
            .with_target(query("sum(websocket_connections_active)", "connections"))
        )
        .with_panel(
            gauge.Panel()
            .title("GPU utilization")
            .unit("percent")
            .min(0)
            .max(100)
            .datasource(DATASOURCE)
            .with_target(query("avg by (gpu, Hostname) (DCGM_FI_DEV_GPU_UTIL)", "GPU {{gpu}} on {{Hostname}}"))
        )
        .with_panel(
            series(
                "Model inference time",
                "s",
                query(
                    f"sum by (model_name) (rate(model_inference_duration_seconds_sum[{rate}]))"
                    f" / sum by (model_name) (rate(model_inference_duration_seconds_count[{rate}]))",
                    "{{model_name}}",
                ),
            )
        )
    )


def slo_burn(slos: dict[str, Slo]) -> dashboard.Dashboard:
    board = new_board("estate-slo-burn", "ai-estate / SLO burn")
    for name, slo in sorted(slos.items()):
        base = metric_name(name)
        for kind, percent in (("error", slo.availability_percent), ("slow", slo.latency_percent)):
            budget = f"{1 - percent / 100:.6g}"
            board = board.with_panel(
                series(
                    f"{name}: {kind} budget burn rate",
                    "none",
                    query(f"{base}:{kind}_ratio:rate1h / {budget}", "1h", "A"),
                    query(f"{base}:{kind}_ratio:rate6h / {budget}", "6h", "B"),
                    query(f"{base}:{kind}_ratio:rate3d / {budget}", "3d", "C"),
                )
            )
    return board


def kafka() -> dashboard.Dashboard:
    rate = "$__rate_interval"
    return (
        new_board("estate-kafka", "ai-estate / Kafka")
        .with_panel(
            series(
                "Consumer lag",
                "short",
                query("sum by (consumergroup, topic) (kafka_consumergroup_lag)", "{{consumergroup}} / {{topic}}"),
            )
        )
        .with_panel(
            series(
                "Under-replicated partitions",
                "short",
                query("sum by (topic) (kafka_topic_partition_under_replicated_partition)", "{{topic}}"),
            )
        )
        .with_panel(
            series(
                "Messages in",
                "short",
                query(f"sum by (topic) (rate(kafka_topic_partition_current_offset[{rate}]))", "{{topic}}"),
            )
        )
    )


def dashboards(slos: dict[str, Slo], *, with_kafka: bool, with_queue: bool = False) -> dict[str, dict[str, Any]]:
    """File name -> the dashboard's JSON model."""
    boards = [
        overview(),
        slo_burn(slos),
        red(),
        gpu_inference(),
        *([kafka()] if with_kafka else []),
        *([work_queue()] if with_queue else []),
    ]
    out = {}
    for board in boards:
        model = json.loads(json.dumps(board.build(), cls=JSONEncoder))
        out[f"{model['uid']}.json"] = model
    return out


def expressions(model: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard, as Prometheus receives it (Grafana's interval
    variables substituted)."""
    exprs = [t["expr"] for p in model.get("panels", []) for t in p.get("targets", []) if "expr" in t]
    return [e.replace("$__rate_interval", "5m").replace("$__interval", "1m") for e in exprs]

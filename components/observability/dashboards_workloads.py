"""Dashboards on the workloads, beside components.observability.dashboards (same builders):

- RED per service (seed 003: rate, errors, p50/p95/p99 latency, saturation): requests entering
  through the ingress gateway (Istio's standard metrics from its Envoy, the source that exists for
  every routed service), and each pod's CPU and memory against its limits (cAdvisor,
  kube-state-metrics).
- GPU and inference: DCGM's utilisation and framebuffer memory; vLLM's and llama.cpp's own metrics
  (tokens per second, requests waiting, KV-cache use), which the inference layer's servers export.
- The work queue of seed 001: each Redis stream's length, and each consumer group's lag and
  entries read but not acknowledged (redis_exporter).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from components.observability.panels import new_board, query, series
from stacks.serving import SERVER_SERIES_LABEL

RATE = "$__rate_interval"
GATEWAY = 'reporter="source",source_workload="istio-ingressgateway"'
BY_SERVICE = "destination_service_namespace, destination_service_name"
SERVICE_LEGEND = "{{destination_service_namespace}}/{{destination_service_name}}"


def red() -> dashboard.Dashboard:
    board = (
        new_board("estate-red", "ai-estate / Services (RED)")
        .with_panel(
            series(
                "Requests per second",
                "reqps",
                query(f"sum by ({BY_SERVICE}) (rate(istio_requests_total{{{GATEWAY}}}[{RATE}]))", SERVICE_LEGEND),
            )
        )
        .with_panel(
            series(
                "Errors (5xx share)",
                "percentunit",
                query(
                    f'sum by ({BY_SERVICE}) (rate(istio_requests_total{{{GATEWAY},response_code=~"5.."}}[{RATE}]))'
                    f" / sum by ({BY_SERVICE}) (rate(istio_requests_total{{{GATEWAY}}}[{RATE}]))",
                    SERVICE_LEGEND,
                ),
            )
        )
    )
    latency = [
        query(
            f"histogram_quantile({q}, sum by (le, {BY_SERVICE})"
            f" (rate(istio_request_duration_milliseconds_bucket{{{GATEWAY}}}[{RATE}])))",
            f"p{int(q * 100)} {SERVICE_LEGEND}",
            ref,
        )
        for q, ref in ((0.5, "A"), (0.95, "B"), (0.99, "C"))
    ]
    return (
        board.with_panel(series("Latency p50 / p95 / p99", "ms", *latency))
        .with_panel(
            series(
                "CPU against limits",
                "percentunit",
                query(
                    f'sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{{container!=""}}[{RATE}]))'
                    ' / sum by (namespace, pod) (kube_pod_container_resource_limits{resource="cpu"})',
                    "{{namespace}}/{{pod}}",
                ),
            )
        )
        .with_panel(
            series(
                "Memory against limits",
                "percentunit",
                query(
                    'sum by (namespace, pod) (container_memory_working_set_bytes{container!=""})'
                    ' / sum by (namespace, pod) (kube_pod_container_resource_limits{resource="memory"})',
                    "{{namespace}}/{{pod}}",
                ),
            )
        )
    )


SERVER = SERVER_SERIES_LABEL  # each model server's pods' label on its series


def gpu_inference() -> dashboard.Dashboard:
    return (
        new_board("estate-gpu-inference", "ai-estate / GPUs and inference")
        .with_panel(
            series(
                "GPU utilisation",
                "percent",
                query("avg by (Hostname, gpu) (DCGM_FI_DEV_GPU_UTIL)", "{{Hostname}} GPU {{gpu}}"),
            )
        )
        .with_panel(
            series(
                "GPU memory used",
                "percentunit",
                query(
                    "sum by (Hostname, gpu) (DCGM_FI_DEV_FB_USED)"
                    " / sum by (Hostname, gpu) (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)",
                    "{{Hostname}} GPU {{gpu}}",
                ),
            )
        )
        .with_panel(
            # Which workload holds each GPU: DCGM's Kubernetes mapping, kept as exported_* labels
            # (components.observability.monitors.gpus). Memory, not utilisation, shows a loaded model.
            series(
                "GPU memory by workload",
                "mbytes",  # DCGM reports framebuffer memory in MiB
                query(
                    'sum by (exported_namespace, exported_pod) (DCGM_FI_DEV_FB_USED{exported_pod!=""})',
                    "{{exported_namespace}}/{{exported_pod}}",
                ),
            )
        )
        .with_panel(
            series(
                "Tokens per second",
                "short",
                query(f"sum by (model_name) (rate(vllm:generation_tokens_total[{RATE}]))", "vLLM {{model_name}}", "A"),
                query(
                    f"sum by ({SERVER}) (rate(llamacpp:tokens_predicted_total[{RATE}]))",
                    f"llama.cpp {{{{{SERVER}}}}}",
                    "B",
                ),
            )
        )
        .with_panel(
            # What the servers scale on (KEDA, components/inference/server.py).
            series(
                "Requests waiting",
                "short",
                query("sum by (model_name) (vllm:num_requests_waiting)", "vLLM {{model_name}}", "A"),
                query(f"sum by ({SERVER}) (llamacpp:requests_deferred)", f"llama.cpp {{{{{SERVER}}}}}", "B"),
            )
        )
        .with_panel(
            series(
                "Time to first token (p95)",
                "s",
                query(
                    "histogram_quantile(0.95, sum by (le, model_name) "
                    f"(rate(vllm:time_to_first_token_seconds_bucket[{RATE}])))",
                    "vLLM {{model_name}}",
                ),
            )
        )
        .with_panel(
            # Seed 004's model inference time: a whole request (vLLM), and each generated token (llama.cpp,
            # which keeps no latency histogram).
            series(
                "Inference time",
                "s",
                query(
                    "histogram_quantile(0.95, sum by (le, model_name) "
                    f"(rate(vllm:e2e_request_latency_seconds_bucket[{RATE}])))",
                    "vLLM {{model_name}} p95 per request",
                    "A",
                ),
                query(
                    f"sum by ({SERVER}) (rate(llamacpp:tokens_predicted_seconds_total[{RATE}]))"
                    f" / sum by ({SERVER}) (rate(llamacpp:tokens_predicted_total[{RATE}]))",
                    f"llama.cpp {{{{{SERVER}}}}} per token",
                    "B",
                ),
            )
        )
        .with_panel(
            # llama.cpp no longer exports its KV-cache use; its busy slots show the same pressure.
            series(
                "KV-cache use and busy slots",
                "short",
                query("max by (model_name) (vllm:kv_cache_usage_perc)", "vLLM {{model_name}} KV-cache (0-1)", "A"),
                query(
                    f"sum by ({SERVER}) (llamacpp:requests_processing)", f"llama.cpp {{{{{SERVER}}}}} busy slots", "B"
                ),
            )
        )
    )


def work_queue() -> dashboard.Dashboard:
    return (
        new_board("estate-work-queue", "ai-estate / Work queue")
        .with_panel(series("Stream length", "short", query("sum by (stream) (redis_stream_length)", "{{stream}}")))
        .with_panel(
            series(
                "Waiting for each group (lag)",
                "short",
                query("sum by (stream, group) (redis_stream_group_lag)", "{{stream}} / {{group}}"),
            )
        )
        .with_panel(
            series(
                "Read, not acknowledged",
                "short",
                query("sum by (stream, group) (redis_stream_group_messages_pending)", "{{stream}} / {{group}}"),
            )
        )
        .with_panel(
            series(
                "Consumers",
                "short",
                query("sum by (stream, group) (redis_stream_group_consumers)", "{{stream}} / {{group}}"),
            )
        )
    )

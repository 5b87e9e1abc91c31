"""The model servers' PrometheusRule (when the metrics stack runs), one group per server, its
series picked by the `estate_io_server` label its PodMonitor copies from the pods:

- InferenceServerUnavailable (critical): the server should run and no replica has been available
  for longer than a load takes (its `loadSeconds`, 10 minutes at least);
- InferenceQueueBacklog (warning): more requests wait than its replicas at their maximum absorb
  (`waitingPerReplica` x `scaling.max`) for 10 minutes: KEDA is at the ceiling or the pool has no GPU;
- InferenceSlowFirstToken (warning, vLLM): the p95 time to first token above its threshold for 15
  minutes;
- InferenceKvCacheFull (warning, vLLM): the KV cache above 95% for 15 minutes, where vLLM preempts
  and recomputes requests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from components.kube.rules import RuleGroup, alert, prometheus_rule
from stacks.config_inference import ServerConfig
from stacks.serving import QUEUE_METRIC, SERVER_SERIES_LABEL

RUNBOOK = (
    "kubectl -n <namespace> describe deployment <server> and its pods: Pending (no GPU node: the pool "
    "at its maximum, or no capacity or quota in the zone), FailedMount (the FUSE sidecar: the bucket "
    "grant, the staged prefix), CrashLoopBackOff (the runtime's log: out of GPU memory, a CUDA driver "
    "too old for the image), or startup probe failures (a load slower than loadSeconds)."
)


def server_group(name: str, server: ServerConfig, namespace: str) -> RuleGroup:
    sel = f'namespace="{namespace}",{SERVER_SERIES_LABEL}="{name}"'
    deployment = f'namespace="{namespace}",deployment="{name}"'
    load_minutes = max(10, math.ceil(server.load_seconds / 60))
    rules = [
        alert(
            "InferenceServerUnavailable",
            f"sum(kube_deployment_spec_replicas{{{deployment}}}) > 0"
            f" and sum(kube_deployment_status_replicas_available{{{deployment}}}) == 0",
            f"{load_minutes}m",
            "critical",
            f"Model server {name} has no available replica",
            f"The model server {name} in {namespace} should run but none of its replicas has been ready for "
            "longer than a load takes.",
            "kube-state-metrics (the server's Deployment)",
            RUNBOOK,
        ),
        alert(
            "InferenceQueueBacklog",
            f"sum({QUEUE_METRIC[server.runtime]}{{{sel}}}) > {server.scaling.waiting_per_replica * server.scaling.max}",
            "10m",
            "warning",
            f"Requests queue at model server {name}",
            f"More requests wait at {name} than {server.scaling.max} replicas absorb: KEDA is at the maximum "
            "or the GPU pool cannot grow.",
            f"the server's own {QUEUE_METRIC[server.runtime]}",
            RUNBOOK,
        ),
    ]
    if server.runtime == "vllm":
        rules += [
            alert(
                "InferenceSlowFirstToken",
                "histogram_quantile(0.95, sum by (le) "
                f"(rate(vllm:time_to_first_token_seconds_bucket{{{sel}}}[5m])))"
                f" > {server.time_to_first_token_seconds:g}",
                "15m",
                "warning",
                f"Model server {name} is slow to first token",
                f"The 95th percentile time to first token at {name} is above {server.time_to_first_token_seconds:g}s.",
                "vLLM's vllm:time_to_first_token_seconds",
                RUNBOOK,
            ),
            alert(
                "InferenceKvCacheFull",
                f"max(vllm:kv_cache_usage_perc{{{sel}}}) > 0.95",
                "15m",
                "warning",
                f"Model server {name}'s KV cache is full",
                f"{name} preempts and recomputes requests: raise gpuMemoryFraction, lower concurrency or "
                "context, or add replicas.",
                "vLLM's vllm:kv_cache_usage_perc",
                RUNBOOK,
            ),
        ]
    labelled = [r.model_copy(update={"labels": {**r.labels, "server": name}}) for r in rules]
    return RuleGroup(name=f"server-{name}", rules=labelled)


def inference_rule(servers: Mapping[str, ServerConfig], namespace: str) -> dict[str, Any]:
    groups: list[Any] = [server_group(name, s, namespace) for name, s in sorted(servers.items())]
    return prometheus_rule("inference", namespace, groups)

"""Synthetic series for the overview dashboard's picture (tools/dashboard_picture.py), as OpenMetrics
text that `promtool tsdb create-blocks-from openmetrics` turns into a Prometheus database.

The series carry the names and labels the dashboard's queries read (the cells' HTTP metrics and
WebSocket gauge, DCGM's GPU utilisation, the model servers' inference time), with plausible shapes:
daily-looking request rates, a latency bump, GPUs that follow the load. They are made up, seeded
so that the picture only changes when the dashboard does, and the picture says so.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

STEP_S = 30  # what Prometheus' scrape interval would be
WINDOW_S = 6 * 3600  # the overview's default time range (now-6h)
BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5)  # seconds, then +Inf
# service -> (methods and their share of its requests, requests per second at the peak, median latency)
SERVICES: Mapping[str, tuple[Mapping[str, float], float, float]] = {
    "api-gateway": ({"GET": 0.7, "POST": 0.3}, 120.0, 0.045),
    "orchestrator": ({"POST": 1.0}, 35.0, 0.12),
    "qa-agent": ({"POST": 1.0}, 12.0, 0.3),
}
GPUS = (("gpu-node-a", "0"), ("gpu-node-a", "1"), ("gpu-node-b", "0"))
MODELS = {"llama-3-8b-instruct": 0.9, "mistral-7b-gguf": 1.6}  # mean seconds per inference


Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Labels
    value: float
    ts: float


def load(t: float, start: float) -> float:
    """0.35 .. 1.0: a slow swell over the window with a shorter ripple, as traffic has."""
    x = (t - start) / WINDOW_S
    return 0.35 + 0.65 * (0.5 - 0.5 * math.cos(2 * math.pi * x * 0.9)) * (0.9 + 0.1 * math.sin(12 * math.pi * x))


def _below(le: float, median: float) -> float:
    """Share of requests at or under `le` s for log-normal latencies around `median` (sigma 0.6)."""
    return 0.5 * (1 + math.erf(math.log(le / median) / (0.6 * math.sqrt(2))))


def samples(end: float, seed: int = 14) -> Iterator[Sample]:
    """Every sample, grouped by metric name (OpenMetrics wants a family's samples together) and in
    time order within each series."""
    rnd = random.Random(seed)
    start = end - WINDOW_S
    times = [start + i * STEP_S for i in range(WINDOW_S // STEP_S + 1)]
    requests: dict[Labels, list[float]] = {}
    buckets: dict[Labels, list[float]] = {}
    for service, (methods, peak, median) in SERVICES.items():
        totals = {m: 0.0 for m in methods}
        cumulative = {le: 0.0 for le in (*BUCKETS, math.inf)}
        for t in times:
            n = peak * load(t, start) * STEP_S * rnd.uniform(0.92, 1.08)
            # A slow stretch in the orchestrator two thirds of the way in: what p95 is for.
            slow = 2.2 if service == "orchestrator" and 0.62 < (t - start) / WINDOW_S < 0.7 else 1.0
            # Busier is slower.
            slow *= (0.75 + 0.5 * load(t, start)) * rnd.uniform(0.93, 1.07)
            for method, share in methods.items():
                totals[method] += n * share
                requests.setdefault((("method", method), ("service", service)), []).append(totals[method])
            for le in cumulative:
                cumulative[le] += n * (1.0 if le == math.inf else _below(le, median * slow))
                bucket: Labels = (("le", "+Inf" if le == math.inf else repr(le)), ("service", service))
                buckets.setdefault(bucket, []).append(cumulative[le])
    yield from _series("http_requests_total", requests, times)
    yield from _series("http_request_duration_seconds_bucket", buckets, times)
    sockets: dict[Labels, list[float]] = {
        (("pod", f"api-gateway-{i}"), ("service", "api-gateway")): [
            round(180 * load(t, start) + rnd.uniform(-6, 6)) for t in times
        ]
        for i in range(2)
    }
    yield from _series("websocket_connections_active", sockets, times)
    gpu: dict[Labels, list[float]] = {
        (("Hostname", host), ("gpu", idx)): [
            min(100.0, max(0.0, (55 + 40 * load(t, start)) * w + rnd.uniform(-4, 4))) for t in times
        ]
        for (host, idx), w in zip(GPUS, (1.0, 0.85, 0.6), strict=True)
    }
    yield from _series("DCGM_FI_DEV_GPU_UTIL", gpu, times)
    sums: dict[Labels, list[float]] = {}
    counts: dict[Labels, list[float]] = {}
    for model, mean in MODELS.items():
        key: Labels = (("model_name", model),)
        total_s = total_n = 0.0
        for t in times:
            n = 6 * load(t, start) * STEP_S
            total_n += n
            total_s += n * mean * (0.8 + 0.5 * load(t, start)) * rnd.uniform(0.95, 1.05)
            sums.setdefault(key, []).append(total_s)
            counts.setdefault(key, []).append(total_n)
    yield from _series("model_inference_duration_seconds_sum", sums, times)
    yield from _series("model_inference_duration_seconds_count", counts, times)


def _series(name: str, values: dict[Labels, list[float]], times: list[float]) -> Iterator[Sample]:
    for labels, points in values.items():
        for t, v in zip(times, points, strict=True):
            yield Sample(name, labels, v, t)


def openmetrics(end: float, seed: int = 14) -> str:
    lines = []
    for s in samples(end, seed):
        labels = ",".join(f'{k}="{v}"' for k, v in s.labels)
        lines.append(f"{s.name}{{{labels}}} {s.value:.10g} {s.ts:.0f}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"

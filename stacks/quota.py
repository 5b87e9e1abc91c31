"""GPU quota the node pools need, per quota and region, from the pools' maxima.

A new project has 0 GPU quota: a pool can be created but never gets a node. The estate
files Cloud Quotas preferences (components.cloud.quota) sized so every pool can reach its
maximum in every zone, plus its surge nodes during an upgrade. Spot pools draw on the
PREEMPTIBLE_* quotas. `GPUS-ALL-REGIONS-per-project` caps the total across regions.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks import gpu
from stacks.model import EstateConfig

QUOTA_SERVICE = "compute.googleapis.com"
ALL_REGIONS = "GPUS-ALL-REGIONS-per-project"
# accelerator type -> Compute Engine quota id stem (`<stem>-per-project-region`).
GPU_QUOTAS: dict[str, str] = {
    gpu.L4: "NVIDIA-L4-GPUS",
    gpu.A100_40GB: "NVIDIA-A100-GPUS",
    gpu.A100_80GB: "NVIDIA-A100-80GB-GPUS",
    gpu.H100_80GB: "NVIDIA-H100-GPUS",
    gpu.T4: "NVIDIA-T4-GPUS",
}


@dataclass(frozen=True)
class QuotaRequest:
    quota_id: str
    region: str | None  # None: a project-wide quota without a region dimension
    value: int


def quota_id(gpu_type: str, spot: bool) -> str:
    return f"{'PREEMPTIBLE-' if spot else ''}{GPU_QUOTAS[gpu_type]}-per-project-region"


def gpu_quota_requests(cfg: EstateConfig) -> list[QuotaRequest]:
    """One request per GPU quota the pools use, plus the all-regions total; [] without GPU pools."""
    totals: dict[str, int] = {}
    for pool in cfg.cluster.node_pools.values():
        if pool.gpu is None:
            continue
        zones = gpu.pool_zones(pool.zones, pool.gpu.type, cfg.cluster.zones)
        gpus = (pool.max_nodes + pool.max_surge) * len(zones) * pool.gpu.count
        key = quota_id(pool.gpu.type, pool.spot)
        totals[key] = totals.get(key, 0) + gpus
    if not totals:
        return []
    regional = [QuotaRequest(q, cfg.region, n) for q, n in sorted(totals.items())]
    return [*regional, QuotaRequest(ALL_REGIONS, None, sum(totals.values()))]

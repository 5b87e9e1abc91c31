"""Which GPUs Google Cloud offers where, and which machine family carries them.

A curated snapshot of Compute Engine's "GPU regions and zones" page for the regions
this estate is validated against. Refresh it with
`gcloud compute accelerator-types list --filter="zone~^REGION"` before adding a region.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

L4: Final = "nvidia-l4"
A100_40GB: Final = "nvidia-tesla-a100"
A100_80GB: Final = "nvidia-a100-80gb"
H100_80GB: Final = "nvidia-h100-80gb"
T4: Final = "nvidia-tesla-t4"

GPU_TYPES: Final = (L4, A100_40GB, A100_80GB, H100_80GB, T4)

# accelerator type -> zones offering it (only the regions below are covered).
GPU_ZONES: Final[dict[str, frozenset[str]]] = {
    L4: frozenset(
        {
            "us-central1-a",
            "us-central1-b",
            "us-central1-c",
            "us-east4-a",
            "us-east4-c",
            "europe-west4-a",
            "europe-west4-b",
            "europe-west4-c",
            "asia-southeast1-a",
            "asia-southeast1-b",
            "asia-southeast1-c",
        }
    ),
    A100_40GB: frozenset(
        {
            "us-central1-a",
            "us-central1-b",
            "us-central1-c",
            "us-central1-f",
            "europe-west4-a",
            "europe-west4-b",
            "asia-southeast1-b",
            "asia-southeast1-c",
        }
    ),
    A100_80GB: frozenset(
        {
            "us-central1-a",
            "us-central1-c",
            "us-east4-c",
            "europe-west4-a",
            "asia-southeast1-c",
        }
    ),
    H100_80GB: frozenset(
        {
            "us-central1-a",
            "us-central1-b",
            "us-central1-c",
            "us-east4-a",
            "us-east4-b",
            "us-east4-c",
            "europe-west4-b",
            "europe-west4-c",
            "asia-southeast1-b",
            "asia-southeast1-c",
        }
    ),
    T4: frozenset(
        {
            "us-central1-a",
            "us-central1-b",
            "us-central1-c",
            "us-central1-f",
            "us-east4-a",
            "us-east4-b",
            "us-east4-c",
            "europe-west4-a",
            "europe-west4-b",
            "europe-west4-c",
            "asia-southeast1-a",
            "asia-southeast1-b",
            "asia-southeast1-c",
        }
    ),
}

SUPPORTED_REGIONS: Final = ("asia-southeast1", "europe-west4", "us-central1", "us-east4")

# Accelerator-optimised families carry a fixed GPU model; N1 takes attachable ones.
_FAMILY_GPUS: Final[dict[str, tuple[str, ...]]] = {
    "g2": (L4,),
    "a2-highgpu": (A100_40GB,),
    "a2-megagpu": (A100_40GB,),
    "a2-ultragpu": (A100_80GB,),
    "a3-highgpu": (H100_80GB,),
    "n1": (T4,),
}

_G2_GPUS: Final = {4: 1, 8: 1, 12: 1, 16: 1, 32: 1, 24: 2, 48: 4, 96: 8}


def machine_family(machine_type: str) -> str:
    """`a2-highgpu-1g` -> `a2-highgpu`, `g2-standard-8` -> `g2`, `e2-standard-4` -> `e2`."""
    parts = machine_type.split("-")
    if parts[0] in ("a2", "a3") and len(parts) > 1:
        return f"{parts[0]}-{parts[1]}"
    return parts[0]


def gpus_for_family(family: str) -> tuple[str, ...]:
    """GPU types a machine family can carry; empty for CPU-only families."""
    return _FAMILY_GPUS.get(family, ())


def families_for_gpu(gpu_type: str) -> list[str]:
    return sorted(f for f, gpus in _FAMILY_GPUS.items() if gpu_type in gpus)


def bundled_gpu_count(machine_type: str) -> int | None:
    """GPUs an accelerator-optimised machine type comes with; None where they are attached freely."""
    family = machine_family(machine_type)
    if family == "g2":
        match = re.fullmatch(r"g2-standard-(\d+)", machine_type)
        return _G2_GPUS.get(int(match.group(1))) if match else None
    match = re.fullmatch(r"a[23]-(?:high|mega|ultra)gpu-(\d+)g", machine_type)
    return int(match.group(1)) if match else None


def zones_offering(gpu_type: str) -> frozenset[str]:
    return GPU_ZONES.get(gpu_type, frozenset())


def pool_zones(pool_zones_: Sequence[str] | None, gpu_type: str | None, cluster_zones: Sequence[str]) -> list[str]:
    """The zones a pool runs in: its own list when set; else the cluster's, and for a GPU pool only
    those of them that offer its GPU (so a default need not name the zones of one region)."""
    if pool_zones_ is not None:
        return list(pool_zones_)
    if gpu_type is None:
        return list(cluster_zones)
    offered = zones_offering(gpu_type)
    return [z for z in cluster_zones if z in offered]

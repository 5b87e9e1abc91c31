"""What a node offers pods: a machine type's vCPUs and memory, less what GKE reserves.

GKE's documented reservations for Standard clusters ("Cluster architecture: node allocatable"):
memory, 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8, 6% of the next 112 and 2%
of any above 128 GiB, plus a 100 MiB eviction threshold; CPU, 6% of the first core, 1% of the
second, 0.5% of the next two and 0.25% of any above four. GKE Sandbox (gVisor) nodes hold back
more for the sandbox itself, which the rules leave to the pool's headroom: a limit must fit what
a plain node of the type allocates.

The shapes are Compute Engine's published ones for the general-purpose and GPU types the estate's
pools use; a type outside the tables is not checked (say so where it matters).
"""

from __future__ import annotations

import re
from typing import Final

GIB: Final = 2.0**30

# machine family -> GiB of memory per vCPU for its standard/highmem/highcpu shapes.
_PER_VCPU: Final[dict[str, dict[str, float]]] = {
    "e2": {"standard": 4, "highmem": 8, "highcpu": 1},
    "n2": {"standard": 4, "highmem": 8, "highcpu": 1},
    "n2d": {"standard": 4, "highmem": 8, "highcpu": 1},
    "c3": {"standard": 4, "highmem": 8, "highcpu": 2},
    "n4": {"standard": 4, "highmem": 8, "highcpu": 2},
}
_SHAPE = re.compile(r"^(?P<family>[a-z][a-z0-9]*)-(?P<kind>standard|highmem|highcpu)-(?P<cpus>\d+)$")


# Accelerator-optimised shapes (vCPUs, GiB), Compute Engine's GPU machine pages: G2 carries 4 GiB per
# vCPU; A2 and A3 come in fixed sizes.
_GPU_SHAPES: Final[dict[str, tuple[int, float]]] = {
    **{f"g2-standard-{n}": (n, 4.0 * n) for n in (4, 8, 12, 16, 24, 32, 48, 96)},
    "a2-highgpu-1g": (12, 85),
    "a2-highgpu-2g": (24, 170),
    "a2-highgpu-4g": (48, 340),
    "a2-highgpu-8g": (96, 680),
    "a2-megagpu-16g": (96, 1360),
    "a2-ultragpu-1g": (12, 170),
    "a2-ultragpu-2g": (24, 340),
    "a2-ultragpu-4g": (48, 680),
    "a2-ultragpu-8g": (96, 1360),
    "a3-highgpu-8g": (208, 1872),
}


def shape(machine_type: str) -> tuple[int, float] | None:
    """(vCPUs, memory in bytes) of a machine type in the tables, or None."""
    if machine_type in _GPU_SHAPES:
        cpus, gib = _GPU_SHAPES[machine_type]
        return cpus, gib * GIB
    m = _SHAPE.match(machine_type)
    if not m or m["family"] not in _PER_VCPU:
        return None
    cpus = int(m["cpus"])
    return cpus, cpus * _PER_VCPU[m["family"]][m["kind"]] * GIB


def _tiers(total: float, tiers: list[tuple[float, float]], rest: float) -> float:
    reserved, left = 0.0, total
    for size, share in tiers:
        part = min(left, size)
        reserved += part * share
        left -= part
    return reserved + left * rest


def allocatable(machine_type: str) -> tuple[float, float] | None:
    """(CPU cores, memory bytes) a node of this type allocates to pods, or None when unknown."""
    found = shape(machine_type)
    if found is None:
        return None
    cpus, memory = found
    cpu_reserved = _tiers(cpus, [(1, 0.06), (1, 0.01), (2, 0.005)], 0.0025)
    memory_reserved = _tiers(memory, [(4 * GIB, 0.25), (4 * GIB, 0.20), (8 * GIB, 0.10), (112 * GIB, 0.06)], 0.02)
    return cpus - cpu_reserved, memory - memory_reserved - 100 * 2**20

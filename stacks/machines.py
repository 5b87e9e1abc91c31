"""What a node offers pods: a machine type's vCPUs and memory, less what GKE reserves.

GKE's documented reservations for Standard clusters ("Cluster architecture: node allocatable"):
memory, 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8, 6% of the next 112 and 2%
of any above 128 GiB, plus a 100 MiB eviction threshold; CPU, 6% of the first core, 1% of the
second, 0.5% of the next two and 0.25% of any above four. GKE Sandbox (gVisor) nodes hold back
more for the sandbox itself, which the rules leave to the pool's headroom: a limit must fit what
a plain node of the type allocates.

The shapes are Compute Engine's published ones for the general-purpose types the estate's pools
use; a type outside the table is not checked (say so where it matters).
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


def shape(machine_type: str) -> tuple[int, float] | None:
    """(vCPUs, memory in bytes) of a general-purpose machine type, or None when not in the table."""
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

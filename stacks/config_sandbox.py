"""`ai-estate:sandbox`: where generated code runs (seed 001): a GKE Sandbox (gVisor) node pool and a
namespace of its own, closed to the network, without secrets, identities or tokens, in which one
cell (the orchestrator) may start Jobs and read their results.

Its rules against the rest of the config are here too: the pool exists and is a sandbox pool, the
orchestrator is a cell that calls the Kubernetes API, and no container limit exceeds what a node of
the pool allocates.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from stacks.base import Model, Name
from stacks.config_namespaces import Quantity, quantity, reserved
from stacks.machines import allocatable
from stacks.problem import Problem


class SandboxQuota(Model):
    cpu: Quantity = "8"
    memory: Quantity = "16Gi"
    ephemeral_storage: Quantity = "20Gi"
    pods: int = Field(20, ge=1, le=1000)
    jobs: int = Field(20, ge=1, le=1000, description="Jobs at once (running or kept for their results).")


class SandboxLimits(Model):
    """Per container: the default a Job gets when it says nothing, and the most it may ask."""

    cpu: Quantity = "500m"
    memory: Quantity = "512Mi"
    ephemeral_storage: Quantity = "1Gi"
    max_cpu: Quantity = "2"
    max_memory: Quantity = "4Gi"
    max_ephemeral_storage: Quantity = "4Gi"


class SandboxConfig(Model):
    enabled: bool = True
    namespace: Name = "sandbox"
    pool: Name = Field("sandbox", description="The cluster.nodePools entry with sandbox: true.")
    orchestrator: Name = Field("orchestrator", description="The cell that starts the Jobs and reads their results.")
    max_deadline_seconds: int = Field(
        900, ge=10, le=86400, description="A Job's activeDeadlineSeconds may be at most this."
    )
    quota: SandboxQuota = SandboxQuota()
    limits: SandboxLimits = SandboxLimits()


DEFAULTS: dict[str, dict[str, Any]] = {"dev": {}, "prod": {"sandbox": {"quota": {"cpu": "16", "memory": "32Gi"}}}}


def check(cfg: Any) -> list[Problem]:
    """`cfg`: the EstateConfig (its cluster, cells and namespaces)."""
    s: SandboxConfig = cfg.sandbox
    if not s.enabled:
        return []
    out = []
    why = reserved(s.namespace)
    if why or s.namespace in cfg.namespaces:
        out.append(
            Problem("sandbox.namespace", s.namespace, why or "an ai-estate:namespaces entry; give it its own name")
        )
    pool = cfg.cluster.node_pools.get(s.pool)
    if pool is None or not pool.sandbox:
        pools = sorted(n for n, p in cfg.cluster.node_pools.items() if p.sandbox)
        out.append(
            Problem("sandbox.pool", s.pool, f"must be a cluster.nodePools entry with sandbox: true; those: {pools}")
        )
    cell = cfg.cells.get(s.orchestrator)
    if cell is None or not cell.kubernetes_api:
        out.append(
            Problem("sandbox.orchestrator", s.orchestrator, "must be a cell with kubernetesApi: true (it starts Jobs)")
        )
    node = allocatable(pool.machine_type) if pool is not None else None
    if node is not None:
        cores, memory = node
        for key, asked, offered, unit in (
            ("maxCpu", s.limits.max_cpu, cores, "cores"),
            ("maxMemory", s.limits.max_memory, memory, "bytes"),
        ):
            if quantity(asked) > offered:
                out.append(
                    Problem(
                        f"sandbox.limits.{key}",
                        asked,
                        f"above what a {pool.machine_type} node allocates to pods ({offered:.2f} {unit})"
                        if unit == "cores"
                        else f"above what a {pool.machine_type} node allocates to pods ({offered / 2**30:.1f}Gi)",
                    )
                )
    for key, default, most in (
        ("cpu", s.limits.cpu, s.limits.max_cpu),
        ("memory", s.limits.memory, s.limits.max_memory),
        ("ephemeralStorage", s.limits.ephemeral_storage, s.limits.max_ephemeral_storage),
    ):
        if quantity(default) > quantity(most):
            out.append(Problem(f"sandbox.limits.{key}", default, f"above its maximum ({most})"))
    return out

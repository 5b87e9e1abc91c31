"""A telemetry backend of the observability namespace: one pinned chart (Loki, Tempo) with the
monitors Prometheus scrapes it by.

Nothing is lost by an ordinary `up`: chunks and blocks live in protected, versioned buckets; the
volumes hold write-ahead logs and caches (Backup for GKE covers the namespace). The collectors and
Grafana reach the backends inside their namespace, which the namespace's policies admit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kube.charts import Release, install
from components.kube.custom import custom_objects


@dataclass(frozen=True)
class BackendArgs:
    release: Release
    provider: k8s.Provider
    # The namespace, the nodes, the mesh's node agents, the workload's Google identity and its
    # bucket: the backend's first write needs them all.
    depends_on: Sequence[pulumi.Resource]
    monitors: Sequence[dict[str, Any]]
    monitors_after: pulumi.Resource  # the metrics stack's chart: the monitors' CRDs


class Backend(pulumi.ComponentResource):
    chart: k8s.helm.v4.Chart

    def __init__(self, name: str, args: BackendArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:observability:Backend", name, None, opts)
        self.chart = install(self, f"{name}-chart", args.release, provider=args.provider, depends_on=args.depends_on)
        custom_objects(self, name, args.monitors, provider=args.provider, depends_on=[args.monitors_after])
        self.register_outputs({"release": args.release.release_name})

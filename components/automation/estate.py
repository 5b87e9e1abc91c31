"""What every component of the automation layer reads from the layers below, gathered once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kube.charts import ChartPin
from components.kube.values import ChartContext


@dataclass(frozen=True)
class Estate:
    ctx: ChartContext  # the project, environment and images
    pins: Mapping[str, ChartPin]
    prefix: str
    region: str
    provider: k8s.Provider
    namespaces: Mapping[str, pulumi.Resource]
    cluster: pulumi.Resource  # the Workload Identity pool exists once it does
    apis: pulumi.Resource
    secrets_operator: pulumi.Resource  # External Secrets: CRDs and the store

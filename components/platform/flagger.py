"""Flagger: the cells' releases (canary at the ingress gateway, blue/green), from its pinned chart,
judging canaries on Prometheus (components.cells.release writes the Canaries and their metric
templates)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kube.charts import ChartPin, Release, install
from components.kube.transforms import no_api_token
from components.kube.values import ChartContext
from components.platform.values.flagger import NAMESPACE, RELEASE, flagger_values


@dataclass(frozen=True)
class FlaggerArgs:
    ctx: ChartContext
    pins: Mapping[str, ChartPin]
    provider: k8s.Provider
    prometheus: str  # the metrics stack's address
    depends_on: Sequence[pulumi.Resource]  # its namespace, the nodes, the mesh's data plane


class Flagger(pulumi.ComponentResource):
    chart: k8s.helm.v4.Chart  # its CRDs: Canaries and MetricTemplates wait for it
    identity: tuple[str, str]  # (namespace, service account): what Prometheus admits

    def __init__(self, name: str, args: FlaggerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:platform:Flagger", name, None, opts)
        self.chart = install(
            self,
            f"{name}-chart",
            Release(
                args.pins["flagger"],
                NAMESPACE,
                flagger_values(args.ctx, prometheus=args.prometheus),
                release_name=RELEASE,
                transforms=(no_api_token,),
            ),
            provider=args.provider,
            depends_on=args.depends_on,
        )
        self.identity = (NAMESPACE, RELEASE)
        self.register_outputs({"namespace": NAMESPACE})

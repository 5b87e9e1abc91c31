"""The cells' public routes: one VirtualService per host on the ingress gateway's Gateway, its
path prefixes longest first so that `/api/` is matched before `/`.

One object per host, not per cell: Istio merges several VirtualServices of one host on a gateway
in no guaranteed order, which would let a cell's `/` shadow another's `/api/`. WebSocket cells'
routes carry no request timeout (Istio upgrades HTTP/1.1 connections by default); the others carry
theirs (30 s unless the route says). A cell released by canary has its prefixes handed to the
delegate VirtualService Flagger owns for it (components.cells.release), which carries its timeout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.cells.spec import RouteTarget
from components.kube.custom import custom_objects
from components.kube.istio import (
    API_VERSION,
    Delegate,
    HttpMatch,
    HttpRoute,
    StringMatch,
    VirtualServiceSpec,
    service_destination,
)


def virtual_service(host: str, targets: Sequence[RouteTarget], *, gateway: str, namespace: str) -> dict[str, Any]:
    spec = VirtualServiceSpec(
        hosts=[host],
        gateways=[gateway],
        http=[
            HttpRoute(
                name=t.name,
                match=[HttpMatch(uri=StringMatch(prefix=t.prefix))],
                delegate=Delegate(name=t.cell, namespace=t.namespace),
            )
            if t.delegated
            else HttpRoute(
                name=t.name,
                match=[HttpMatch(uri=StringMatch(prefix=t.prefix))],
                route=[service_destination(t.cell, t.namespace, t.port)],
                timeout=t.timeout,
            )
            for t in targets
        ],
    )
    return {
        "apiVersion": API_VERSION,
        "kind": "VirtualService",
        "metadata": {"name": f"cells-{host}", "namespace": namespace},
        "spec": spec.dump(),
    }


def virtual_services(
    hosts: Mapping[str, Sequence[RouteTarget]], *, gateway: str, namespace: str
) -> list[dict[str, Any]]:
    return [virtual_service(h, t, gateway=gateway, namespace=namespace) for h, t in sorted(hosts.items())]


@dataclass(frozen=True)
class RoutesArgs:
    objects: Sequence[Mapping[str, Any]]  # the VirtualServices
    provider: pulumi.ProviderResource
    depends_on: Sequence[pulumi.Resource]  # istiod (the CRDs) and the cells behind the routes


class Routes(pulumi.ComponentResource):
    hosts: list[str]

    def __init__(self, name: str, args: RoutesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:cells:Routes", name, None, opts)
        custom_objects(self, name, args.objects, provider=args.provider, depends_on=args.depends_on)
        self.hosts = [h for obj in args.objects for h in obj["spec"]["hosts"]]
        self.register_outputs({"hosts": self.hosts})

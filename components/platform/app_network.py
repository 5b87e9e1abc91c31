"""What an application namespace's pods may reach, decided from config: pure functions.

Every application namespace denies all ingress and egress by default; these are the
explicit allows on top, each a NetworkPolicy of its own so a review reads them one by one.
"""

from __future__ import annotations

from collections.abc import Mapping

from components.kube.netpol import (
    CLOUD_SQL_PORT,
    HBONE_PORT,
    REDIS_TLS_PORT,
    Allow,
    Peer,
    dns,
    google_apis,
    mesh_control_plane,
    metadata_server,
    probes,
    tcp,
)
from stacks.config_namespaces import NamespaceConfig
from stacks.config_telemetry import GATEWAY_PODS, OTLP_GRPC_PORT, OTLP_HTTP_PORT

INGRESS_NAMESPACE = "istio-ingress"


def otlp_to_collector(collector: str) -> Allow:
    """OTLP (gRPC, HTTP; over HBONE inside the mesh) to the gateway collector's pods only."""
    return Allow(
        "allow-otlp",
        "Egress",
        (Peer(namespace=collector, pods=GATEWAY_PODS),),
        tcp(OTLP_GRPC_PORT, OTLP_HTTP_PORT, HBONE_PORT),
    )


def allows(
    namespace: str,
    spec: NamespaceConfig,
    namespaces: Mapping[str, NamespaceConfig],
    private_services: str,
    *,
    collector: str | None = None,
) -> list[Allow]:
    """The allows of `namespace`, given every namespace (callers open egress on their side too);
    `collector`: the namespace whose gateway collector takes the workloads' OTLP."""
    out = [dns(), metadata_server(), mesh_control_plane(), probes()]
    if collector and collector != namespace:
        out.append(otlp_to_collector(collector))
    callers = sorted({c.namespace for c in spec.callers.values()} | ({INGRESS_NAMESPACE} if spec.ingress else set()))
    if callers:
        out.append(Allow("allow-callers", "Ingress", tuple(Peer(namespace=ns) for ns in callers)))
    callees = sorted(
        name for name, other in namespaces.items() if any(c.namespace == namespace for c in other.callers.values())
    )
    if callees:
        out.append(Allow("allow-callees", "Egress", tuple(Peer(namespace=ns) for ns in callees)))
    if spec.egress.cloud_sql:
        out.append(Allow("allow-cloud-sql", "Egress", (Peer(cidr=private_services),), tcp(CLOUD_SQL_PORT)))
    if spec.egress.redis:
        out.append(Allow("allow-redis", "Egress", (Peer(cidr=private_services),), tcp(REDIS_TLS_PORT)))
    if spec.egress.google_apis:
        out.append(google_apis())
    return out

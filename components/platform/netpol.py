"""What an application namespace's pods may reach, decided from config: pure functions.

Every application namespace denies all ingress and egress by default; these are the
explicit allows on top, each a NetworkPolicy of its own so a review reads them one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stacks.config_namespaces import NamespaceConfig

# The mesh runs in ambient mode: ztunnel carries pod-to-pod traffic as HBONE on 15008, and
# kubelet probes reach ambient pods from this link-local address (Istio: ambient and
# Kubernetes NetworkPolicy).
HBONE_PORT = 15008
PROBE_SNAT = "169.254.7.127/32"
ISTIOD_XDS_PORT = 15012
# GKE metadata server for Workload Identity: 169.254.169.254:80 on Dataplane V2 clusters,
# 169.254.169.252:988 on the others (GKE: "Workload Identity Federation ... network policy").
METADATA = (("169.254.169.254/32", 80), ("169.254.169.252/32", 988))
CLOUD_SQL_PORT = 3307  # the Cloud SQL Auth Proxy's server-side port
REDIS_TLS_PORT = 6378  # Memorystore with in-transit encryption
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
INGRESS_NAMESPACE = "istio-ingress"
MESH_NAMESPACE = "istio-system"
NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Peer:
    namespace: str | None = None  # by the namespace's name label
    pods: tuple[tuple[str, str], ...] = ()  # pod label selector inside that namespace
    cidr: str | None = None
    except_: tuple[str, ...] = ()


@dataclass(frozen=True)
class Allow:
    name: str
    direction: str  # "Ingress" or "Egress"
    peers: tuple[Peer, ...]
    ports: tuple[tuple[str, int], ...] = ()  # (protocol, port); empty: every port


def allows(
    namespace: str, spec: NamespaceConfig, namespaces: Mapping[str, NamespaceConfig], private_services: str
) -> list[Allow]:
    """The allows of `namespace`, given every namespace (callers open egress on their side too)."""
    out = [
        Allow(
            "allow-dns",
            "Egress",
            (Peer(namespace="kube-system", pods=(("k8s-app", "kube-dns"),)),),
            (("UDP", 53), ("TCP", 53)),
        ),
        Allow(
            "allow-metadata-server", "Egress", tuple(Peer(cidr=c) for c, _ in METADATA), _tcp(*(p for _, p in METADATA))
        ),
        Allow(
            "allow-mesh-control-plane",
            "Egress",
            (Peer(namespace=MESH_NAMESPACE, pods=(("app", "istiod"),)),),
            _tcp(ISTIOD_XDS_PORT),
        ),
        Allow("allow-probes", "Ingress", (Peer(cidr=PROBE_SNAT),)),
    ]
    callers = sorted({c.namespace for c in spec.callers.values()} | ({INGRESS_NAMESPACE} if spec.ingress else set()))
    if callers:
        out.append(Allow("allow-callers", "Ingress", tuple(Peer(namespace=ns) for ns in callers)))
    callees = sorted(
        name for name, other in namespaces.items() if any(c.namespace == namespace for c in other.callers.values())
    )
    if callees:
        out.append(Allow("allow-callees", "Egress", tuple(Peer(namespace=ns) for ns in callees)))
    if spec.egress.cloud_sql:
        out.append(Allow("allow-cloud-sql", "Egress", (Peer(cidr=private_services),), _tcp(CLOUD_SQL_PORT)))
    if spec.egress.redis:
        out.append(Allow("allow-redis", "Egress", (Peer(cidr=private_services),), _tcp(REDIS_TLS_PORT)))
    if spec.egress.google_apis:
        # Private Google Access serves the APIs on public addresses: everything but private ranges.
        out.append(Allow("allow-google-apis", "Egress", (Peer(cidr="0.0.0.0/0", except_=PRIVATE_RANGES),), _tcp(443)))
    return out


def _tcp(*ports: int) -> tuple[tuple[str, int], ...]:
    return tuple(("TCP", p) for p in ports)

"""NetworkPolicy building blocks every Kubernetes layer uses: peers and allows as plain data
(decided by pure functions, tested without mocks) and their rendering as typed provider args.

A namespace denies all ingress and egress (`default_deny`); each allow is a NetworkPolicy of its
own, so a review reads them one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pulumi
import pulumi_kubernetes as k8s

from components.common import K8S_LABELS

meta, net = k8s.meta.v1, k8s.networking.v1

NAME_LABEL = "kubernetes.io/metadata.name"
# The mesh runs in ambient mode: ztunnel carries pod-to-pod traffic as HBONE on 15008, and
# kubelet probes reach ambient pods from this link-local address (Istio: ambient and
# Kubernetes NetworkPolicy).
HBONE_PORT = 15008
PROBE_SNAT = "169.254.7.127/32"
ISTIOD_XDS_PORT = 15012
MESH_NAMESPACE = "istio-system"
# GKE metadata server for Workload Identity: 169.254.169.254:80 on Dataplane V2 clusters,
# 169.254.169.252:988 on the others (GKE: "Workload Identity Federation ... network policy").
METADATA = (("169.254.169.254/32", 80), ("169.254.169.252/32", 988))
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
CLOUD_SQL_PORT = 3307  # the Cloud SQL Auth Proxy's server-side port on the instance
REDIS_TLS_PORT = 6378  # Memorystore with in-transit encryption


@dataclass(frozen=True)
class Peer:
    namespace: str | None = None  # by the namespace's name label
    pods: tuple[tuple[str, str], ...] = ()  # pod label selector inside that namespace
    cidr: str | None = None
    except_: tuple[str, ...] = ()
    # The cluster's control plane: its ranges are a cluster output, given when rendering.
    control_plane: bool = False
    # The policy's own namespace (a podSelector without a namespaceSelector): every pod, or those `pods` names.
    same_namespace: bool = False


CONTROL_PLANE = Peer(control_plane=True)


@dataclass(frozen=True)
class Allow:
    name: str
    direction: str  # "Ingress" or "Egress"
    peers: tuple[Peer, ...]  # empty: from/to anywhere (only with ports)
    ports: tuple[tuple[str, int], ...] = ()  # (protocol, port); empty: every port
    pods: tuple[tuple[str, str], ...] = ()  # which pods of the namespace it applies to; empty: all


def for_pods(allow: Allow, pods: Sequence[tuple[str, str]]) -> Allow:
    """`allow` applied to the pods with these labels only (a namespace-wide building block scoped
    to the workload that needs it)."""
    return replace(allow, pods=tuple(pods))


def tcp(*ports: int) -> tuple[tuple[str, int], ...]:
    return tuple(("TCP", p) for p in ports)


# ---------------------------------------------------------------- allows every namespace needs
def dns() -> Allow:
    return Allow(
        "allow-dns",
        "Egress",
        (Peer(namespace="kube-system", pods=(("k8s-app", "kube-dns"),)),),
        (("UDP", 53), ("TCP", 53)),
    )


def metadata_server() -> Allow:
    return Allow(
        "allow-metadata-server", "Egress", tuple(Peer(cidr=c) for c, _ in METADATA), tcp(*(p for _, p in METADATA))
    )


def google_apis(name: str = "allow-google-apis") -> Allow:
    """Private Google Access serves the APIs on public addresses: everything but private ranges, on 443."""
    return public_internet(name, tcp(443))


def api_server(name: str = "allow-api-server") -> Allow:
    """Egress to the Kubernetes API on 443: what a controller watches. Dataplane V2 applies policy
    after the `kubernetes` Service's DNAT, so the peer is the control plane's endpoint itself."""
    return Allow(name, "Egress", (CONTROL_PLANE,), tcp(443))


def from_control_plane(name: str, ports: Sequence[int]) -> Allow:
    """Ingress from the control plane to a webhook or aggregated API server, on its container ports."""
    return Allow(name, "Ingress", (CONTROL_PLANE,), tcp(*ports))


def public_internet(name: str, ports: tuple[tuple[str, int], ...]) -> Allow:
    """Egress to public addresses (everything but private ranges) on `ports`."""
    return Allow(name, "Egress", (Peer(cidr="0.0.0.0/0", except_=PRIVATE_RANGES),), ports)


# ---------------------------------------------------------------- rendering
def _peer(p: Peer) -> net.NetworkPolicyPeerArgs:
    if p.same_namespace:
        return net.NetworkPolicyPeerArgs(pod_selector=meta.LabelSelectorArgs(match_labels=dict(p.pods) or None))
    if p.cidr:
        return net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr=p.cidr, except_=list(p.except_) or None))
    return net.NetworkPolicyPeerArgs(
        namespace_selector=meta.LabelSelectorArgs(match_labels={NAME_LABEL: p.namespace or ""}),
        pod_selector=meta.LabelSelectorArgs(match_labels=dict(p.pods)) if p.pods else None,
    )


def _peers(
    allow: Allow, control_plane: pulumi.Input[Sequence[str]] | None
) -> pulumi.Input[Sequence[net.NetworkPolicyPeerArgs]] | None:
    static = [_peer(p) for p in allow.peers if not p.control_plane]
    if not any(p.control_plane for p in allow.peers):
        return static or None
    if control_plane is None:
        raise ValueError(f"{allow.name}: a control-plane peer needs the cluster's control-plane ranges")
    return pulumi.Output.from_input(control_plane).apply(
        lambda cidrs: [net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr=c)) for c in cidrs] + static
    )


def policy_spec(allow: Allow, control_plane: pulumi.Input[Sequence[str]] | None = None) -> net.NetworkPolicySpecArgs:
    ports = [net.NetworkPolicyPortArgs(protocol=proto, port=port) for proto, port in allow.ports] or None
    peers = _peers(allow, control_plane)
    selector = meta.LabelSelectorArgs(match_labels=dict(allow.pods) or None)
    if allow.direction == "Ingress":
        return net.NetworkPolicySpecArgs(
            pod_selector=selector,
            policy_types=["Ingress"],
            ingress=[net.NetworkPolicyIngressRuleArgs(from_=peers, ports=ports)],
        )
    return net.NetworkPolicySpecArgs(
        pod_selector=selector,
        policy_types=["Egress"],
        egress=[net.NetworkPolicyEgressRuleArgs(to=peers, ports=ports)],
    )


def network_policies(
    parent: pulumi.Resource,
    prefix: str,
    namespace: str,
    allows: Sequence[Allow],
    *,
    provider: pulumi.ProviderResource,
    depends_on: Sequence[pulumi.Resource],
    control_plane: pulumi.Input[Sequence[str]] | None = None,
) -> list[net.NetworkPolicy]:
    """`default-deny` (ingress and egress) in `namespace`, then each allow as its own policy.
    `control_plane`: the cluster's control-plane ranges, for allows that name it."""
    opts = pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on))
    deny = net.NetworkPolicy(
        f"{prefix}-default-deny",
        net.NetworkPolicyInitArgs(
            metadata=_meta("default-deny", namespace),
            spec=net.NetworkPolicySpecArgs(pod_selector=meta.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]),
        ),
        opts=opts,
    )
    return [
        deny,
        *allow_policies(
            parent, prefix, namespace, allows, provider=provider, depends_on=depends_on, control_plane=control_plane
        ),
    ]


def allow_policies(
    parent: pulumi.Resource,
    prefix: str,
    namespace: str,
    allows: Sequence[Allow],
    *,
    provider: pulumi.ProviderResource,
    depends_on: Sequence[pulumi.Resource],
    control_plane: pulumi.Input[Sequence[str]] | None = None,
) -> list[net.NetworkPolicy]:
    """Each allow as its own policy in a namespace whose default-deny exists already (a later layer
    opening what its own workloads need in a namespace the platform created)."""
    opts = pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on))
    return [
        net.NetworkPolicy(
            f"{prefix}-{allow.name}",
            net.NetworkPolicyInitArgs(metadata=_meta(allow.name, namespace), spec=policy_spec(allow, control_plane)),
            opts=opts,
        )
        for allow in allows
    ]


def _meta(name: str, namespace: str) -> meta.ObjectMetaArgs:
    return meta.ObjectMetaArgs(name=name, namespace=namespace, labels=K8S_LABELS)


def same_namespace(name: str = "allow-same-namespace") -> tuple[Allow, Allow]:
    """Pods of the namespace reach each other (a cluster's members, its operator), both ways."""
    here = Peer(same_namespace=True)
    return Allow(f"{name}-in", "Ingress", (here,)), Allow(f"{name}-out", "Egress", (here,))


def mesh_control_plane() -> Allow:
    """Egress to istiod's XDS port (ztunnel-captured pods still resolve config through it)."""
    return Allow(
        "allow-mesh-control-plane",
        "Egress",
        (Peer(namespace=MESH_NAMESPACE, pods=(("app", "istiod"),)),),
        tcp(ISTIOD_XDS_PORT),
    )


def probes() -> Allow:
    return Allow("allow-probes", "Ingress", (Peer(cidr=PROBE_SNAT),))

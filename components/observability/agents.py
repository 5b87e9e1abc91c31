"""The node agents' namespace: the one place of the estate where workloads read the nodes (the
OpenTelemetry agent reads the pods' log files as root through host paths; the node exporter reads
/proc, /sys and the root filesystem in the host's network and process namespaces).

Pod Security `privileged` with nothing else in it; in the ambient mesh; it denies everything (an
allow-nothing AuthorizationPolicy, a default-deny NetworkPolicy) but DNS, the mesh, probes, OTLP to
the gateway collector and Prometheus' scrape of the agents' own metrics. The node exporter runs in
the host's network, where NetworkPolicies do not reach: Prometheus reaches it on the nodes' 9100.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common import K8S_LABELS, child, pod_security
from components.kube import authz
from components.kube.authz import principal
from components.kube.custom import custom_object
from components.kube.netpol import HBONE_PORT, Allow, Peer, dns, mesh_control_plane, network_policies, probes, tcp
from components.observability.values_otel import METRICS_PORT
from stacks.config_observability import PROMETHEUS_PODS, PROMETHEUS_SERVICE_ACCOUNT
from stacks.config_telemetry import GATEWAY_PODS, OTLP_GRPC_PORT


def agent_allows(observability: str) -> list[Allow]:
    """DNS, the mesh, probes, OTLP to the gateway collector, Prometheus' scrape."""
    return [
        dns(),
        mesh_control_plane(),
        probes(),
        Allow(
            "allow-otlp-to-gateway",
            "Egress",
            (Peer(namespace=observability, pods=GATEWAY_PODS),),
            tcp(OTLP_GRPC_PORT, HBONE_PORT),
        ),
        Allow(
            "allow-prometheus",
            "Ingress",
            (Peer(namespace=observability, pods=PROMETHEUS_PODS),),
            tcp(METRICS_PORT, HBONE_PORT),
        ),
    ]


@dataclass(frozen=True)
class NodeAgentsArgs:
    name: str  # collectors.agentNamespace
    observability: str  # the observability namespace: the gateway collector's and Prometheus'
    provider: k8s.Provider
    mesh_control_plane: pulumi.Resource  # istiod: the AuthorizationPolicy CRD
    depends_on: Sequence[pulumi.Resource] = ()


class NodeAgents(pulumi.ComponentResource):
    namespace: k8s.core.v1.Namespace
    name: str

    def __init__(self, name: str, args: NodeAgentsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:observability:NodeAgents", name, None, opts)
        ns = args.name
        self.name = ns
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            k8s.core.v1.NamespaceInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=ns,
                    labels={
                        **K8S_LABELS,
                        **pod_security("privileged"),
                        "istio.io/dataplane-mode": "ambient",
                        "policy.sigstore.dev/include": "true",
                    },
                ),
            ),
            opts=child(self, provider=args.provider, depends_on=list(args.depends_on)),
        )
        network_policies(
            self,
            f"{name}-netpol",
            ns,
            agent_allows(args.observability),
            provider=args.provider,
            depends_on=[self.namespace],
        )
        scraper = principal(args.observability, PROMETHEUS_SERVICE_ACCOUNT)
        for policy in (
            authz.deny_all(ns),
            authz.allow_principals("allow-prometheus", ns, [scraper], ports=[METRICS_PORT]),
        ):
            custom_object(
                self,
                f"{name}-authz-{policy['metadata']['name']}",
                policy,
                provider=args.provider,
                depends_on=[self.namespace, args.mesh_control_plane],
            )
        self.register_outputs({"namespace": ns})

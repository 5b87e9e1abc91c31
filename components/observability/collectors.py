"""The OpenTelemetry collectors (components.observability.values_otel): the gateway in the
observability namespace, which every workload identity of the estate may send OTLP to, and the node
agent in a namespace of its own.

The agent reads the nodes' pod log files as root through host paths: it runs in the node agents'
namespace (components.observability.agents), and its OTLP to the gateway rides the mesh (mTLS).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kube import authz
from components.kube.authz import principal
from components.kube.charts import ChartPin, Release, install
from components.kube.custom import custom_object, custom_objects
from components.kube.netpol import (
    HBONE_PORT,
    Allow,
    Peer,
    allow_policies,
    tcp,
)
from components.kube.values import ChartContext
from components.observability import monitors
from components.observability.agents import NodeAgents
from components.observability.values_otel import (
    agent_config,
    agent_values,
    gateway_config,
    gateway_values,
)
from stacks.config_telemetry import AGENT, GATEWAY, GATEWAY_PODS, OTLP_GRPC_PORT, OTLP_HTTP_PORT, TRACING_PROVIDER
from stacks.config_telemetry import Collectors as CollectorsConfig


@dataclass(frozen=True)
class CollectorsArgs:
    ctx: ChartContext
    config: CollectorsConfig
    namespace: str  # the observability namespace: the gateway's, and the backends'
    pin: ChartPin
    provider: k8s.Provider
    senders: Sequence[tuple[str, str]]  # (namespace, service account) of every workload that may send OTLP
    tempo: str | None  # host:port of Tempo's OTLP/gRPC receiver, where the stack runs Tempo
    loki: str | None  # Loki's OTLP base URL, where it runs Loki (the node agents only then)
    tenant: str  # Loki's tenant
    prometheus: Sequence[str]  # each Prometheus replica's base URL
    depends_on: Sequence[pulumi.Resource]  # the observability namespace, nodes, mesh node agents
    mesh_control_plane: pulumi.Resource  # istiod: the AuthorizationPolicy and Telemetry CRDs
    mesh_root: str  # Istio's root namespace: a Telemetry there is the mesh's default
    sampling_percent: float  # share of requests the mesh's proxies trace
    monitors_after: pulumi.Resource  # the metrics stack's chart: the PodMonitor CRD
    agents: NodeAgents | None = None  # the node agents' namespace, where the log agent runs


def gateway_allows(sender_namespaces: Sequence[str]) -> list[Allow]:
    """Into the gateway: OTLP (gRPC and HTTP) from the namespaces that send it."""
    return [
        Allow(
            "allow-otlp-in",
            "Ingress",
            tuple(Peer(namespace=ns) for ns in sorted(set(sender_namespaces))),
            tcp(OTLP_GRPC_PORT, OTLP_HTTP_PORT, HBONE_PORT),
            pods=GATEWAY_PODS,
        )
    ]


def mesh_tracing(root: str, percent: float) -> dict[str, Any]:
    """The mesh-wide Telemetry (telemetry.istio.io/v1): spans to the collector at `percent`."""
    return {
        "apiVersion": "telemetry.istio.io/v1",
        "kind": "Telemetry",
        "metadata": {"name": "mesh-default", "namespace": root},
        "spec": {"tracing": [{"providers": [{"name": TRACING_PROVIDER}], "randomSamplingPercentage": percent}]},
    }


class Collectors(pulumi.ComponentResource):
    otlp_grpc: str  # what workloads set as OTEL_EXPORTER_OTLP_ENDPOINT (gRPC)
    otlp_http: str

    def __init__(self, name: str, args: CollectorsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:observability:Collectors", name, None, opts)
        ns = args.namespace
        # The agents only collect logs: without Loki there are none.
        agents = args.agents if args.loki else None
        agent_ns = agents.name if agents else None
        senders = [*args.senders, *([(agents.name, AGENT)] if agents else [])]
        gateway = self._gateway(name, args, senders)
        if agents:
            self._agent(name, args, agents, gateway)
        if args.tempo:
            # The ingress gateway and waypoints send spans through istiod's provider (the platform
            # sets it); ztunnel reports L4 only and sends none.
            custom_object(
                self,
                f"{name}-mesh-tracing",
                mesh_tracing(args.mesh_root, args.sampling_percent),
                provider=args.provider,
                depends_on=[args.mesh_control_plane, gateway],
            )
        custom_objects(
            self, name, monitors.collectors(ns, agent_ns), provider=args.provider, depends_on=[args.monitors_after]
        )
        self.otlp_grpc = f"http://{GATEWAY}.{ns}.svc:{OTLP_GRPC_PORT}"
        self.otlp_http = f"http://{GATEWAY}.{ns}.svc:{OTLP_HTTP_PORT}"
        self.register_outputs({"otlpGrpc": self.otlp_grpc, "otlpHttp": self.otlp_http})

    def _gateway(self, name: str, args: CollectorsArgs, senders: Sequence[tuple[str, str]]) -> pulumi.Resource:
        ns = args.namespace
        allow_policies(
            self,
            f"{name}-gateway-netpol",
            ns,
            gateway_allows([s for s, _ in senders]),
            provider=args.provider,
            depends_on=args.depends_on,
        )
        custom_object(
            self,
            f"{name}-gateway-authz",
            authz.allow_principals(
                "allow-otlp",
                ns,
                sorted({principal(s, a) for s, a in senders}),
                ports=[OTLP_GRPC_PORT, OTLP_HTTP_PORT],
                selector=dict(GATEWAY_PODS),
            ),
            provider=args.provider,
            depends_on=[*args.depends_on, args.mesh_control_plane],
        )
        config = gateway_config(tempo=args.tempo, loki=args.loki, tenant=args.tenant, prometheus=args.prometheus)
        return install(
            self,
            f"{name}-gateway",
            Release(
                args.pin,
                ns,
                gateway_values(args.ctx, replicas=args.config.gateway_replicas, config=config),
                release_name=GATEWAY,
            ),
            provider=args.provider,
            depends_on=args.depends_on,
        )

    def _agent(self, name: str, args: CollectorsArgs, agents: NodeAgents, gateway: pulumi.Resource) -> None:
        install(
            self,
            f"{name}-agent",
            Release(
                args.pin,
                agents.name,
                agent_values(args.ctx, config=agent_config(gateway=f"{GATEWAY}.{args.namespace}.svc:{OTLP_GRPC_PORT}")),
                release_name=AGENT,
            ),
            provider=args.provider,
            depends_on=[agents, gateway, *args.depends_on],
        )

"""The Istio ambient mesh: charts, the ingress gateway on a reserved address, its DNS names and
certificates, mesh-wide STRICT mTLS, and deny-by-default authorization per application namespace.

Ambient mode keeps every pod exactly as rendered and gated (no sidecar or NET_ADMIN init
container injected into application pods); ztunnel, one per node, carries mTLS and L4
authorization. Only the ingress gateway's Deployment is completed at admission (its image).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.common import child, labels
from components.kube.charts import ChartPin, Release, install
from components.kube.custom import custom_object
from components.kube.values import ChartContext, Values
from components.platform import mesh_objects as objects
from components.platform.values.istio import (
    INGRESS_NAMESPACE,
    INGRESS_PRINCIPAL,
    INGRESS_RELEASE,
    INGRESS_SELECTOR,
    SYSTEM_NAMESPACE,
    base_values,
    istiod_values,
)
from components.platform.values.istio_gateway import gateway_values
from components.platform.values.istio_nodes import cni_values, ztunnel_values
from stacks.config_mesh import MeshConfig, resolved_hosts

DNS_TTL = 300


@dataclass(frozen=True)
class MeshArgs:
    ctx: ChartContext
    config: MeshConfig
    domain: str  # ai-estate:dns.domain; hosts were checked to lie inside it
    pins: Mapping[str, ChartPin]
    provider: k8s.Provider
    cluster: pulumi.Resource
    apis: pulumi.Resource
    namespaces: Mapping[str, pulumi.Resource]  # every namespace, created by the Namespaces component
    dns_zone_name: str
    dns_zone: pulumi.Resource
    issuer: str  # the ACME ClusterIssuer
    cert_manager: pulumi.Resource
    # application namespace -> caller name -> (namespace, service account); "ingress" = the gateway
    app_namespaces: Mapping[str, Mapping[str, tuple[str, str]]]
    tracing: str | None = None  # the collector istiod's tracing provider sends spans to
    sign_in: tuple[str, str, int] | None = None  # the gateway's sign-in provider (name, host, port)


class Mesh(pulumi.ComponentResource):
    address: pulumi.Output[str]
    address_name: str
    hosts: dict[str, str]
    gateway: str  # namespace/name of the Istio Gateway that VirtualServices bind to
    gateway_namespace: str  # where later layers put Gateways of their own (TLS passthrough)
    gateway_identity: tuple[str, str]  # the ingress gateway's (namespace, service account)
    gateway_selector: dict[str, str]  # the ingress gateway's pods
    ingress_principal: str  # the gateway's mesh identity, for AuthorizationPolicies of later layers
    control_plane: pulumi.Resource  # istiod: custom resources of later layers depend on it
    data_plane: list[pulumi.Resource]  # istio-cni and ztunnel: ambient workloads of later layers wait for them

    def __init__(self, name: str, args: MeshArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:mesh:Mesh", name, None, opts)
        ctx, cfg = args.ctx, args.config
        self.hosts = resolved_hosts(cfg, args.domain)
        self.address_name = cfg.address_name(ctx.environment)
        self.gateway = objects.GATEWAY_REF
        self.gateway_namespace, self.gateway_selector = INGRESS_NAMESPACE, dict(INGRESS_SELECTOR)
        self.gateway_identity = (INGRESS_NAMESPACE, INGRESS_RELEASE)
        self.ingress_principal = INGRESS_PRINCIPAL

        # ------------------------------------------------ the reserved address and its names
        address = gcp.compute.Address(
            f"{name}-address",
            gcp.compute.AddressArgs(
                name=self.address_name,
                region=ctx.region,
                address_type="EXTERNAL",
                network_tier="PREMIUM",
                description="Ingress gateway (external passthrough Network Load Balancer)",
                labels=labels(ctx.environment, "mesh"),
            ),
            opts=child(self, depends_on=[args.apis], protect=ctx.prod),
        )
        for host_name, host in sorted(self.hosts.items()):
            gcp.dns.RecordSet(
                f"{name}-dns-{host_name}",
                gcp.dns.RecordSetArgs(
                    managed_zone=args.dns_zone_name, name=f"{host}.", type="A", ttl=DNS_TTL, rrdatas=[address.address]
                ),
                opts=child(self, depends_on=[args.apis, args.dns_zone]),
            )

        # ------------------------------------------------ charts, ordered only where data requires it:
        # istiod, the CNI agent and ztunnel each need base's CRDs; the gateway needs istiod's injector
        # (image: auto) and the address its Service names. Its pods are not ambient (dataplane-mode
        # none), so they need neither node agent.
        system_ns = [args.namespaces[SYSTEM_NAMESPACE], args.cluster]

        def chart(
            key: str,
            values: Values,
            namespace: str,
            deps: list[pulumi.Resource],
            release: str | None = None,
            await_webhook_ca: bool = True,
        ) -> k8s.helm.v4.Chart:
            return install(
                self,
                f"{name}-{key}",
                Release(
                    pin=args.pins[key],
                    namespace=namespace,
                    values=values,
                    release_name=release,
                    await_webhook_ca=await_webhook_ca,
                ),
                provider=args.provider,
                depends_on=deps,
            )

        # base's default validator gets its CA from istiod, the next chart: waiting for it here
        # would wait forever. istiod's own wait covers the CA, which istiod writes to both.
        base = chart("istio-base", base_values(ctx), SYSTEM_NAMESPACE, system_ns, await_webhook_ca=False)
        istiod = chart(
            "istiod",
            istiod_values(ctx, cfg, tracing=args.tracing, sign_in=args.sign_in),
            SYSTEM_NAMESPACE,
            [*system_ns, base],
        )
        cni = chart("istio-cni", cni_values(ctx), SYSTEM_NAMESPACE, [*system_ns, base])
        ztunnel = chart("ztunnel", ztunnel_values(ctx), SYSTEM_NAMESPACE, [*system_ns, base])
        chart(
            "istio-gateway",
            gateway_values(ctx, cfg),
            INGRESS_NAMESPACE,
            [args.namespaces[INGRESS_NAMESPACE], istiod, address],
            release=INGRESS_RELEASE,
        )
        self.control_plane = istiod
        # What an ambient workload needs on its node before it starts: later layers wait for it.
        self.data_plane = [cni, ztunnel]

        # ------------------------------------------------ custom resources
        istio_crds: list[pulumi.Resource] = [base, istiod]

        def custom(obj: Mapping[str, Any], deps: list[pulumi.Resource]) -> k8s.apiextensions.CustomResource:
            meta = obj["metadata"]
            resource_name = f"{name}-{obj['kind'].lower()}-{meta['namespace']}-{meta['name']}"
            return custom_object(self, resource_name, obj, provider=args.provider, depends_on=deps)

        custom(objects.peer_authentication(), istio_crds)
        ingress_ns = [args.namespaces[INGRESS_NAMESPACE]]
        if self.hosts:
            for host_name, host in sorted(self.hosts.items()):
                custom(objects.certificate(host_name, host, args.issuer), [*ingress_ns, args.cert_manager])
            custom(objects.gateway(self.hosts, cfg.min_tls_version), [*ingress_ns, *istio_crds])
        for host_name, host_cfg in sorted(cfg.hosts.items()):
            if host_cfg.backend is not None:
                b = host_cfg.backend
                vs = objects.virtual_service(host_name, self.hosts[host_name], b.namespace, b.service, b.port)
                custom(vs, [*ingress_ns, *istio_crds])
        for namespace, callers in sorted(args.app_namespaces.items()):
            ns_deps = [args.namespaces[namespace]] if namespace in args.namespaces else []
            for policy in objects.authorization_policies(namespace, callers):
                custom(policy, [*ns_deps, *istio_crds])

        self.address = address.address
        self.register_outputs(
            {
                "address": self.address,
                "addressName": self.address_name,
                "hosts": self.hosts,
                "gateway": self.gateway,
                "ingressPrincipal": self.ingress_principal,
            }
        )

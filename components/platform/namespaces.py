"""Every namespace of the estate: Pod Security levels, and for application namespaces default-deny
networking with explicit allows, a ResourceQuota and a LimitRange."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common import K8S_LABELS, NAMESPACE_CLASS, child, pod_security
from components.kube.netpol import network_policies
from components.kube.pods import quota
from components.platform.app_network import allows
from components.platform.platform_network import GUARDED, platform_allows
from stacks.charts import ChartPin
from stacks.config_namespaces import NamespaceConfig

core, meta = k8s.core.v1, k8s.meta.v1

# Platform namespaces and their Pod Security level. Anything above "restricted" says why.
PLATFORM_NAMESPACES: dict[str, tuple[str, str]] = {
    "istio-system": (
        "privileged",
        "istio-cni and ztunnel program every node's pod networking: host paths, NET_ADMIN and SYS_ADMIN",
    ),
    "istio-ingress": ("restricted", ""),
    "cert-manager": ("restricted", ""),
    "external-secrets": ("restricted", ""),
    "cosign-system": ("restricted", ""),
    "keda": ("restricted", ""),
    "flagger": ("restricted", ""),
}
APPLICATION_LABEL = NAMESPACE_CLASS


def application_labels(spec: NamespaceConfig) -> dict[str, str]:
    return {
        **K8S_LABELS,
        **pod_security("restricted"),
        APPLICATION_LABEL: "application",
        # Ambient mesh: ztunnel carries the namespace's traffic with mTLS; no sidecars are injected.
        # `none` keeps a namespace out (ztunnel neither captures nor enforces there).
        "istio.io/dataplane-mode": spec.mesh,
        # Sigstore policy-controller verifies image signatures only where this label is set.
        "policy.sigstore.dev/include": "true",
        "estate.io/holds-data": "true" if spec.holds_data else "false",
    }


@dataclass(frozen=True)
class NamespacesArgs:
    namespaces: Mapping[str, NamespaceConfig]
    private_services_range: str
    provider: pulumi.ProviderResource
    protect_data: bool
    pins: Mapping[str, ChartPin]
    # Where the control plane connects from (the cluster's output): API server and webhook allows.
    control_plane_ranges: pulumi.Input[Sequence[str]]
    scraper: str | None = None  # the metrics stack's namespace, which scrapes the gateway
    collector: str | None = None  # the namespace of the collector every namespace sends OTLP to
    keda_reads_metrics: bool = False  # KEDA's operator asks Prometheus (stacks.config_observability)
    smoke_test: tuple[str, int] | None = None  # (namespace, port) Flagger calls after a promotion


class Namespaces(pulumi.ComponentResource):
    namespaces: dict[str, core.Namespace]
    application: list[str]

    def __init__(self, name: str, args: NamespacesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:namespaces:Namespaces", name, None, opts)
        self.namespaces = {}
        k8s_opts = child(self, provider=args.provider)
        for ns, (level, _reason) in PLATFORM_NAMESPACES.items():
            self.namespaces[ns] = core.Namespace(
                f"{name}-{ns}",
                core.NamespaceInitArgs(
                    metadata=meta.ObjectMetaArgs(
                        name=ns, labels={**K8S_LABELS, **pod_security(level), APPLICATION_LABEL: "platform"}
                    )
                ),
                opts=k8s_opts,
            )
        backends = sorted(n for n, spec in args.namespaces.items() if spec.ingress)
        for ns in GUARDED:
            network_policies(
                self,
                f"{name}-{ns}",
                ns,
                platform_allows(
                    ns,
                    args.pins,
                    backends,
                    args.scraper,
                    args.collector,
                    args.private_services_range,
                    keda_reads=args.keda_reads_metrics,
                    smoke_test=args.smoke_test,
                ),
                provider=args.provider,
                depends_on=[self.namespaces[ns]],
                control_plane=args.control_plane_ranges,
            )
        self.application = sorted(args.namespaces)
        for ns in self.application:
            spec = args.namespaces[ns]
            # Deleting a namespace deletes its volumes: the ones holding data are protected in prod.
            self.namespaces[ns] = namespace = core.Namespace(
                f"{name}-{ns}",
                core.NamespaceInitArgs(metadata=meta.ObjectMetaArgs(name=ns, labels=application_labels(spec))),
                opts=child(self, provider=args.provider, protect=args.protect_data and spec.holds_data),
            )
            self._guard(f"{name}-{ns}", ns, spec, args, namespace)
        self.register_outputs({"namespaces": sorted(self.namespaces), "application": self.application})

    def _guard(
        self, prefix: str, ns: str, spec: NamespaceConfig, args: NamespacesArgs, namespace: core.Namespace
    ) -> None:
        in_ns = child(self, provider=args.provider, depends_on=[namespace])

        def meta_(n: str) -> meta.ObjectMetaArgs:
            return meta.ObjectMetaArgs(name=n, namespace=ns, labels=K8S_LABELS)

        network_policies(
            self,
            prefix,
            ns,
            allows(ns, spec, args.namespaces, args.private_services_range, collector=args.collector),
            provider=args.provider,
            depends_on=[namespace],
        )
        q = spec.quota
        core.ResourceQuota(
            f"{prefix}-quota",
            core.ResourceQuotaInitArgs(
                metadata=meta_("estate-quota"),
                spec=core.ResourceQuotaSpecArgs(
                    hard={**quota(q.pods, cpu=q.cpu, memory=q.memory), "requests.nvidia.com/gpu": str(q.gpus)}
                ),
            ),
            opts=in_ns,
        )
        d = spec.container_defaults
        core.LimitRange(
            f"{prefix}-limits",
            core.LimitRangeInitArgs(
                metadata=meta_("estate-limits"),
                spec=core.LimitRangeSpecArgs(
                    limits=[
                        core.LimitRangeItemArgs(
                            type="Container",
                            default={"cpu": d.cpu, "memory": d.memory},
                            default_request={"cpu": d.cpu, "memory": d.memory},
                            max={"cpu": d.max_cpu, "memory": d.max_memory},
                        )
                    ]
                ),
            ),
            opts=in_ns,
        )

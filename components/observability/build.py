"""The observability layer's builder: validated config and the layers below in, what later
layers need out. Like the others, it reads the layers below only through their exported objects."""

from __future__ import annotations

from dataclasses import dataclass

from components.cloud import CloudLayer
from components.common import labels
from components.observability.metrics import Metrics, MetricsArgs
from components.platform import PlatformLayer
from stacks.config_mesh import fqdn
from stacks.model import EstateConfig


@dataclass(frozen=True)
class ObservabilityLayer:
    metrics: Metrics | None


def build_observability(cfg: EstateConfig, cloud: CloudLayer, platform: PlatformLayer) -> ObservabilityLayer:
    o = cfg.observability
    if not o.enabled:
        return ObservabilityLayer(metrics=None)
    metrics = Metrics(
        f"{cfg.prefix}-metrics",
        MetricsArgs(
            ctx=platform.ctx,
            config=o,
            prefix=cfg.prefix,
            pins=platform.pins,
            provider=cloud.kube.provider,
            namespaces=platform.namespaces.namespaces,
            nodes=cloud.pools,
            cluster=cloud.cluster,
            apis=cloud.apis,
            cert_manager=platform.certs,
            internal_issuer=platform.certs.internal_issuer,
            secrets_operator=platform.secrets,
            mesh_data_plane=platform.mesh.data_plane,
            mesh_control_plane=platform.mesh.control_plane,
            gateway_namespace=platform.mesh.gateway_namespace,
            gateway_selector=platform.mesh.gateway_selector,
            pools={name: pool.max_nodes for name, pool in cfg.cluster.node_pools.items()},
            kafka_namespace=cfg.kafka.namespace if cfg.kafka.enabled else None,
            harbor_namespace=cfg.harbor.namespace if cfg.harbor.enabled else None,
            node_range=cloud.cidrs.nodes,
            grafana_host=fqdn(cfg.mesh.hosts[o.grafana.host].host, cfg.dns.domain or "") if o.grafana.enabled else "",
            control_plane_ranges=cloud.cluster.control_plane_ranges,
            labels=labels(cfg.environment, "observability"),
        ),
    )
    return ObservabilityLayer(metrics=metrics)

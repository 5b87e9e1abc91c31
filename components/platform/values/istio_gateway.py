"""Values for the ingress gateway (`gateway` chart): the estate's only LoadBalancer Service.

The chart renders the Deployment with `image: auto`; istiod's gateway injection template
replaces it at admission with `global.proxy.image` (our registry, by digest: see istio.py).
That is the one admission-time mutation in the mesh, and it only fills the image and the
proxy's bootstrap; the pod security below is set on both sides so the result is what the
gate checked.
"""

from __future__ import annotations

import json
from typing import Any

from components.kube.values import (
    CONTAINER_SECURITY,
    SYSTEM_NODES,
    ChartContext,
    Values,
    resources,
    zone_spread,
)
from components.platform.values.istio import GATEWAY_POD_SECURITY, INGRESS_RELEASE, INGRESS_SELECTOR
from stacks.config_mesh import MeshConfig
from stacks.config_observability import GATEWAY_BUCKETS_MS

# Envoy listens on unprivileged ports, so the pod needs neither root, NET_BIND_SERVICE nor the
# chart's default `net.ipv4.ip_unprivileged_port_start=0` sysctl. The Service maps 80/443 to
# them and istiod translates a Gateway server's Service port to the targetPort it listens on.
HTTP_PORT, HTTPS_PORT = 8080, 8443
SERVICE_PORTS = [
    {"name": "http2", "port": 80, "protocol": "TCP", "targetPort": HTTP_PORT},
    {"name": "https", "port": 443, "protocol": "TCP", "targetPort": HTTPS_PORT},
]
# GKE takes the reserved address by NAME in this annotation (plain config, known at preview);
# `spec.loadBalancerIP` would need the address itself, a resource output unknown at preview,
# and is deprecated upstream.
IP_ANNOTATION = "networking.gke.io/load-balancer-ip-addresses"
# A backend-service-based external passthrough Network Load Balancer (GCE_VM_IP NEG backends).
RBS_ANNOTATION = "cloud.google.com/l4-rbs"


READINESS_PROBE = {
    "httpGet": {"path": "/healthz/ready", "port": 15021},
    "periodSeconds": 15,
    "timeoutSeconds": 3,
    "failureThreshold": 4,
}


class GatewayValues(Values):
    service: dict[str, Any]
    autoscaling: dict[str, Any]
    resources: dict[str, Any]
    security_context: dict[str, Any]
    container_security_context: dict[str, Any]
    node_selector: dict[str, str]
    topology_spread_constraints: list[dict[str, Any]] | None = None
    pod_disruption_budget: dict[str, Any] | None = None
    readiness_probe: dict[str, Any]
    pod_annotations: dict[str, str]


HISTOGRAM_BUCKETS = "sidecar.istio.io/statsHistogramBuckets"


def gateway_labels() -> dict[str, str]:
    """The pod labels the chart's selector uses (gateway.selectorLabels)."""
    return {"app": INGRESS_RELEASE, **INGRESS_SELECTOR}


def gateway_values(ctx: ChartContext, cfg: MeshConfig) -> GatewayValues:
    return GatewayValues(
        service={
            "type": "LoadBalancer",
            "annotations": {IP_ANNOTATION: cfg.address_name(ctx.environment), RBS_ANNOTATION: "enabled"},
            # Clients' source addresses reach the gateway (access logs, future source-IP policies).
            "externalTrafficPolicy": "Local",
            "ports": SERVICE_PORTS,
        },
        autoscaling={
            "enabled": True,
            "minReplicas": cfg.gateway.min_replicas,
            "maxReplicas": cfg.gateway.max_replicas,
            "targetCPUUtilizationPercentage": 75,
        },
        resources=resources("500m", "512Mi", cpu_limit="2", memory_limit="1Gi")
        if ctx.prod
        else resources("100m", "128Mi", cpu_limit="1", memory_limit="512Mi"),
        security_context=GATEWAY_POD_SECURITY,
        container_security_context={**CONTAINER_SECURITY, "privileged": False},
        node_selector=dict(SYSTEM_NODES),
        topology_spread_constraints=zone_spread(gateway_labels()) if ctx.prod else None,
        # The same probe the injection template adds, so the gate sees the pod as it will run.
        readiness_probe=READINESS_PROBE,
        # templates/poddisruptionbudget.yaml renders it only with more than one replica.
        pod_disruption_budget={"minAvailable": 1} if ctx.prod else None,
        # Request-duration buckets with the SLOs' edges (stacks.config_observability), read by the
        # proxy at start-up.
        pod_annotations={HISTOGRAM_BUCKETS: json.dumps({"istiocustom": list(GATEWAY_BUCKETS_MS)})},
    )

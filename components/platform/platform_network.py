"""What the platform's own namespaces may reach, decided from the pins: pure functions.

Each platform namespace denies all traffic by default like an application namespace, then
allows what its controllers need: DNS, the API server, the control plane calling its webhooks
(on the ports declared with the chart's pin), Google APIs through the metadata server's
credentials, ACME, and the ingress gateway's listeners.

istio-system has none: ztunnel and istio-cni run on every node and enter every meshed pod's
network namespace, and istiod serves every proxy; a default-deny there would cut the mesh, and
its Pod Security level (privileged) already marks it as the cluster's data plane.
"""

from __future__ import annotations

from collections.abc import Mapping

from components.kube.netpol import (
    HBONE_PORT,
    REDIS_TLS_PORT,
    Allow,
    Peer,
    api_server,
    dns,
    for_pods,
    from_control_plane,
    google_apis,
    mesh_control_plane,
    metadata_server,
    public_internet,
    same_namespace,
    tcp,
)
from components.platform.app_network import otlp_to_collector
from components.platform.values.istio_gateway import HTTP_PORT, HTTPS_PORT
from stacks.charts import ChartPin
from stacks.cidr import HEALTH_CHECK_RANGES
from stacks.config_observability import PROMETHEUS_PODS

PROMETHEUS_PORT = 9090

# The platform namespace whose controller serves each chart's webhooks.
WEBHOOK_CHARTS = {
    "cert-manager": "cert-manager",
    "external-secrets": "external-secrets",
    "cosign-system": "policy-controller",
}
GATEWAY_STATUS_PORT = 15021


ENVOY_METRICS_PORT = 15090  # the gateway's `http-envoy-prom` container port
CERT_MANAGER_METRICS_PORT = 9402  # cert-manager's controller (`http-metrics`)


def platform_allows(
    namespace: str,
    pins: Mapping[str, ChartPin],
    backends: list[str],
    scraper: str | None = None,
    collector: str | None = None,
    private_services: str | None = None,
    keda_reads: bool = False,
    smoke_test: tuple[str, int] | None = None,
) -> list[Allow]:
    """The allows of one platform namespace. `backends`: application namespaces behind the gateway;
    `scraper`: the namespace whose Prometheus reads the gateway's metrics (None: no metrics stack);
    `collector`: the namespace of the collector the gateway sends its spans to; `private_services`:
    the Private Service Access range (Memorystore, which KEDA's scalers read)."""
    if namespace == "flagger":
        # In the ambient mesh (its pod's label): the API server, istiod, and Prometheus over HBONE.
        out = [dns(), api_server(), mesh_control_plane()]
        if scraper:
            prometheus = Peer(namespace=scraper, pods=PROMETHEUS_PODS)
            out.append(Allow("allow-prometheus", "Egress", (prometheus,), tcp(HBONE_PORT, PROMETHEUS_PORT)))
        if smoke_test:
            # The post-rollout webhook: n8n's smoke test, after each promotion.
            out.append(
                Allow("allow-smoke-test", "Egress", (Peer(namespace=smoke_test[0]),), tcp(HBONE_PORT, smoke_test[1]))
            )
        return out
    if namespace == "keda":
        out = [dns(), api_server(), from_control_plane("allow-from-control-plane", pins["keda"].control_plane_ports)]
        # The metrics API server asks the operator for each metric over gRPC (mutual TLS).
        out += list(same_namespace())
        operator = (("app", "keda-operator"),)
        if private_services:
            out.append(
                for_pods(Allow("allow-redis", "Egress", (Peer(cidr=private_services),), tcp(REDIS_TLS_PORT)), operator)
            )
        if keda_reads and scraper:
            # The operator, in the ambient mesh for its calls out (its pod's label and annotation), asks
            # Prometheus for the model servers' queues over HBONE.
            prometheus = Peer(namespace=scraper, pods=PROMETHEUS_PODS)
            out.append(
                for_pods(Allow("allow-prometheus", "Egress", (prometheus,), tcp(HBONE_PORT, PROMETHEUS_PORT)), operator)
            )
        return out
    if namespace in WEBHOOK_CHARTS:
        out = [dns(), api_server(), metadata_server(), google_apis()]
        ports = pins[WEBHOOK_CHARTS[namespace]].control_plane_ports
        if ports:
            out.append(from_control_plane("allow-webhook-from-control-plane", ports))
        if namespace == "cert-manager":
            # ACME (Let's Encrypt) is on 443 like the Google APIs; the DNS-01 self-check asks the
            # zone's public authoritative name servers directly on 53 before telling ACME to look.
            out.append(public_internet("allow-dns01-self-check", (("UDP", 53), ("TCP", 53))))
            if scraper:
                # The controller's metrics: certificate expiry and readiness alerts.
                out.append(
                    Allow("allow-metrics-scrape", "Ingress", (Peer(namespace=scraper),), tcp(CERT_MANAGER_METRICS_PORT))
                )
        return out
    if namespace == "istio-ingress":
        out = [
            dns(),
            mesh_control_plane(),
            # The external passthrough load balancer keeps client addresses: anyone, on the listeners.
            Allow("allow-listeners", "Ingress", (Peer(cidr="0.0.0.0/0"),), tcp(HTTP_PORT, HTTPS_PORT)),
            Allow(
                "allow-health-checks",
                "Ingress",
                tuple(Peer(cidr=c) for c in HEALTH_CHECK_RANGES),
                tcp(GATEWAY_STATUS_PORT),
            ),
        ]
        if backends:
            out.append(Allow("allow-backends", "Egress", tuple(Peer(namespace=ns) for ns in sorted(backends))))
        if scraper:
            # Envoy's Prometheus endpoint: the SLOs are measured on the gateway's requests.
            out.append(Allow("allow-metrics-scrape", "Ingress", (Peer(namespace=scraper),), tcp(ENVOY_METRICS_PORT)))
        if collector:
            out.append(otlp_to_collector(collector))
        return out
    raise ValueError(f"{namespace}: no network rules for this platform namespace")


# Namespaces that get a default-deny: every platform namespace but the mesh's own.
GUARDED = ("cert-manager", "external-secrets", "cosign-system", "istio-ingress", "keda", "flagger")

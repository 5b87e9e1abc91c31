"""Harbor's objects outside its chart, as plain data decided by pure functions: its certificates,
the gateway's TLS passthrough to it, and who may reach which of its pods (mesh and network).

TLS reaches Harbor itself: the gateway passes `registry.<domain>` through by SNI to Harbor's nginx,
which serves a publicly trusted certificate (cert-manager, ACME DNS-01) so docker, containerd and
cosign verify Harbor and nothing in between. Inside, every component serves TLS from the estate's
internal CA (`internalTLS`), and the mesh adds mTLS and identity on every hop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.data.values_harbor import HTTPS_PORT, RELEASE, SERVICE, service_account
from components.kube import authz
from components.kube.authz import principal
from components.kube.certificates import API_VERSION as CERT_API
from components.kube.certificates import CertificateSpec, IssuerRef
from components.kube.custom import Manifest, deleted_in_foreground
from components.kube.istio import API_VERSION as ISTIO_API
from components.kube.istio import (
    GatewaySpec,
    Port,
    Server,
    ServerTls,
    TlsMatch,
    TlsRoute,
    VirtualServiceSpec,
    service_destination,
)
from components.kube.netpol import CLOUD_SQL_PORT, HBONE_PORT, Allow, Peer, for_pods, google_apis, public_internet, tcp
from stacks.config_harbor import DB_PROXY

PUBLIC_TLS = "estate-harbor-public-tls"
CA_BUNDLE = "estate-harbor-ca-bundle"
PROXY = DB_PROXY  # the Cloud SQL Auth Proxy's Deployment, Service and pod label
PROXY_PORT = 5432
# The chart's components and the Secret each one's internal TLS certificate lives in. The registry's
# controller shares the registry's; the exporter mounts core's.
INTERNAL_TLS = {c: f"estate-harbor-{c}-internal-tls" for c in ("core", "jobservice", "registry", "portal", "trivy")}
# Every pod of the chart: `harbor.matchLabels` plus `component`.
CHART_POD = (("app", "harbor"),)
JOBSERVICE_POD = (*CHART_POD, ("component", "jobservice"))  # it sends the projects' webhooks
# Who talks to the database: core and the exporter, and jobservice, which opens its own connection
# pool (job logs, its job records: Harbor src/jobservice/job/impl/context.go, dao.InitDatabase).
DATABASE_CLIENTS = ("core", "jobservice", "exporter")
COMPONENTS = ("core", "portal", "jobservice", "registry", "trivy", "exporter", "nginx", "redis")


def internal_names(component: str, namespace: str) -> list[str]:
    """The names components call each other by (short Service names, as the chart's URLs use them)."""
    service = f"{RELEASE}-{component}"
    return [service, f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]


def internal_certificates(namespace: str, issuer: str) -> list[Manifest]:
    """One certificate per component from the internal CA, serving and client use. Core is also
    called on https://127.0.0.1:8443 by itself (CORE_LOCAL_URL) and as localhost."""
    out = []
    for component, secret in sorted(INTERNAL_TLS.items()):
        names = internal_names(component, namespace)
        extra_ip = None
        if component == "core":
            names, extra_ip = [*names, "localhost"], ["127.0.0.1"]
        spec = CertificateSpec(
            secret_name=secret,
            dns_names=names,
            ip_addresses=extra_ip,
            usages=["server auth", "client auth", "digital signature", "key encipherment"],
            issuer_ref=IssuerRef(name=issuer),
        )
        out.append(Manifest(CERT_API, "Certificate", secret, spec, namespace=namespace, wait_for_condition="Ready"))
    # Its `ca.crt` is the internal CA: Trivy's trust bundle and the portal's CA download. Its own key
    # pair is never used by anyone.
    bundle = CertificateSpec(
        secret_name=CA_BUNDLE, dns_names=[f"ca-bundle.{namespace}.svc"], issuer_ref=IssuerRef(name=issuer)
    )
    out.append(Manifest(CERT_API, "Certificate", CA_BUNDLE, bundle, namespace=namespace, wait_for_condition="Ready"))
    return out


def public_certificate(namespace: str, host: str, issuer: str) -> dict[str, Any]:
    """Harbor's own name, from the ACME issuer; deleted in the foreground (its Challenges' finalizers)."""
    spec = CertificateSpec(secret_name=PUBLIC_TLS, dns_names=[host], issuer_ref=IssuerRef(name=issuer))
    manifest = Manifest(CERT_API, "Certificate", PUBLIC_TLS, spec, namespace=namespace, wait_for_condition="Ready")
    return deleted_in_foreground(manifest.obj())


# ---------------------------------------------------------------- the gateway's TLS passthrough
GATEWAY = "harbor-passthrough"


def passthrough_gateway(gateway_namespace: str, selector: Mapping[str, str], host: str) -> Manifest:
    """A second Gateway on the same ingress pods: 443 for Harbor's name only, TLS not terminated."""
    server = Server(
        port=Port(number=443, name="tls-harbor", protocol="TLS"), hosts=[host], tls=ServerTls(mode="PASSTHROUGH")
    )
    return Manifest(
        ISTIO_API,
        "Gateway",
        GATEWAY,
        GatewaySpec(selector=dict(selector), servers=[server]),
        namespace=gateway_namespace,
    )


def passthrough_route(gateway_namespace: str, host: str, namespace: str) -> Manifest:
    route = TlsRoute(
        match=[TlsMatch(port=443, sni_hosts=[host])], route=[service_destination(SERVICE, namespace, HTTPS_PORT)]
    )
    spec = VirtualServiceSpec(hosts=[host], gateways=[f"{gateway_namespace}/{GATEWAY}"], tls=[route])
    return Manifest(ISTIO_API, "VirtualService", "harbor", spec, namespace=gateway_namespace)


# ---------------------------------------------------------------- who may reach what
def authorization_policies(namespace: str, registry_service_account: str) -> list[dict[str, Any]]:
    """On top of the namespace's deny-all and the gateway's allow (the platform's): Harbor's components
    reach each other, and only the database's clients reach the Auth Proxy, on its port."""

    def sa(component: str) -> str:
        return registry_service_account if component == "registry" else service_account(component)

    components = [principal(namespace, sa(c)) for c in COMPONENTS]
    clients = [principal(namespace, sa(c)) for c in DATABASE_CLIENTS]
    return [
        authz.allow_principals("allow-harbor-components", namespace, components, selector=dict(CHART_POD)),
        authz.allow_principals(
            "allow-harbor-db-proxy", namespace, clients, ports=[PROXY_PORT], selector={"app": PROXY}
        ),
    ]


def network_allows(namespace: str, private_services: str) -> list[Allow]:
    """NetworkPolicies beside the namespace's defaults (DNS, metadata server, istiod, probes, the
    gateway in): each egress scoped to the pods that need it. Ambient traffic between pods arrives
    on HBONE (15008), so in-namespace allows name it beside the application port."""
    here = Peer(same_namespace=True)
    chart = Peer(namespace=namespace, pods=CHART_POD)
    clients = tuple(Peer(namespace=namespace, pods=(("app", "harbor"), ("component", c))) for c in DATABASE_CLIENTS)
    proxy = (("app", PROXY),)
    return [
        Allow("allow-harbor-components-in", "Ingress", (chart,), pods=CHART_POD),
        Allow("allow-harbor-components-out", "Egress", (here,), pods=CHART_POD),
        Allow("allow-harbor-db-proxy-in", "Ingress", clients, tcp(PROXY_PORT, HBONE_PORT), pods=proxy),
        Allow(
            "allow-harbor-db-proxy-cloud-sql", "Egress", (Peer(cidr=private_services),), tcp(CLOUD_SQL_PORT), pods=proxy
        ),
        # The proxy asks the Cloud SQL Admin API for the instance's address and certificates.
        for_pods(google_apis("allow-harbor-db-proxy-google-apis"), proxy),
        # Blobs in Cloud Storage.
        for_pods(google_apis("allow-harbor-registry-google-apis"), (("app", "harbor"), ("component", "registry"))),
        # Trivy's vulnerability databases (one host by default, mirror.gcr.io): a NetworkPolicy
        # cannot name a host, so HTTPS to public addresses, from the Trivy pods only.
        for_pods(
            public_internet("allow-harbor-trivy-databases", tcp(443)), (("app", "harbor"), ("component", "trivy"))
        ),
    ]

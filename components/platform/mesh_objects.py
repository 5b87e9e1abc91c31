"""The custom resources the mesh component creates, as typed specs and pure builders.

Each builder returns the whole object (apiVersion, kind, metadata, spec) as plain data, so
tests check it against the upstream CRD schema and the component registers exactly that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from components.kube import authz
from components.kube.authz import principal
from components.kube.certificates import CertificateSpec, IssuerRef
from components.kube.custom import Spec, deleted_in_foreground
from components.kube.istio import (
    GatewaySpec,
    HttpRoute,
    Port,
    Server,
    ServerTls,
    VirtualServiceSpec,
    service_destination,
)
from components.platform.values.istio import (
    INGRESS_NAMESPACE,
    INGRESS_PRINCIPAL,
    INGRESS_SELECTOR,
    SYSTEM_NAMESPACE,
)

INGRESS_CALLER = "ingress"  # the caller name that means "the ingress gateway", whatever tuple comes with it
GATEWAY_NAME = "public"
GATEWAY_REF = f"{INGRESS_NAMESPACE}/{GATEWAY_NAME}"


# ---------------------------------------------------------------- security.istio.io/v1
class Mtls(Spec):
    mode: Literal["STRICT"]


class PeerAuthenticationSpec(Spec):
    mtls: Mtls


# ---------------------------------------------------------------- builders
def _obj(api_version: str, kind: str, name: str, namespace: str, spec: Spec) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec.dump(),
    }


def peer_authentication() -> dict[str, Any]:
    """Mesh-wide STRICT mTLS: the PeerAuthentication named default in the root namespace."""
    spec = PeerAuthenticationSpec(mtls=Mtls(mode="STRICT"))
    return _obj("security.istio.io/v1", "PeerAuthentication", "default", SYSTEM_NAMESPACE, spec)


def caller_principal(caller: str, identity: tuple[str, str]) -> str:
    return INGRESS_PRINCIPAL if caller == INGRESS_CALLER else principal(*identity)


def authorization_policies(namespace: str, callers: Mapping[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """Deny by default, then one ALLOW per caller (by its workload identity)."""
    return authz.authorization_policies(namespace, {c: caller_principal(c, i) for c, i in callers.items()})


def tls_secret(name: str) -> str:
    return f"ingress-{name}-tls"


def certificate(name: str, host: str, issuer: str) -> dict[str, Any]:
    # In the gateway's namespace: a Gateway's credentialName is read from there.
    spec = CertificateSpec(secret_name=tls_secret(name), dns_names=[host], issuer_ref=IssuerRef(name=issuer))
    # An ACME certificate's Challenges hold a finalizer only the running controller removes.
    return deleted_in_foreground(_obj("cert-manager.io/v1", "Certificate", f"ingress-{name}", INGRESS_NAMESPACE, spec))


def gateway(hosts: Mapping[str, str], min_tls: Literal["TLSV1_2", "TLSV1_3"]) -> dict[str, Any]:
    """HTTPS per host with its own certificate; port 80 only redirects."""
    servers = [
        Server(
            port=Port(number=443, name=f"https-{name}", protocol="HTTPS"),
            hosts=[host],
            tls=ServerTls(mode="SIMPLE", credential_name=tls_secret(name), min_protocol_version=min_tls),
        )
        for name, host in sorted(hosts.items())
    ]
    redirect = Server(
        port=Port(number=80, name="http-redirect", protocol="HTTP"),
        hosts=sorted(hosts.values()),
        tls=ServerTls(https_redirect=True),
    )
    spec = GatewaySpec(selector=dict(INGRESS_SELECTOR), servers=[*servers, redirect])
    return _obj("networking.istio.io/v1", "Gateway", GATEWAY_NAME, INGRESS_NAMESPACE, spec)


def virtual_service(name: str, host: str, namespace: str, service: str, port: int) -> dict[str, Any]:
    spec = VirtualServiceSpec(
        hosts=[host], gateways=[GATEWAY_REF], http=[HttpRoute(route=[service_destination(service, namespace, port)])]
    )
    return _obj("networking.istio.io/v1", "VirtualService", f"ingress-{name}", INGRESS_NAMESPACE, spec)

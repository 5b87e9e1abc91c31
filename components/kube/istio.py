"""Istio networking specs (networking.istio.io/v1) every layer builds its gateway objects from:
a Gateway's servers and a VirtualService's HTTP or TLS (SNI) routes, typed so a misspelt field
fails here and tests check the rendered object against Istio's CRD."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from components.kube.custom import Spec

API_VERSION = "networking.istio.io/v1"


class Port(Spec):
    number: int
    name: str
    protocol: Literal["HTTP", "HTTPS", "TLS"]


class ServerTls(Spec):
    # SIMPLE: the gateway terminates TLS with `credential_name`; PASSTHROUGH: it routes by SNI only.
    mode: Literal["SIMPLE", "PASSTHROUGH"] | None = None
    credential_name: str | None = None
    min_protocol_version: Literal["TLSV1_2", "TLSV1_3"] | None = None
    https_redirect: bool | None = None


class Server(Spec):
    port: Port
    hosts: list[str] = Field(min_length=1)
    tls: ServerTls


class GatewaySpec(Spec):
    selector: dict[str, str]
    servers: list[Server] = Field(min_length=1)


class PortSelector(Spec):
    number: int


class Destination(Spec):
    host: str
    port: PortSelector


class RouteDestination(Spec):
    destination: Destination


class StringMatch(Spec):
    prefix: str


class HttpMatch(Spec):
    uri: StringMatch


class Delegate(Spec):
    name: str
    namespace: str


class HttpRoute(Spec):
    """One HTTP route: to destinations, or handed to a delegate VirtualService (which then says where)."""

    name: str | None = None
    match: list[HttpMatch] | None = None
    route: list[RouteDestination] | None = None
    delegate: Delegate | None = None
    timeout: str | None = None  # the whole request; unset: none (long-lived WebSocket connections)


class TlsMatch(Spec):
    port: int
    sni_hosts: list[str] = Field(min_length=1)


class TlsRoute(Spec):
    match: list[TlsMatch] = Field(min_length=1)
    route: list[RouteDestination] = Field(min_length=1)


class VirtualServiceSpec(Spec):
    hosts: list[str] = Field(min_length=1)
    gateways: list[str] = Field(min_length=1)
    http: list[HttpRoute] | None = None
    tls: list[TlsRoute] | None = None


def service_destination(service: str, namespace: str, port: int) -> RouteDestination:
    """A route to a Service by its cluster-local name."""
    return RouteDestination(
        destination=Destination(host=f"{service}.{namespace}.svc.cluster.local", port=PortSelector(number=port))
    )

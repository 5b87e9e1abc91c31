"""`ai-estate:mesh`: the Istio ambient mesh's ingress hosts, gateway sizing and TLS floor.

Hosts are named relative to the DNS domain (`ai-estate:dns.domain`) by default: a host
without a dot (`api`) is a label in the domain, so the environment defaults can name hosts
without knowing the domain, and a stack only writes a full name when it wants one. A host
with a dot is a full name and must lie inside the domain (the DNS zone and the ACME DNS-01
solver only cover the domain).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any, Literal

from pydantic import Field

from stacks.base import Model, Name
from stacks.problem import Problem

# One DNS label, or a dotted name of labels (RFC 1123, lower case).
_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
HostName = Annotated[str, Field(pattern=rf"^{_LABEL}(\.{_LABEL})*$", max_length=253)]
AddressName = Annotated[str, Field(pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")]


class Backend(Model):
    """Where the gateway routes a host: a Service in an application namespace."""

    namespace: Name
    service: Annotated[str, Field(pattern=rf"^{_LABEL}$")]
    port: int = Field(ge=1, le=65535)


class Host(Model):
    host: HostName = Field(description="A label inside the DNS domain ('api') or a full name inside it.")
    backend: Backend | None = Field(None, description="Service the gateway routes this host to; none yet = no route.")


class Replicas(Model):
    min_replicas: int = Field(1, ge=1, le=20)
    max_replicas: int = Field(3, ge=1, le=50)


class MeshConfig(Model):
    hosts: dict[Name, Host] = Field(default_factory=dict)
    static_ip_name: AddressName | None = Field(
        None, description="Name of the reserved regional external address; estate-<env>-ingress when absent."
    )
    gateway: Replicas = Replicas()
    istiod: Replicas = Replicas()
    # TLS 1.2 is the floor the issue sets; 1.3 may be chosen, nothing older can be written.
    min_tls_version: Literal["TLSV1_2", "TLSV1_3"] = "TLSV1_2"
    access_log: bool = Field(True, description="Envoy access logs of the gateway (JSON on stdout).")

    def address_name(self, environment: str) -> str:
        return self.static_ip_name or f"estate-{environment}-ingress"


def fqdn(host: str, domain: str) -> str:
    """A host's full name: a single label is relative to the domain, a dotted name is already full."""
    return host if "." in host else f"{host}.{domain}"


def resolved_hosts(cfg: MeshConfig, domain: str) -> dict[str, str]:
    return {name: fqdn(h.host, domain) for name, h in cfg.hosts.items()}


def _inside(name: str, domain: str) -> bool:
    return name == domain or name.endswith("." + domain)


def check(cfg: MeshConfig, domain: str, *, prod: bool, app_namespaces: Collection[str]) -> list[Problem]:
    """Cross-field rules: hosts inside the domain and distinct, backends in known application
    namespaces, replica bounds, and an HA gateway and control plane in prod."""

    out: list[Problem] = []
    seen: dict[str, str] = {}
    for name, host in cfg.hosts.items():
        full = fqdn(host.host, domain)
        path = f"mesh.hosts.{name}.host"
        if not _inside(full, domain):
            out.append(Problem(path, host.host, f"must be inside the DNS domain dns.domain ({domain!r})"))
        elif full in seen:
            out.append(Problem(path, host.host, f"{full!r} is already served by mesh.hosts.{seen[full]}"))
        else:
            seen[full] = name
        if host.backend is not None and host.backend.namespace not in app_namespaces:
            out.append(
                Problem(
                    f"mesh.hosts.{name}.backend.namespace",
                    host.backend.namespace,
                    f"must be an application namespace ({sorted(app_namespaces)})",
                )
            )
    for area in ("gateway", "istiod"):
        replicas: Replicas = getattr(cfg, area)
        if replicas.min_replicas > replicas.max_replicas:
            out.append(
                Problem(
                    f"mesh.{area}.minReplicas",
                    replicas.min_replicas,
                    f"must be <= mesh.{area}.maxReplicas ({replicas.max_replicas})",
                )
            )
        if prod and replicas.min_replicas < 2:
            out.append(
                Problem(f"mesh.{area}.minReplicas", replicas.min_replicas, "prod needs 2 or more, spread over zones")
            )
    return out


DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {
        # The cells' hosts (stacks.config_cells.REFERENCE): the web app and its API, the chat.
        "hosts": {"api": {"host": "api"}, "app": {"host": "app"}, "chat": {"host": "chat"}},
        "gateway": {"minReplicas": 1, "maxReplicas": 2},
        "istiod": {"minReplicas": 1, "maxReplicas": 2},
    },
    "prod": {
        # The cells' hosts (stacks.config_cells.REFERENCE): the web app and its API, the chat.
        "hosts": {"api": {"host": "api"}, "app": {"host": "app"}, "chat": {"host": "chat"}},
        "gateway": {"minReplicas": 3, "maxReplicas": 10},
        "istiod": {"minReplicas": 2, "maxReplicas": 5},
    },
}

"""TLS everywhere outside the mesh: ingresses, exposure, data services, Kafka, Harbor, load balancers."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity

from estate_policies.charts import chart_name
from estate_policies.common import get, items, of_types, resource_policy, rules, stack_policy

NIST_TLS = "NIST SP 800-52r2"
CIS_GCP = "CIS Google Cloud Platform Foundation Benchmark"
KAFKA = ("kubernetes:kafka.strimzi.io/v1beta2:Kafka", "kubernetes:kafka.strimzi.io/v1:Kafka")


def _ingress(_t: str, props: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    covered = {h for t in items(get(props, "spec", "tls")) for h in items(t.get("hosts"))}
    hosts = [r.get("host") for r in items(get(props, "spec", "rules"))]
    if not items(get(props, "spec", "tls")):
        yield "ingress has no spec.tls"
    for host in hosts:
        if host not in covered:
            yield f"host {host!r} is not covered by spec.tls"


def _exposure(_t: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    kind = get(props, "spec", "type", default="ClusterIP")
    if kind in ("LoadBalancer", "NodePort"):
        ident = f"{get(props, 'metadata', 'namespace', default='default')}/{get(props, 'metadata', 'name')}"
        allowed = list(config.get("allowedGateways", []))
        if ident not in allowed:
            yield f"service {ident} is {kind}; only allowlisted gateways may be exposed ({allowed})"


def _cloudsql(_t: str, props: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    ip = get(props, "settings", "ipConfiguration", default={}) or {}
    if ip.get("sslMode") != "TRUSTED_CLIENT_CERTIFICATE_REQUIRED":
        yield f"settings.ipConfiguration.sslMode is {ip.get('sslMode')!r}; require TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    if ip.get("ipv4Enabled") is not False:
        yield "settings.ipConfiguration.ipv4Enabled must be false (private IP only)"
    for net in items(ip.get("authorizedNetworks")):
        value = str(net.get("value", ""))
        try:
            open_ = ipaddress.ip_network(value, strict=False).prefixlen == 0
        except ValueError:
            open_ = False
        if open_:
            yield f"authorized network {value} opens the instance to the internet"


def _redis(_t: str, props: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if props.get("authEnabled") is not True:
        yield "authEnabled must be true"
    if props.get("transitEncryptionMode") != "SERVER_AUTHENTICATION":
        yield f"transitEncryptionMode is {props.get('transitEncryptionMode')!r}; set SERVER_AUTHENTICATION"


def _ssl_policy(_t: str, props: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if props.get("minTlsVersion") not in ("TLS_1_2", "TLS_1_3"):
        yield f"minTlsVersion is {props.get('minTlsVersion')!r}; require TLS_1_2 or newer"


def _kafka_absent(resources: list[PolicyResource]) -> str | None:
    return None if any(r.resource_type in KAFKA for r in resources) else "no Strimzi Kafka in the plan yet"


def _kafka(resources: list[PolicyResource], _c: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    for r in resources:
        if r.resource_type not in KAFKA:
            continue
        listeners = items(get(r.props, "spec", "kafka", "listeners"))
        if not listeners:
            yield f"Kafka {r.name}: no listeners declared", r.urn
        for listener in listeners:
            if listener.get("tls") is not True:
                yield f"Kafka {r.name}: listener {listener.get('name')!r} has tls: {listener.get('tls')}", r.urn


def _harbor_absent(resources: list[PolicyResource]) -> str | None:
    return None if any(chart_name(r) == "harbor" for r in resources) else "no Harbor in the plan yet"


def _harbor(resources: list[PolicyResource], _c: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    for r in resources:
        if chart_name(r) != "harbor":
            continue
        values = get(r.props, "values", default={}) or {}
        if get(values, "expose", "tls", "enabled") is not True:
            yield f"Harbor {r.name}: values.expose.tls.enabled must be true", r.urn
        if not str(get(values, "externalURL", default="")).startswith("https://"):
            yield f"Harbor {r.name}: values.externalURL must be https://", r.urn
        if get(values, "internalTLS", "enabled") is not True:
            yield f"Harbor {r.name}: values.internalTLS.enabled must be true (TLS between its components)", r.urn


_r = rules("estate-tls-")

POLICIES = [
    resource_policy(
        _r(
            "ingress",
            "Ingresses carry TLS for every host.",
            Severity.HIGH,
            NIST_TLS,
            "Add spec.tls entries for every host (cert-manager issues the certificates).",
        ),
        of_types("kubernetes:networking.k8s.io/v1:Ingress"),
        _ingress,
    ),
    resource_policy(
        _r(
            "service-exposure",
            "Only allowlisted gateways are LoadBalancer or NodePort Services.",
            Severity.HIGH,
            "CIS GKE Benchmark: 5.6 (cluster networking)",
            "Use ClusterIP and route through the Istio ingress gateway; allowlist gateways in policy config.",
            config={"allowedGateways": {"type": "array", "items": {"type": "string"}, "default": []}},
        ),
        of_types("kubernetes:core/v1:Service"),
        _exposure,
    ),
    resource_policy(
        _r(
            "cloudsql",
            "Cloud SQL requires TLS with trusted client certificates and has no public IP.",
            Severity.CRITICAL,
            f"{CIS_GCP}: 6.4, 6.5, 6.6 (Cloud SQL SSL, not open, no public IP)",
            "sslMode TRUSTED_CLIENT_CERTIFICATE_REQUIRED, ipv4Enabled false; connect via the Auth Proxy.",
        ),
        of_types("gcp:sql/databaseInstance:DatabaseInstance"),
        _cloudsql,
    ),
    resource_policy(
        _r(
            "memorystore",
            "Memorystore requires AUTH and in-transit encryption.",
            Severity.HIGH,
            f"{NIST_TLS}: encrypt data in transit",
            "authEnabled: true and transitEncryptionMode: SERVER_AUTHENTICATION.",
        ),
        of_types("gcp:redis/instance:Instance"),
        _redis,
    ),
    stack_policy(
        _r(
            "kafka",
            "Every Strimzi Kafka listener uses TLS.",
            Severity.HIGH,
            f"{NIST_TLS}",
            "Set tls: true on every listener in spec.kafka.listeners.",
        ),
        _kafka_absent,
        _kafka,
    ),
    stack_policy(
        _r(
            "harbor",
            "Harbor is exposed only over TLS, and its components talk TLS to each other.",
            Severity.HIGH,
            f"{NIST_TLS}",
            "Set expose.tls.enabled: true, an https:// externalURL and internalTLS.enabled: true.",
        ),
        _harbor_absent,
        _harbor,
    ),
    resource_policy(
        _r(
            "ssl-policy",
            "Load-balancer SSL policies require TLS 1.2 or newer.",
            Severity.HIGH,
            f"{CIS_GCP}: 3.9 (weak cipher suites)",
            "minTlsVersion: TLS_1_2 with a MODERN or RESTRICTED profile.",
        ),
        of_types("gcp:compute/sSLPolicy:SSLPolicy"),
        _ssl_policy,
    ),
]

"""The Istio mesh: mTLS STRICT everywhere, DestinationRules that keep it, gateways that serve TLS 1.2+."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity

from estate_policies.charts import chart_name
from estate_policies.common import get, items, of_types, resource_policy, rules, stack_policy

ISTIO = "Istio security best practices"
NIST_TLS = "NIST SP 800-52r2"
MESH_ROOT = "istio-system"
PEER_AUTHN = (
    "kubernetes:security.istio.io/v1:PeerAuthentication",
    "kubernetes:security.istio.io/v1beta1:PeerAuthentication",
)
DEST_RULE = (
    "kubernetes:networking.istio.io/v1:DestinationRule",
    "kubernetes:networking.istio.io/v1beta1:DestinationRule",
    "kubernetes:networking.istio.io/v1alpha3:DestinationRule",
)
GATEWAY = (
    "kubernetes:networking.istio.io/v1:Gateway",
    "kubernetes:networking.istio.io/v1beta1:Gateway",
    "kubernetes:networking.istio.io/v1alpha3:Gateway",
)
MODERN_TLS = ("TLSV1_2", "TLSV1_3")
# Modes where the gateway hands the TLS stream to the backend instead of terminating it.
PASSTHROUGH = ("PASSTHROUGH", "AUTO_PASSTHROUGH")


def mesh_absent(resources: list[PolicyResource]) -> str | None:
    mesh = any(
        r.resource_type.startswith(("kubernetes:security.istio.io/", "kubernetes:networking.istio.io/"))
        or chart_name(r) in ("istiod", "base")
        for r in resources
    )
    return None if mesh else "no Istio mesh in the plan yet"


def _mesh_strict(resources: list[PolicyResource], config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    root = config.get("meshRootNamespace", MESH_ROOT)
    strict = [
        r
        for r in resources
        if r.resource_type in PEER_AUTHN
        and get(r.props, "metadata", "namespace") == root
        and not get(r.props, "spec", "selector")
        and get(r.props, "spec", "mtls", "mode") == "STRICT"
    ]
    if not strict:
        yield f"no mesh-wide PeerAuthentication in {root!r} with mtls.mode STRICT", None


def _peer_authn(_t: str, props: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    modes = {"": get(props, "spec", "mtls", "mode")}
    port_level = get(props, "spec", "portLevelMtls", default={}) or {}
    modes.update({f" (port {port})": get(v, "mode") for port, v in port_level.items()})
    for where, mode in modes.items():
        if mode in ("PERMISSIVE", "DISABLE"):
            yield f"mtls.mode{where} is {mode}; only STRICT (or UNSET to inherit STRICT) is allowed"


def _dest_rule(_t: str, props: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    policies = [("trafficPolicy", get(props, "spec", "trafficPolicy", default={}) or {})]
    policies += [
        (f"subset {s.get('name')!r}", s.get("trafficPolicy") or {}) for s in items(get(props, "spec", "subsets"))
    ]
    for where, policy in list(policies):
        for pls in items(policy.get("portLevelSettings")):
            policies.append((f"{where} port {get(pls, 'port', 'number')}", pls))
    for where, policy in policies:
        if get(policy, "tls", "mode") == "DISABLE":
            yield f"{where}: tls.mode DISABLE turns off mTLS; use ISTIO_MUTUAL"


def _gateway(_t: str, props: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for server in items(get(props, "spec", "servers")):
        proto = str(get(server, "port", "protocol", default="")).upper()
        name = get(server, "port", "name", default="?")
        tls = get(server, "tls", default={}) or {}
        if proto in ("HTTPS", "TLS"):
            mode = tls.get("mode")
            if not mode:
                yield f"server {name!r}: {proto} without tls settings"
            elif mode not in PASSTHROUGH:
                if tls.get("minProtocolVersion") not in MODERN_TLS:
                    yield f"server {name!r}: tls.minProtocolVersion is {tls.get('minProtocolVersion')!r}; set TLSV1_2"
                if tls.get("maxProtocolVersion") in ("TLSV1_0", "TLSV1_1"):
                    yield f"server {name!r}: tls.maxProtocolVersion {tls['maxProtocolVersion']} is older than TLS 1.2"
        elif proto == "HTTP":
            if tls.get("httpsRedirect") is not True:
                yield f"server {name!r}: plain HTTP is allowed only with tls.httpsRedirect: true"
        else:
            yield f"server {name!r}: protocol {proto or '?'} is not HTTPS/TLS"


_r = rules("estate-tls-")

POLICIES = [
    stack_policy(
        _r(
            "mesh-strict",
            "A mesh-wide PeerAuthentication enforces STRICT mTLS.",
            Severity.HIGH,
            f"{ISTIO}: mutual TLS (STRICT)",
            "Create PeerAuthentication 'default' in istio-system with spec.mtls.mode: STRICT.",
            config={"meshRootNamespace": {"type": "string", "default": MESH_ROOT}},
        ),
        mesh_absent,
        _mesh_strict,
    ),
    resource_policy(
        _r(
            "peer-authentication",
            "No PeerAuthentication relaxes mTLS.",
            Severity.HIGH,
            f"{ISTIO}: mutual TLS (STRICT)",
            "Remove PERMISSIVE/DISABLE modes.",
        ),
        of_types(*PEER_AUTHN),
        _peer_authn,
    ),
    resource_policy(
        _r(
            "destination-rule",
            "DestinationRules never disable TLS.",
            Severity.HIGH,
            f"{ISTIO}: mutual TLS",
            "Use tls.mode ISTIO_MUTUAL (or leave it unset).",
        ),
        of_types(*DEST_RULE),
        _dest_rule,
    ),
    resource_policy(
        _r(
            "gateway",
            "Istio Gateway servers are HTTPS/TLS with TLS 1.2 or newer, or HTTP that redirects.",
            Severity.HIGH,
            f"{NIST_TLS}; {ISTIO}: secure gateways",
            "Serve HTTPS with a cert-manager certificate and tls.minProtocolVersion: TLSV1_2 (or TLSV1_3); "
            "set tls.httpsRedirect: true on HTTP servers.",
        ),
        of_types(*GATEWAY),
        _gateway,
    ),
]

"""TLS on the Kubernetes Gateway API: listeners terminate or pass TLS; plain HTTP only redirects.

HTTP listeners are judged by what is attached to them, not refused outright: the HTTP-to-HTTPS
redirect needs a port-80 listener, and it is safe exactly when every route attached there
answers with a redirect to https. Attachment is read conservatively (a parentRef without a
sectionName or port attaches to every listener of the Gateway, hostnames and allowedRoutes are
not narrowed), so a route that would reach the HTTP listener is always checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity

from estate_policies.common import get, items, namespace_of, of_types, resource_policy, rules, stack_policy

NIST_TLS = "NIST SP 800-52r2"
GROUP = "gateway.networking.k8s.io"
GATEWAY = (f"kubernetes:{GROUP}/v1:Gateway", f"kubernetes:{GROUP}/v1beta1:Gateway")
HTTP_ROUTE = (f"kubernetes:{GROUP}/v1:HTTPRoute", f"kubernetes:{GROUP}/v1beta1:HTTPRoute")
GRPC_ROUTE = (f"kubernetes:{GROUP}/v1:GRPCRoute",)


def _listener(listener: Mapping[str, Any]) -> Iterable[str]:
    name = listener.get("name", "?")
    proto = str(listener.get("protocol", "")).upper()
    tls = listener.get("tls") or {}
    mode = tls.get("mode", "Terminate")
    if proto == "HTTPS":
        if mode != "Terminate":
            yield f"listener {name!r}: HTTPS needs tls.mode Terminate (is {mode})"
        elif not items(tls.get("certificateRefs")):
            yield f"listener {name!r}: HTTPS without tls.certificateRefs"
    elif proto == "TLS":
        if mode == "Terminate" and not items(tls.get("certificateRefs")):
            yield f"listener {name!r}: TLS Terminate without tls.certificateRefs (or use mode Passthrough)"
    elif proto != "HTTP":
        yield f"listener {name!r}: protocol {proto or '?'} carries no TLS"


def _gateway(_t: str, props: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for listener in items(get(props, "spec", "listeners")):
        yield from _listener(listener)


def _gateways_absent(resources: list[PolicyResource]) -> str | None:
    return None if any(r.resource_type in GATEWAY for r in resources) else "no Gateway API Gateway in the plan yet"


def _attaches(ref: Mapping[str, Any], route_ns: str, gateway: PolicyResource, listener: Mapping[str, Any]) -> bool:
    if ref.get("group", GROUP) != GROUP or ref.get("kind", "Gateway") != "Gateway":
        return False
    if ref.get("name") != get(gateway.props, "metadata", "name"):
        return False
    if ref.get("namespace", route_ns) != namespace_of(gateway.props):
        return False
    if ref.get("sectionName") not in (None, listener.get("name")):
        return False
    return ref.get("port") in (None, listener.get("port"))


def _redirects_to_https(route: PolicyResource) -> bool:
    route_rules = items(get(route.props, "spec", "rules"))
    return bool(route_rules) and all(
        any(
            f.get("type") == "RequestRedirect" and get(f, "requestRedirect", "scheme") == "https"
            for f in items(rule.get("filters"))
        )
        for rule in route_rules
    )


def _http_redirects(resources: list[PolicyResource], _c: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    routes = [r for r in resources if r.resource_type in HTTP_ROUTE + GRPC_ROUTE]
    for gateway in (r for r in resources if r.resource_type in GATEWAY):
        http = [lst for lst in items(get(gateway.props, "spec", "listeners")) if lst.get("protocol") == "HTTP"]
        for listener, route in ((lst, rt) for lst in http for rt in routes):
            ns = namespace_of(route.props)
            if not any(_attaches(ref, ns, gateway, listener) for ref in items(get(route.props, "spec", "parentRefs"))):
                continue
            where = f"{ns}/{get(route.props, 'metadata', 'name')} on HTTP listener {listener.get('name')!r}"
            if route.resource_type in GRPC_ROUTE:
                yield f"GRPCRoute {where}: gRPC over plain HTTP; attach it to an HTTPS listener", route.urn
            elif not _redirects_to_https(route):
                yield f"HTTPRoute {where}: every rule must be a RequestRedirect with scheme https", route.urn


_r = rules("estate-tls-")

POLICIES = [
    resource_policy(
        _r(
            "gateway-api-listeners",
            "Gateway API listeners terminate TLS with a certificate or pass TLS through.",
            Severity.HIGH,
            NIST_TLS,
            "HTTPS listeners: tls.mode Terminate with certificateRefs (cert-manager certificates); TLS listeners: "
            "the same or mode Passthrough. HTTP listeners may only carry redirects (estate-tls-gateway-api-redirect); "
            "no TCP or UDP listeners.",
        ),
        of_types(*GATEWAY),
        _gateway,
    ),
    stack_policy(
        _r(
            "gateway-api-redirect",
            "Routes on a plain-HTTP Gateway API listener only redirect to HTTPS.",
            Severity.HIGH,
            NIST_TLS,
            "Give the HTTP listener one HTTPRoute whose rules all carry a RequestRedirect filter with scheme: https, "
            "and attach every other route to the HTTPS listener with parentRefs[].sectionName.",
        ),
        _gateways_absent,
        _http_redirects,
    ),
]

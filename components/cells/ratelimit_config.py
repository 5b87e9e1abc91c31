"""What the ingress gateway's global rate limiting is made of, as plain data: the rate-limit
service's configuration (envoyproxy/ratelimit) and the EnvoyFilter that makes the gateway ask it.

The service counts fixed windows and has no burst setting, so seed 004's nginx limits
(`rate=10r/s burst=20 nodelay`) become two limits per route and client address, both checked on
every request (any one over its limit refuses with 429):

- per second, `requestsPerSecond + burst`: what nginx lets through at once;
- per minute, `requestsPerSecond × 60`: the sustained rate, which a client bursting every second
  would otherwise exceed.

A route without a burst gets the per-second limit alone. The filter fails open
(`failure_mode_deny: false`): when the service or Redis cannot answer within its timeout, requests
pass, and the API stays up rather than the limiter taking it down.

The limits are the virtual host's, keyed on the request's path prefix, not on Envoy route names: a
cell released by canary is routed by Flagger's delegate VirtualService, whose Envoy routes the
estate does not name. A prefix's limit leaves out the host's longer prefixes under it (`/` is not
charged for `/api/`), as the routes themselves take the longest prefix first.

On a WebSocket route only the upgrade request passes through the HTTP filter: the messages on an
open connection are the chat service's to limit. The gateway's streams may stay idle an hour
instead of Envoy's five minutes, so a quiet chat stays connected; every HTTP route carries its own
request timeout, and request headers must arrive within 10 s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.cells.spec import RouteTarget

DOMAIN = "ingress"
HCM = "envoy.filters.network.http_connection_manager"
NAME = "ratelimit"  # its Deployment, Service, service account and pod label `app`
GRPC_PORT = 8081
HTTP_PORT = 8080  # /healthcheck
TIMEOUT = "0.25s"  # a slow answer is no answer: the request passes (fail open)
STREAM_IDLE = "3600s"
HEADERS_TIMEOUT = "10s"
HTTPS_PORT = 443  # the gateway server's port: Istio names virtual hosts `<host>:443`


@dataclass(frozen=True)
class RouteLimit:
    host: str
    route: str  # the VirtualService HTTP route's name: the limit's key
    prefix: str
    excluded: tuple[str, ...]  # the host's longer prefixes under this one
    per_second: int
    per_minute: int | None  # the sustained rate, when a burst is allowed on top of it


def limits(hosts: Mapping[str, Sequence[RouteTarget]]) -> list[RouteLimit]:
    out = []
    for host, targets in sorted(hosts.items()):
        prefixes = [t.prefix for t in targets]
        for t in targets:
            if t.rate_limit is None:
                continue
            rps, burst = t.rate_limit.requests_per_second, t.rate_limit.burst
            longer = tuple(sorted(p for p in prefixes if p != t.prefix and p.startswith(t.prefix)))
            out.append(RouteLimit(host, t.name, t.prefix, longer, rps + burst, rps * 60 if burst else None))
    return out


def _key(limit: RouteLimit, unit: str) -> str:
    return f"{limit.host}/{limit.route}/{unit}"


def service_config(route_limits: Sequence[RouteLimit]) -> dict[str, Any]:
    """The service's config.yaml: per route and window a generic key, under it each client address."""

    def descriptor(limit: RouteLimit, unit: str, count: int) -> dict[str, Any]:
        return {
            "key": "generic_key",
            "value": _key(limit, unit),
            "descriptors": [{"key": "remote_address", "rate_limit": {"unit": unit, "requests_per_unit": count}}],
        }

    descriptors = []
    for limit in route_limits:
        descriptors.append(descriptor(limit, "second", limit.per_second))
        if limit.per_minute is not None:
            descriptors.append(descriptor(limit, "minute", limit.per_minute))
    return {"domain": DOMAIN, "descriptors": descriptors}


def _path(limit: RouteLimit, unit: str) -> dict[str, Any]:
    """This limit's descriptor when the path is under its prefix and none of the longer ones."""
    headers: list[dict[str, Any]] = [{"name": ":path", "string_match": {"prefix": limit.prefix}}]
    headers += [{"name": ":path", "string_match": {"prefix": p}, "invert_match": True} for p in limit.excluded]
    return {"header_value_match": {"descriptor_value": _key(limit, unit), "expect_match": True, "headers": headers}}


def envoy_filter(route_limits: Sequence[RouteLimit], *, namespace: str, selector: Mapping[str, str]) -> dict[str, Any]:
    """The gateway's rate-limit filter (before the router), each limited host's descriptors, and the
    connection manager's timeouts."""
    cluster = f"outbound|{GRPC_PORT}||{NAME}.{namespace}.svc.cluster.local"
    patches: list[dict[str, Any]] = [
        {
            "applyTo": "HTTP_FILTER",
            "match": {
                "context": "GATEWAY",
                "listener": {
                    "filterChain": {
                        "filter": {
                            "name": HCM,
                            "subFilter": {"name": "envoy.filters.http.router"},
                        }
                    }
                },
            },
            "patch": {
                "operation": "INSERT_BEFORE",
                "value": {
                    "name": "envoy.filters.http.ratelimit",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit",
                        "domain": DOMAIN,
                        "failure_mode_deny": False,
                        "timeout": TIMEOUT,
                        "enable_x_ratelimit_headers": "DRAFT_VERSION_03",
                        "rate_limit_service": {
                            "grpc_service": {
                                "envoy_grpc": {
                                    "cluster_name": cluster,
                                    "authority": f"{NAME}.{namespace}.svc.cluster.local",
                                }
                            },
                            "transport_api_version": "V3",
                        },
                    },
                },
            },
        }
    ]
    by_host: dict[str, list[dict[str, Any]]] = {}
    for limit in route_limits:
        windows = ["second", *(["minute"] if limit.per_minute is not None else [])]
        by_host.setdefault(limit.host, []).extend(
            {"actions": [_path(limit, unit), {"remote_address": {}}]} for unit in windows
        )
    for host, rate_limits in sorted(by_host.items()):
        patches.append(
            {
                "applyTo": "VIRTUAL_HOST",
                "match": {"context": "GATEWAY", "routeConfiguration": {"vhost": {"name": f"{host}:{HTTPS_PORT}"}}},
                "patch": {"operation": "MERGE", "value": {"rate_limits": rate_limits}},
            }
        )
    # The connection manager's stream idle timeout (WebSocket connections) and headers timeout.
    patches.append(
        {
            "applyTo": "NETWORK_FILTER",
            "match": {"context": "GATEWAY", "listener": {"filterChain": {"filter": {"name": HCM}}}},
            "patch": {
                "operation": "MERGE",
                "value": {
                    "name": HCM,
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
                        ".HttpConnectionManager",
                        "stream_idle_timeout": STREAM_IDLE,
                        "request_headers_timeout": HEADERS_TIMEOUT,
                    },
                },
            },
        }
    )
    return {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "EnvoyFilter",
        "metadata": {"name": "cells-ratelimit", "namespace": namespace},
        "spec": {"workloadSelector": {"labels": dict(selector)}, "configPatches": patches},
    }

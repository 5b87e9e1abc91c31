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
pass, and the API stays up rather than the limiter taking it down. On a WebSocket route only the
upgrade request passes through the HTTP filter: the messages on an open connection are the chat
service's to limit. WebSocket routes also get an hour's idle timeout instead of Envoy's five-minute
stream idle timeout, so a quiet chat stays connected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.cells.spec import RouteTarget

DOMAIN = "ingress"
NAME = "ratelimit"  # its Deployment, Service, service account and pod label `app`
GRPC_PORT = 8081
HTTP_PORT = 8080  # /healthcheck
TIMEOUT = "0.25s"  # a slow answer is no answer: the request passes (fail open)
WEBSOCKET_IDLE = "3600s"
HTTPS_PORT = 443  # the gateway server's port: Istio names virtual hosts `<host>:443`


@dataclass(frozen=True)
class RouteLimit:
    host: str
    route: str  # the Envoy route's name (the VirtualService HTTP route's)
    per_second: int
    per_minute: int | None  # the sustained rate, when a burst is allowed on top of it


def limits(hosts: Mapping[str, Sequence[RouteTarget]]) -> list[RouteLimit]:
    out = []
    for host, targets in sorted(hosts.items()):
        for t in targets:
            if t.rate_limit is None:
                continue
            rps, burst = t.rate_limit.requests_per_second, t.rate_limit.burst
            out.append(RouteLimit(host, t.name, rps + burst, rps * 60 if burst else None))
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


def _route_patch(host: str, route: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "applyTo": "HTTP_ROUTE",
        "match": {
            "context": "GATEWAY",
            "routeConfiguration": {"vhost": {"name": f"{host}:{HTTPS_PORT}", "route": {"name": route}}},
        },
        "patch": {"operation": "MERGE", "value": {"route": value}},
    }


def envoy_filter(
    route_limits: Sequence[RouteLimit],
    websockets: Sequence[tuple[str, str]],  # (host, route) of each WebSocket route
    *,
    namespace: str,
    selector: Mapping[str, str],
) -> dict[str, Any]:
    """The gateway's rate-limit filter (before the router) and each limited route's descriptors;
    each WebSocket route's idle timeout."""
    cluster = f"outbound|{GRPC_PORT}||{NAME}.{namespace}.svc.cluster.local"
    patches: list[dict[str, Any]] = [
        {
            "applyTo": "HTTP_FILTER",
            "match": {
                "context": "GATEWAY",
                "listener": {
                    "filterChain": {
                        "filter": {
                            "name": "envoy.filters.network.http_connection_manager",
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
    for limit in route_limits:
        windows = ["second", *(["minute"] if limit.per_minute is not None else [])]
        rate_limits = [
            {"actions": [{"generic_key": {"descriptor_value": _key(limit, unit)}}, {"remote_address": {}}]}
            for unit in windows
        ]
        patches.append(_route_patch(limit.host, limit.route, {"rate_limits": rate_limits}))
    for host, route in websockets:
        patches.append(_route_patch(host, route, {"idle_timeout": WEBSOCKET_IDLE}))
    return {
        "apiVersion": "networking.istio.io/v1alpha3",
        "kind": "EnvoyFilter",
        "metadata": {"name": "cells-ratelimit", "namespace": namespace},
        "spec": {"workloadSelector": {"labels": dict(selector)}, "configPatches": patches},
    }

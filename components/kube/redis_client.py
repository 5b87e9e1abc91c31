"""The Secret a Redis client outside the cells reads (KEDA's scaler, the gateway's rate-limit
service, n8n's queue): the instance's address as `host:port` (the stored `rediss://` dropped) and
as its host and port apart, its
AUTH string, its CA, and `tls: enable` for clients that take TLS as a setting. External Secrets
writes it from the cache's three secrets with these templates; the platform's credentials sync puts
it in each namespace that needs one."""

from __future__ import annotations

from collections.abc import Callable

from stacks import secret_keys as keys

SECRET = "redis-client"
TEMPLATES = {
    "address": '{{ .address | trimPrefix "rediss://" }}',
    # Apart, for clients that take the host and the port as two settings (n8n's queue).
    "host": '{{ .address | trimPrefix "rediss://" | splitList ":" | first }}',
    "port": '{{ .address | trimPrefix "rediss://" | splitList ":" | last }}',
    "password": "{{ .password }}",
    "ca": "{{ .ca }}",
    "tls": "enable",
}
# What KEDA's Redis scaler takes (its `address`, `password`, `tls` and `ca` parameters).
SCALER_KEYS = ("address", "password", "ca", "tls")
SOURCES = {"address": keys.REDIS_ADDRESS, "password": keys.REDIS_AUTH, "ca": keys.REDIS_CA}


def data(secret_id: Callable[[str], str]) -> dict[str, dict[str, str]]:
    """The Secret's data for a credentials sync: its keys -> Secret Manager ids."""
    return {SECRET: {k: secret_id(v) for k, v in SOURCES.items()}}


def templates() -> dict[str, dict[str, str]]:
    return {SECRET: dict(TEMPLATES)}

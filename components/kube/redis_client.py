"""The Secret a Redis client outside the application namespaces reads (KEDA's scaler, the gateway's
rate-limit service): the instance's address as `host:port` (the stored `rediss://` dropped), its
AUTH string, its CA, and `tls: enable` for clients that take TLS as a setting. External Secrets
writes it from the cache's three secrets with these templates; the platform's credentials sync puts
it in each namespace that needs one."""

from __future__ import annotations

from collections.abc import Callable

from stacks import secret_keys as keys

SECRET = "redis-client"
TEMPLATES = {
    "address": '{{ .address | trimPrefix "rediss://" }}',
    "password": "{{ .password }}",
    "ca": "{{ .ca }}",
    "tls": "enable",
}
SOURCES = {"address": keys.REDIS_ADDRESS, "password": keys.REDIS_AUTH, "ca": keys.REDIS_CA}


def data(secret_id: Callable[[str], str]) -> dict[str, dict[str, str]]:
    """The Secret's data for a credentials sync: its keys -> Secret Manager ids."""
    return {SECRET: {k: secret_id(v) for k, v in SOURCES.items()}}


def templates() -> dict[str, dict[str, str]]:
    return {SECRET: dict(TEMPLATES)}

"""`ai-estate:automation`: the workflow platforms of seed 000, behind a sign-in at the gateway.

Windmill (Community Edition) orchestrates flows and scripts: its server and its worker groups, a
map keyed by group name, each serving the job tags it lists with only the egress it is given. Its
state lives in the estate's Cloud SQL instance as a database and built-in user of its own, reached
through the Auth Proxy. People reach it on `<host>.<domain>` only after signing in with Google at
the gateway (oauth2-proxy as Istio's external authorization): Windmill's own SSO is configured in
its database and SAML is Enterprise-only.

What it needs from the other areas (its namespace, database and user, the workload the Auth Proxy
runs as, its name on the gateway) is declared beside it and merged into those areas, like Harbor's.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from stacks.base import Model, Name
from stacks.config_namespaces import Quantity
from stacks.problem import Problem
from stacks.service_home import own_database, own_namespace

WorkerTag = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
EmailDomain = Annotated[
    str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$")
]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]

SSO_NAMESPACE = "sso"  # oauth2-proxy, which the gateway asks before passing a request on
SSO_PROVIDER = "sso"  # the mesh's extension provider the gateway's CUSTOM policy names
SSO_SERVICE = "oauth2-proxy"
SSO_PORT = 4180
WINDMILL_UID = 1000  # the uid Windmill's chart documents for non-root workers


class WorkerGroup(Model):
    replicas: int = Field(1, ge=0, le=100)
    tags: list[WorkerTag] = Field(
        min_length=1, description="The job tags this group serves (languages such as python3, or your own)."
    )
    cpu: Quantity = Field("1", description="CPU request (the limit is twice it).")
    memory: Quantity = Field("2Gi", description="Memory request and limit.")
    public_https: bool = Field(
        False,
        description="Egress to public addresses on 443 (package indexes such as PyPI and npm, public APIs): "
        "NetworkPolicy cannot name hosts, so this opens every public address on that port.",
    )
    sandbox: bool = Field(
        False,
        description="May start Jobs in the sandbox namespace and read their results (ai-estate:sandbox): "
        "generated or untrusted code runs there, never in the worker.",
    )


class WindmillConfig(Model):
    enabled: bool = True
    namespace: Name = Field("windmill", description="An ai-estate:namespaces entry with ingress and cloudSql egress.")
    host: Name = Field("windmill", description="The mesh.hosts entry that routes Windmill's name to its server.")
    database: str = Field("windmill", description="An ai-estate:database.databases entry of its own.")
    database_user: str = Field("windmill", description="A BUILT_IN ai-estate:database.users entry of its own.")
    workload: Name = Field("windmill", description="identity.workloads entry its pods run as (cloudSql).")
    replicas: int = Field(1, ge=1, le=10, description="Replicas of the server.")
    worker_groups: dict[Name, WorkerGroup] = Field(min_length=1)


class SsoConfig(Model):
    email_domains: list[EmailDomain] = Field(
        [], description="Google accounts of these domains may sign in (a Google Workspace or Cloud Identity domain)."
    )
    emails: list[Email] = Field([], description="These Google accounts may sign in too.")


class AutomationConfig(Model):
    enabled: bool = True
    sso: SsoConfig = SsoConfig()
    windmill: WindmillConfig


def sign_in(cfg: AutomationConfig) -> tuple[str, str, int] | None:
    """The external authorization provider istiod configures (name, service host, port), when the
    automation platforms run behind the gateway's sign-in."""
    if not (cfg.enabled and cfg.windmill.enabled):
        return None
    return SSO_PROVIDER, f"{SSO_SERVICE}.{SSO_NAMESPACE}.svc.cluster.local", SSO_PORT


def check(cfg: AutomationConfig, estate: Any) -> list[Problem]:
    if not cfg.enabled:
        return []
    out = []
    if not cfg.sso.email_domains and not cfg.sso.emails:
        out.append(
            Problem(
                "automation.sso.emailDomains",
                [],
                "who may sign in to Windmill: set emailDomains (your Workspace domain) or emails",
            )
        )
    w = cfg.windmill
    if w.enabled:
        out += _windmill(w, estate)
    return out


def _windmill(w: WindmillConfig, estate: Any) -> list[Problem]:
    at, out = "automation.windmill", []
    out += own_namespace(at, w.namespace, estate.namespaces, ("ingress", "egress.cloudSql"))
    out += own_database(at, w.database, w.database_user, estate.database)
    db = estate.database
    owners = {estate.harbor.database: "harbor"} if estate.harbor.enabled else {}
    if w.database in owners or w.database == db.migration_database:
        why = "Harbor's" if w.database in owners else "the estate's own (database.migrationDatabase)"
        out.append(Problem(f"{at}.database", w.database, f"is {why}: give Windmill a database of its own"))
    if estate.harbor.enabled and w.database_user == estate.harbor.database_user:
        out.append(Problem(f"{at}.databaseUser", w.database_user, "is Harbor's: give Windmill a user of its own"))
    wl = estate.identity.workloads.get(w.workload)
    if wl is None:
        out.append(
            Problem(
                f"{at}.workload", w.workload, f"must be an identity.workloads key: {sorted(estate.identity.workloads)}"
            )
        )
    else:
        if wl.namespace != w.namespace:
            out.append(Problem(f"identity.workloads.{w.workload}.namespace", wl.namespace, f"must be {w.namespace!r}"))
        if not wl.cloud_sql:
            out.append(Problem(f"identity.workloads.{w.workload}.cloudSql", wl.cloud_sql, "must be true"))
        if wl.secrets:
            out.append(
                Problem(
                    f"identity.workloads.{w.workload}.secrets",
                    wl.secrets,
                    "must be empty: Windmill's namespace syncs its own secrets",
                )
            )
    host = estate.mesh.hosts.get(w.host)
    backend = host.backend if host is not None else None
    if backend is None or backend.namespace != w.namespace or backend.service != WINDMILL_SERVICE:
        out.append(
            Problem(
                f"{at}.host",
                w.host,
                f"must be a mesh.hosts entry whose backend is {{namespace: {w.namespace}, service: {WINDMILL_SERVICE}, "
                f"port: {WINDMILL_PORT}}}",
            )
        )
    if estate.environment == "prod" and w.replicas < 2:
        out.append(Problem(f"{at}.replicas", w.replicas, "at least 2 in prod"))
    if any(g.sandbox for g in w.worker_groups.values()) and not estate.sandbox.enabled:
        out.append(
            Problem(f"{at}.workerGroups", sorted(w.worker_groups), "a group with sandbox: true needs ai-estate:sandbox")
        )
    return out


WINDMILL_SERVICE = "windmill-app"  # the chart's server Service, port 8000
WINDMILL_PORT = 8000

# The groups the committed stacks run: the default group for flows and scripts (with PyPI and npm
# reachable for their dependencies), and one that only starts sandbox Jobs for generated code.
_GROUPS: dict[str, dict[str, Any]] = {
    "default": {
        "replicas": 1,
        "tags": ["deno", "python3", "bun", "bash", "go", "flow", "dependency"],
        "publicHttps": True,
    },
    "sandbox": {"replicas": 1, "tags": ["sandbox"], "cpu": "500m", "memory": "1Gi", "sandbox": True},
}
# What Windmill needs from the other areas, merged into them (like Harbor's).
_SHARED: dict[str, Any] = {
    "namespaces": {
        "windmill": {"holdsData": False, "ingress": True, "egress": {"cloudSql": True, "googleApis": True}},
        SSO_NAMESPACE: {"ingress": True, "egress": {"googleApis": True}},
    },
    "database": {"databases": {"windmill": {}}, "users": {"windmill": {"type": "BUILT_IN"}}},
    "identity": {"workloads": {"windmill": {"namespace": "windmill", "serviceAccount": "windmill", "cloudSql": True}}},
    "mesh": {
        "hosts": {
            "windmill": {
                "host": "windmill",
                "backend": {"namespace": "windmill", "service": WINDMILL_SERVICE, "port": WINDMILL_PORT},
            }
        }
    },
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {"automation": {"windmill": {"workerGroups": _GROUPS}}, **_SHARED},
    "prod": {
        "automation": {
            "windmill": {"replicas": 2, "workerGroups": {**_GROUPS, "default": {**_GROUPS["default"], "replicas": 2}}}
        },
        **_SHARED,
    },
}

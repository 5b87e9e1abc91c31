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

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from stacks import config_release
from stacks.base import Model, Name
from stacks.config_namespaces import Quantity
from stacks.config_release import ReleaseConfig
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
    release: bool = Field(
        False,
        description="Runs the release flow (automation.release; tag `release`): cosign, the registry's pull "
        "credentials, the webhook's key and the GitHub token are in its pods only.",
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


# The paths n8n serves to callers without a session (webhook triggers, waiting executions, forms):
# the only ones that may skip the sign-in, each workflow then protecting its own with a token.
N8N_PUBLIC_PATHS = ("/webhook/", "/webhook-waiting/", "/form/")
N8N_SERVICE = "n8n-main"  # the chart's main Service (`<release>-main`), port 5678
N8N_PORT = 5678


class N8nConfig(Model):
    enabled: bool = True
    namespace: Name = Field("n8n", description="An ai-estate:namespaces entry with ingress and cloudSql egress.")
    host: Name = Field("n8n", description="The mesh.hosts entry that routes n8n's name to it.")
    database: str = Field("n8n", description="An ai-estate:database.databases entry of its own.")
    database_user: str = Field("n8n", description="A BUILT_IN ai-estate:database.users entry of its own.")
    workload: Name = Field("n8n", description="identity.workloads entry its pods run as (cloudSql).")
    queue_mode: bool = Field(
        False, description="A main process and workers on the estate's Memorystore (AUTH and TLS); prod's default."
    )
    workers: int = Field(2, ge=1, le=50, description="Workers in queue mode.")
    smoke_test: bool = Field(
        True,
        description="After each release Flagger calls n8n's smoke-test workflow, which calls every cell's "
        "readiness path through the mesh and reports the result to Alertmanager (the on-call channel).",
    )
    public_paths: list[str] = Field(
        ["/webhook/"],
        description="Path prefixes that skip the gateway's sign-in (each workflow protects its own with a "
        f"token); allowed: {', '.join(N8N_PUBLIC_PATHS)}.",
    )


class SsoConfig(Model):
    email_domains: list[EmailDomain] = Field(
        [], description="Google accounts of these domains may sign in (a Google Workspace or Cloud Identity domain)."
    )
    emails: list[Email] = Field([], description="These Google accounts may sign in too.")


class AutomationConfig(Model):
    enabled: bool = True
    sso: SsoConfig = SsoConfig()
    windmill: WindmillConfig
    n8n: N8nConfig = N8nConfig()
    release: ReleaseConfig = ReleaseConfig()


SMOKE_TEST_PATH = "smoke-test"  # the workflow's webhook path, under /webhook/


@dataclass(frozen=True)
class SmokeTest:
    """Where Flagger calls the smoke test, and who the calls to the cells come from."""

    url: str
    namespace: str
    service_account: str


def smoke_test(cfg: AutomationConfig, workloads: Any) -> SmokeTest | None:
    """The smoke test when n8n runs it: called inside the mesh, never through the gateway."""
    n = cfg.n8n
    if not (cfg.enabled and n.enabled and n.smoke_test):
        return None
    url = f"http://{N8N_SERVICE}.{n.namespace}.svc.cluster.local:{N8N_PORT}/webhook/{SMOKE_TEST_PATH}"
    return SmokeTest(url=url, namespace=n.namespace, service_account=workloads[n.workload].service_account)


def sign_in(cfg: AutomationConfig) -> tuple[str, str, int] | None:
    """The external authorization provider istiod configures (name, service host, port), when the
    automation platforms run behind the gateway's sign-in."""
    if not (cfg.enabled and (cfg.windmill.enabled or cfg.n8n.enabled)):
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
                "who may sign in to Windmill and n8n: set emailDomains (your Workspace domain) or emails",
            )
        )
    w = cfg.windmill
    if w.enabled:
        out += _windmill(w, estate)
    if cfg.n8n.enabled:
        out += _n8n(cfg, estate)
    return out + config_release.check(estate)


def _taken(estate: Any, cfg: AutomationConfig) -> dict[str, str]:
    """Databases and users another layer owns -> whose."""
    out = {estate.database.migration_database: "the estate's own (database.migrationDatabase)"}
    if estate.harbor.enabled:
        out[estate.harbor.database] = out[estate.harbor.database_user] = "Harbor's"
    if cfg.windmill.enabled:
        out[cfg.windmill.database] = out[cfg.windmill.database_user] = "Windmill's"
    return out


def _n8n(cfg: AutomationConfig, estate: Any) -> list[Problem]:
    n, at = cfg.n8n, "automation.n8n"
    needs = ("ingress", "egress.cloudSql", *(("egress.redis",) if n.queue_mode else ()))
    out = own_namespace(at, n.namespace, estate.namespaces, needs)
    out += own_database(at, n.database, n.database_user, estate.database)
    taken = _taken(estate, cfg)
    for key, value in (("database", n.database), ("databaseUser", n.database_user)):
        if value in taken:
            out.append(Problem(f"{at}.{key}", value, f"is {taken[value]}: give n8n one of its own"))
    out += _workload(at, n.workload, n.namespace, estate)
    out += _host(at, n.host, n.namespace, N8N_SERVICE, N8N_PORT, estate)
    for i, path in enumerate(n.public_paths):
        if path not in N8N_PUBLIC_PATHS:
            out.append(
                Problem(
                    f"{at}.publicPaths[{i}]", path, f"only these may skip the sign-in: {', '.join(N8N_PUBLIC_PATHS)}"
                )
            )
    if estate.environment == "prod" and not n.queue_mode:
        out.append(Problem(f"{at}.queueMode", False, "prod runs n8n in queue mode (main and workers)"))
    return out


def _workload(at: str, key: str, namespace: str, estate: Any) -> list[Problem]:
    wl = estate.identity.workloads.get(key)
    if wl is None:
        return [
            Problem(f"{at}.workload", key, f"must be an identity.workloads key: {sorted(estate.identity.workloads)}")
        ]
    out = []
    if wl.namespace != namespace:
        out.append(Problem(f"identity.workloads.{key}.namespace", wl.namespace, f"must be {namespace!r}"))
    if not wl.cloud_sql:
        out.append(Problem(f"identity.workloads.{key}.cloudSql", wl.cloud_sql, "must be true"))
    if wl.secrets:
        out.append(
            Problem(
                f"identity.workloads.{key}.secrets", wl.secrets, "must be empty: its namespace syncs its own secrets"
            )
        )
    return out


def _host(at: str, key: str, namespace: str, service: str, port: int, estate: Any) -> list[Problem]:
    host = estate.mesh.hosts.get(key)
    backend = host.backend if host is not None else None
    if backend is None or backend.namespace != namespace or backend.service != service:
        return [
            Problem(
                f"{at}.host",
                key,
                "must be a mesh.hosts entry whose backend is "
                f"{{namespace: {namespace}, service: {service}, port: {port}}}",
            )
        ]
    return []


def _windmill(w: WindmillConfig, estate: Any) -> list[Problem]:
    at = "automation.windmill"
    out = own_namespace(at, w.namespace, estate.namespaces, ("ingress", "egress.cloudSql"))
    out += own_database(at, w.database, w.database_user, estate.database)
    taken = {estate.database.migration_database: "the estate's own (database.migrationDatabase)"}
    if estate.harbor.enabled:
        taken[estate.harbor.database] = taken[estate.harbor.database_user] = "Harbor's"
    for key, value in (("database", w.database), ("databaseUser", w.database_user)):
        if value in taken:
            out.append(Problem(f"{at}.{key}", value, f"is {taken[value]}: give Windmill one of its own"))
    out += _workload(at, w.workload, w.namespace, estate)
    out += _host(at, w.host, w.namespace, WINDMILL_SERVICE, WINDMILL_PORT, estate)
    if estate.environment == "prod" and w.replicas < 2:
        out.append(Problem(f"{at}.replicas", w.replicas, "at least 2 in prod"))
    served = {tag for g in w.worker_groups.values() if g.replicas > 0 for tag in g.tags}
    for tag in CORE_TAGS:
        if tag not in served:
            out.append(
                Problem(
                    f"{at}.workerGroups",
                    sorted(w.worker_groups),
                    f"no group with replicas serves the tag {tag!r}: Windmill runs every flow's own job on `flow` "
                    "and computes scripts' dependencies on `dependency`",
                )
            )
    if any(g.sandbox for g in w.worker_groups.values()) and not estate.sandbox.enabled:
        out.append(
            Problem(f"{at}.workerGroups", sorted(w.worker_groups), "a group with sandbox: true needs ai-estate:sandbox")
        )
    return out


WINDMILL_SERVICE = "windmill-app"  # the chart's server Service, port 8000
CORE_TAGS = ("flow", "dependency")  # Windmill's own jobs: a flow's orchestration, scripts' lockfiles
WINDMILL_PORT = 8000

# The groups the committed stacks run: the default group for flows and scripts (with PyPI and npm
# reachable for their dependencies), one that only starts sandbox Jobs for generated code, and the
# release flow's.
_GROUPS: dict[str, dict[str, Any]] = {
    "default": {
        "replicas": 1,
        "tags": ["deno", "python3", "bun", "bash", "go", "flow", "dependency"],
        "publicHttps": True,
    },
    "sandbox": {"replicas": 1, "tags": ["sandbox"], "cpu": "500m", "memory": "1Gi", "sandbox": True},
    # The release flow's steps only (automation.release): GitHub, the registry and KMS over HTTPS.
    "release": {
        "replicas": 1,
        "tags": [config_release.RELEASE_TAG],
        "cpu": "250m",
        "memory": "1Gi",
        "publicHttps": True,
        "release": True,
    },
}
# What Windmill needs from the other areas, merged into them (like Harbor's).
_SHARED: dict[str, Any] = {
    "namespaces": {
        "windmill": {"ingress": True, "egress": {"cloudSql": True, "googleApis": True}},
        # n8n's integrations call public APIs (Google APIs' rule: public addresses on 443); its queue is
        # the estate's Memorystore.
        "n8n": {"ingress": True, "egress": {"cloudSql": True, "redis": True, "googleApis": True}},
        SSO_NAMESPACE: {"ingress": True, "egress": {"googleApis": True}},
    },
    "database": {
        "databases": {"windmill": {}, "n8n": {}},
        "users": {"windmill": {"type": "BUILT_IN"}, "n8n": {"type": "BUILT_IN"}},
    },
    "identity": {
        "workloads": {
            "windmill": {"namespace": "windmill", "serviceAccount": "windmill", "cloudSql": True},
            # Not `n8n`: the chart refuses its own default name for an account it does not create.
            "n8n": {"namespace": "n8n", "serviceAccount": "n8n-server", "cloudSql": True},
        }
    },
    "mesh": {
        "hosts": {
            "windmill": {
                "host": "windmill",
                "backend": {"namespace": "windmill", "service": WINDMILL_SERVICE, "port": WINDMILL_PORT},
            },
            "n8n": {"host": "n8n", "backend": {"namespace": "n8n", "service": N8N_SERVICE, "port": N8N_PORT}},
        }
    },
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {"automation": {"windmill": {"workerGroups": _GROUPS}}, **_SHARED},
    "prod": {
        "automation": {
            "windmill": {"replicas": 2, "workerGroups": {**_GROUPS, "default": {**_GROUPS["default"], "replicas": 2}}},
            "n8n": {"queueMode": True},
        },
        **_SHARED,
    },
}

"""`ai-estate:harbor`: the estate's own image registry (Harbor), its projects and robot accounts.

Projects and robots are maps keyed by name. A project's policies live in Harbor's API, not in
Kubernetes: the program manages them with the Harbor provider against the deployed Harbor.
Harbor reaches the estate's Cloud SQL instance as a database and built-in user of its own, stores
blobs in the `registry` bucket as a Workload Identity workload, and is served on `<host>.<domain>`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from stacks.base import Model, Name
from stacks.config_mesh import HostName, fqdn
from stacks.problem import Problem
from stacks.service_home import own_database, own_namespace

# What Harbor's "prevent vulnerable images from running" accepts (its project metadata `severity`).
Severity = Literal["none", "low", "medium", "high", "critical"]
ProjectName = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$", max_length=255)]
RobotName = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$", max_length=64)]


class Retention(Model):
    keep_last: int = Field(20, ge=1, le=10000, description="Most recently pushed artifacts kept per repository.")
    keep_days: int | None = Field(
        None, ge=1, le=3650, description="Also keep every artifact pushed in the last N days."
    )
    schedule: Literal["Hourly", "Daily", "Weekly"] = "Daily"


class Project(Model):
    public: bool = Field(False, description="Anonymous pulls; never for the estate's own images.")
    scan_on_push: bool = Field(True, description="Trivy scans every pushed artifact.")
    block_severity: Severity = Field(
        "high", description="Pulls of artifacts with a vulnerability at or above this severity are refused."
    )
    require_signature: bool = Field(
        True,
        description="Only artifacts with a cosign signature may be pulled (Harbor checks presence; the key is "
        "verified at admission by policy-controller).",
    )
    immutable_tags: str | None = Field(
        "**", description="Tags matching this pattern cannot be overwritten or deleted; none turns it off."
    )
    retention: Retention = Retention()
    storage_quota_gb: int | None = Field(None, ge=1, le=1048576, description="Storage quota; unlimited when absent.")


class Robot(Model):
    projects: dict[ProjectName, Literal["pull", "push"]] = Field(
        min_length=1, description="Project -> what the robot may do there (push includes pull)."
    )
    description: str = ""


class Trivy(Model):
    enabled: bool = True
    db_repository: str = Field(
        "mirror.gcr.io/aquasec/trivy-db", description="Where Trivy downloads its vulnerability database."
    )
    java_db_repository: str = Field("mirror.gcr.io/aquasec/trivy-java-db", description="Trivy's Java index.")
    ignore_unfixed: bool = Field(False, description="Report only vulnerabilities that have a fix.")


class HarborConfig(Model):
    enabled: bool = Field(True, description="Install Harbor and manage its projects.")
    namespace: Name = Field("harbor", description="An ai-estate:namespaces entry with ingress and holdsData.")
    host: HostName = Field("registry", description="Its name: a label inside the DNS domain, or a full name in it.")
    database: str = Field("harbor", description="An ai-estate:database.databases entry of its own.")
    database_user: str = Field("harbor", description="A BUILT_IN ai-estate:database.users entry of its own.")
    registry_workload: Name = Field(
        "harbor-registry", description="identity.workloads entry the registry runs as: writer on the registry bucket."
    )
    proxy_workload: Name = Field(
        "harbor-db-proxy", description="identity.workloads entry the Cloud SQL Auth Proxy runs as (cloudSql)."
    )
    bucket: Name = Field("registry", description="The ai-estate:storage bucket that holds the blobs.")
    replicas: int = Field(1, ge=1, le=10, description="Replicas of core, portal, registry, nginx and the proxy.")
    trivy: Trivy = Trivy()
    projects: dict[ProjectName, Project] = {}
    robots: dict[RobotName, Robot] = {}
    pull_robot: RobotName | None = Field(
        "cluster",
        description="The robot the nodes pull the cells' Harbor images with: its secret reaches each namespace "
        "with such a cell as a docker-registry Secret (`harbor-pull`).",
    )


def signed_globs(cfg: HarborConfig, domain: str) -> list[str]:
    """The images policy-controller admits only with the estate's signature: every Harbor project."""
    if not cfg.enabled:
        return []
    host = fqdn(cfg.host, domain)
    return [f"{host}/{project}/**" for project in sorted(cfg.projects)]


def check(cfg: HarborConfig, estate: Any) -> list[Problem]:
    """What Harbor cannot run with: a namespace, database, user or identity that is missing or
    not suited, a host outside the domain or taken by the mesh, robots on unknown projects."""
    if not cfg.enabled:
        return []
    at, out = "harbor", []
    out += own_namespace(
        at, cfg.namespace, estate.namespaces, ("ingress", "holdsData", "egress.cloudSql", "egress.googleApis")
    )
    out += own_database(at, cfg.database, cfg.database_user, estate.database)
    if cfg.bucket not in estate.storage.buckets:
        out.append(
            Problem(f"{at}.bucket", cfg.bucket, f"must be a storage.buckets entry: {sorted(estate.storage.buckets)}")
        )
    workloads = estate.identity.workloads
    for key, field, want in (
        ("registryWorkload", cfg.registry_workload, "buckets"),
        ("proxyWorkload", cfg.proxy_workload, "cloudSql"),
    ):
        wl = workloads.get(field)
        if wl is None:
            out.append(Problem(f"{at}.{key}", field, f"must be an identity.workloads key: {sorted(workloads)}"))
            continue
        if wl.namespace != cfg.namespace:
            out.append(Problem(f"identity.workloads.{field}.namespace", wl.namespace, f"must be {cfg.namespace!r}"))
        if want == "buckets" and wl.buckets.get(cfg.bucket) != "writer":
            out.append(
                Problem(
                    f"identity.workloads.{field}.buckets.{cfg.bucket}", wl.buckets.get(cfg.bucket), "must be writer"
                )
            )
        if want == "cloudSql" and not wl.cloud_sql:
            out.append(Problem(f"identity.workloads.{field}.cloudSql", wl.cloud_sql, "must be true"))
        if wl.secrets:
            # The Harbor namespace's secret sync identity is Harbor's own (components/data/harbor).
            out.append(
                Problem(
                    f"identity.workloads.{field}.secrets",
                    wl.secrets,
                    "must be empty: Harbor's namespace syncs its own secrets",
                )
            )
    domain = estate.dns.domain
    if domain:
        full = fqdn(cfg.host, domain)
        if not (full == domain or full.endswith("." + domain)):
            out.append(Problem(f"{at}.host", cfg.host, f"must lie inside the DNS domain {domain}"))
        taken = {fqdn(h.host, domain): name for name, h in estate.mesh.hosts.items()}
        if full in taken:
            out.append(
                Problem(
                    f"{at}.host",
                    cfg.host,
                    f"is mesh.hosts.{taken[full]}: Harbor is served in TLS passthrough, not by the gateway's own TLS",
                )
            )
    if estate.environment == "prod" and cfg.replicas < 2:
        out.append(Problem(f"{at}.replicas", cfg.replicas, "at least 2 in prod"))
    for name, robot in sorted(cfg.robots.items()):
        for project in sorted(robot.projects):
            if project not in cfg.projects:
                out.append(
                    Problem(
                        f"{at}.robots.{name}.projects.{project}", project, f"no such project: {sorted(cfg.projects)}"
                    )
                )
    return out


# The estate's own images: signed in CI, scanned on push, tags immutable, pulls of images with a
# high or critical vulnerability refused. CI pushes with one robot; the cluster pulls with another.
_PROJECTS: dict[str, dict[str, Any]] = {"estate": {}}
_ROBOTS: dict[str, dict[str, Any]] = {
    "ci": {"projects": {"estate": "push"}, "description": "CI pushes and signs the estate's images"},
    "cluster": {"projects": {"estate": "pull"}, "description": "The cluster's nodes pull the estate's images"},
}
# What Harbor needs from the other areas, declared beside it so `harbor: {enabled: false}` is the
# only change needed to go without it (the entries then do nothing harmful).
NAMESPACE = {
    "holdsData": True,
    "ingress": True,
    "egress": {"cloudSql": True, "googleApis": True},
    "quota": {"cpu": "16", "memory": "32Gi", "pods": 40},
}
# The Cloud SQL Auth Proxy Harbor shares: its Deployment, Service and pod label (the data layer
# runs it, the observability layer scrapes it).
DB_PROXY = "harbor-db-proxy"

WORKLOADS = {
    "harbor-registry": {"namespace": "harbor", "serviceAccount": "harbor-registry", "buckets": {"registry": "writer"}},
    "harbor-db-proxy": {"namespace": "harbor", "serviceAccount": "harbor-db-proxy", "cloudSql": True},
}
DEFAULTS: dict[str, dict[str, Any]] = {
    env: {
        "harbor": {"replicas": replicas, "projects": _PROJECTS, "robots": _ROBOTS},
        "database": {"databases": {"harbor": {}}, "users": {"harbor": {"type": "BUILT_IN"}}},
        "namespaces": {"harbor": NAMESPACE},
        "identity": {"workloads": WORKLOADS},
    }
    for env, replicas in (("dev", 1), ("prod", 2))
}

"""The cells' rules against the rest of the config, each problem naming its key: namespaces in the
mesh, callers that are cells, routes on hosts the gateway serves inside the DNS domain and no two
cells on the same host and path, replicas, memory, identities, secrets the namespace receives,
the database login and node classes that exist."""

from __future__ import annotations

from collections.abc import Mapping

from stacks import secret_keys as keys
from stacks.config_cells import CellConfig
from stacks.config_kafka import users_of
from stacks.config_mesh import fqdn
from stacks.config_namespaces import quantity
from stacks.model import EstateConfig
from stacks.problem import Problem

WORKLOAD_CLASS = "workload-class"  # the node pools' label a cell's nodeClass names
REDIS_SECRETS = (keys.REDIS_ADDRESS, keys.REDIS_AUTH, keys.REDIS_CA)


def namespace_secrets(cfg: EstateConfig, namespace: str) -> list[str]:
    """The estate secrets synced into `namespace`: those its workloads read (platform credentials)."""
    return sorted({key for wl in cfg.identity.workloads.values() if wl.namespace == namespace for key in wl.secrets})


def harbor_pull_namespaces(cfg: EstateConfig) -> list[str]:
    """The namespaces where a cell runs an image from Harbor: they receive its pull Secret."""
    if not cfg.harbor.enabled:
        return []
    return sorted({c.namespace for c in cfg.cells.values() if c.image.registry == "harbor"})


def check_cells(cfg: EstateConfig) -> list[Problem]:
    out: list[Problem] = []
    classes = sorted({p.labels[WORKLOAD_CLASS] for p in cfg.cluster.node_pools.values() if WORKLOAD_CLASS in p.labels})
    for name, cell in sorted(cfg.cells.items()):
        at = f"cells.{name}"
        out += _namespace(cfg, at, cell)
        out += _identity(cfg, at, cell)
        out += _routes(cfg, at, cell, name)
        for i, caller in enumerate(cell.callers):
            if caller not in cfg.cells or caller == name:
                allowed = sorted(set(cfg.cells) - {name})
                out.append(Problem(f"{at}.callers[{i}]", caller, f"not another cell; allowed: {', '.join(allowed)}"))
        if cell.callers and cell.port is None:
            out.append(Problem(f"{at}.callers", cell.callers, "a cell without a port cannot be called; set port"))
        if cell.replicas.min == 0 and cell.queue is None:
            out.append(Problem(f"{at}.replicas.min", 0, "0 only for a cell scaled on its queue (queue); at least 1"))
        if cell.queue is not None and not cell.redis:
            out.append(Problem(f"{at}.queue", cell.queue.stream, "a queue on Redis Streams needs redis: true"))
        if cell.replicas.min > cell.replicas.max:
            out.append(
                Problem(f"{at}.replicas.min", cell.replicas.min, f"must not exceed replicas.max ({cell.replicas.max})")
            )
        limit = cell.resources.memory_limit
        if limit is not None and quantity(cell.resources.memory) > quantity(limit):
            out.append(
                Problem(f"{at}.resources.memory", cell.resources.memory, f"the request is above its limit ({limit})")
            )
        if quantity(cell.resources.cpu) > quantity(cell.resources.cpu_limit):
            out.append(
                Problem(
                    f"{at}.resources.cpu",
                    cell.resources.cpu,
                    f"the request is above its limit ({cell.resources.cpu_limit})",
                )
            )
        if cell.node_class is not None and cell.node_class not in classes:
            out.append(
                Problem(
                    f"{at}.nodeClass",
                    cell.node_class,
                    f"no node pool has it as {WORKLOAD_CLASS}; allowed: {', '.join(classes)}",
                )
            )
        out += _release(cfg, at, cell)
        out += _image(cfg, f"{at}.image", cell)
    out += _shared_routes(cfg)
    return out


def _image(cfg: EstateConfig, at: str, cell: CellConfig) -> list[Problem]:
    """A Harbor image names a project the cluster's pull robot reads, by digest; an Artifact
    Registry image is found by its tag alone."""
    img, harbor = cell.image, cfg.harbor
    if img.registry == "artifactRegistry":
        return [
            Problem(f"{at}.{key}", value, "only with registry: harbor")
            for key, value in (("project", img.project), ("digest", img.digest))
            if value is not None
        ]
    if not harbor.enabled:
        return [Problem(f"{at}.registry", "harbor", "Harbor is off (harbor.enabled: false)")]
    out = []
    if img.digest is None:
        out.append(Problem(f"{at}.digest", None, "required with registry: harbor (sha256:<64 hex>)"))
    if img.project not in harbor.projects:
        out.append(Problem(f"{at}.project", img.project, f"must be a harbor.projects key: {sorted(harbor.projects)}"))
    elif harbor.pull_robot is None:
        out.append(Problem("harbor.pullRobot", None, f"required: {at} runs a Harbor image"))
    elif harbor.pull_robot not in harbor.robots:
        out.append(
            Problem("harbor.pullRobot", harbor.pull_robot, f"must be a harbor.robots key: {sorted(harbor.robots)}")
        )
    elif img.project not in harbor.robots[harbor.pull_robot].projects:
        out.append(
            Problem(
                f"harbor.robots.{harbor.pull_robot}.projects.{img.project}",
                None,
                f"the pull robot must read {img.project}: {at} runs an image from it",
            )
        )
    return out


def _release(cfg: EstateConfig, at: str, cell: CellConfig) -> list[Problem]:
    r = cell.release
    out = []
    if r.strategy != "rolling" and cell.port is None:
        out.append(Problem(f"{at}.release.strategy", r.strategy, "a cell without a port is released rolling"))
    if r.strategy == "canary" and not cell.routes:
        out.append(
            Problem(
                f"{at}.release.strategy",
                r.strategy,
                "an in-mesh canary needs a waypoint, which no cell namespace has; canary only cells with public "
                "routes (at the gateway), or use blue-green",
            )
        )
    if r.strategy == "canary" and r.step_weight > r.max_weight:
        out.append(Problem(f"{at}.release.stepWeight", r.step_weight, f"must not exceed maxWeight ({r.max_weight})"))
    if r.strategy == "canary" and not r.skip_analysis and not cfg.observability.enabled:
        out.append(
            Problem(f"{at}.release", r.strategy, "a canary is judged on the gateway's metrics: enable observability")
        )
    if r.strategy != "rolling" and cell.queue is not None:
        out.append(Problem(f"{at}.release.strategy", r.strategy, "a queue-scaled cell is released rolling"))
    return out


def _namespace(cfg: EstateConfig, at: str, cell: CellConfig) -> list[Problem]:
    spec = cfg.namespaces.get(cell.namespace)
    if spec is None:
        return [
            Problem(
                f"{at}.namespace",
                cell.namespace,
                f"must be an ai-estate:namespaces key: {', '.join(sorted(cfg.namespaces))}",
            )
        ]
    out = []
    if spec.mesh != "ambient":
        out.append(
            Problem(f"{at}.namespace", cell.namespace, "must be in the ambient mesh (namespaces.<n>.mesh: ambient)")
        )
    if cell.routes and not spec.ingress:
        out.append(
            Problem(
                f"{at}.routes",
                sorted(cell.routes),
                f"namespaces.{cell.namespace}.ingress must be true for public routes",
            )
        )
    for flag, needed, what in (
        (cell.cloud_sql, spec.egress.cloud_sql, "cloudSql"),
        (cell.redis, spec.egress.redis, "redis"),
    ):
        if flag and not needed:
            out.append(Problem(f"{at}.{what}", True, f"namespaces.{cell.namespace}.egress.{what} must be true"))
    provided = namespace_secrets(cfg, cell.namespace)
    for env, key in sorted(cell.secrets.items()):
        if key not in provided:
            out.append(
                Problem(
                    f"{at}.secrets.{env}",
                    key,
                    f"no ExternalSecret provides it in namespace {cell.namespace}; provided: "
                    f"{', '.join(provided) or 'none'} (identity.workloads.<w>.secrets of the namespace's workloads)",
                )
            )
    if cell.kafka:
        users = users_of(cfg.kafka, cell.workload or "")
        if not cfg.kafka.enabled or len(users) != 1:
            out.append(
                Problem(
                    f"{at}.kafka",
                    True,
                    f"needs Kafka enabled and exactly one kafka.users entry for its workload {cell.workload!r} "
                    f"(found {users})",
                )
            )
    if cell.redis:
        missing = [k for k in REDIS_SECRETS if k not in provided]
        if missing:
            out.append(
                Problem(
                    f"{at}.redis",
                    True,
                    f"namespace {cell.namespace} receives no {', '.join(missing)}: add them to its workload's secrets",
                )
            )
    return out


def _identity(cfg: EstateConfig, at: str, cell: CellConfig) -> list[Problem]:
    workloads = cfg.identity.workloads
    if cell.workload is None:
        return (
            [Problem(f"{at}.cloudSql", True, "needs a workload: the Google account it logs in as")]
            if cell.cloud_sql
            else []
        )
    wl = workloads.get(cell.workload)
    if wl is None:
        return [
            Problem(
                f"{at}.workload", cell.workload, f"must be an identity.workloads key: {', '.join(sorted(workloads))}"
            )
        ]
    if wl.namespace != cell.namespace:
        return [
            Problem(
                f"{at}.workload", cell.workload, f"its namespace is {wl.namespace!r}, the cell's {cell.namespace!r}"
            )
        ]
    iam_users = {u.workload for u in cfg.database.users.values() if u.type == "CLOUD_IAM_SERVICE_ACCOUNT"}
    databases = sorted(cfg.database.databases)
    if cell.cloud_sql and cell.database is None and len(databases) != 1:
        return [Problem(f"{at}.database", None, f"required with several databases: {', '.join(databases)}")]
    if cell.database is not None and cell.database not in databases:
        return [Problem(f"{at}.database", cell.database, f"must be a database.databases key: {', '.join(databases)}")]
    if cell.cloud_sql and cell.workload not in iam_users:
        return [
            Problem(
                f"{at}.cloudSql",
                True,
                f"needs a database.users entry of type CLOUD_IAM_SERVICE_ACCOUNT for workload {cell.workload!r}",
            )
        ]
    return []


def _routes(cfg: EstateConfig, at: str, cell: CellConfig, name: str) -> list[Problem]:
    domain = cfg.dns.domain or ""
    served = {fqdn(h.host, domain): (key, h) for key, h in cfg.mesh.hosts.items()}
    out = []
    if cell.routes and cell.port is None:
        out.append(Problem(f"{at}.routes", sorted(cell.routes), "a cell without a port has no routes; set port"))
    for route_name, route in sorted(cell.routes.items()):
        full = fqdn(route.host, domain)
        path = f"{at}.routes.{route_name}.host"
        if not (full == domain or full.endswith("." + domain)):
            out.append(Problem(path, route.host, f"{full!r} is outside the DNS domain {domain!r}"))
        elif full not in served:
            out.append(
                Problem(path, route.host, f"no mesh.hosts entry serves {full!r}; served: {', '.join(sorted(served))}")
            )
        elif served[full][1].backend is not None:
            out.append(
                Problem(
                    path,
                    route.host,
                    f"mesh.hosts.{served[full][0]} routes to its backend; cells route only hosts without one",
                )
            )
        if route.timeout is not None and cell.protocol == "websocket":
            out.append(
                Problem(
                    f"{at}.routes.{route_name}.timeout",
                    route.timeout,
                    "a WebSocket cell's connections live long: leave it unset",
                )
            )
    return out


def _shared_routes(cfg: EstateConfig) -> list[Problem]:
    seen: dict[tuple[str, str], str] = {}
    out = []
    for name, cell in sorted(cfg.cells.items()):
        for route_name, route in sorted(cell.routes.items()):
            key = (fqdn(route.host, cfg.dns.domain or ""), route.path_prefix)
            here = f"{name}.{route_name}"
            if key in seen:
                out.append(
                    Problem(
                        f"cells.{here}.pathPrefix",
                        route.path_prefix,
                        f"{key[0]}{key[1]} is already cells.{seen[key]}'s",
                    )
                )
            seen.setdefault(key, here)
    return out


def cells_namespaces(cells: Mapping[str, CellConfig]) -> set[str]:
    return {c.namespace for c in cells.values()}

"""What a cell becomes, decided without Pulumi: its labels and names, its container's environment
(plain settings, estate secrets, the database and Redis), its ports, the identities allowed to call
it and the network allows that go with them, and the gateway's routes per host.

Plain functions over the validated config, tested without mocks; components.cells.cell turns
them into objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from components.kube.authz import principal
from components.kube.netpol import HBONE_PORT, Allow, Peer, tcp
from stacks import secret_keys as keys
from stacks.base import seconds
from stacks.config_cells import CellConfig, RateLimit
from stacks.config_mesh import fqdn
from stacks.naming import workload_account_id

APP = "app"  # the Deployment's selector label (Flagger gives a primary copy `app: <cell>-primary`)
CELL = "estate.io/cell"  # the label policies, monitors and budgets select a cell's pods by, copies included
DB_PORT = 5432  # the Auth Proxy sidecar's, on localhost
REDIS_CA_DIR = "/etc/redis-ca"
KAFKA_DIR = "/etc/kafka"  # the Access Operator's Secret as files: bootstrapServers, its CA, the user's certificate
DEFAULT_TIMEOUT = "30s"
# Service port names Istio reads the protocol from (its "protocol selection").
PORT_NAMES = {"http": "http", "websocket": "http", "grpc": "grpc"}


def labels(name: str) -> dict[str, str]:
    return {APP: name, CELL: name}


def pods(name: str) -> dict[str, str]:
    """Every pod of the cell, its release's primary and canary copies included."""
    return {CELL: name}


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str | None = None
    secret: str | None = None  # a Kubernetes Secret of the namespace, its key `value`


def environment(name: str, cell: CellConfig, *, iam_user: str | None, database: str | None) -> list[EnvVar]:
    """The container's environment, sorted: plain settings, estate secrets by reference, then what
    cloudSql and redis bring (libpq's variables for the proxy on localhost; Redis' URL, password
    and CA file)."""
    out = [EnvVar(k, value=v) for k, v in sorted(cell.env.items())]
    out += [EnvVar(k, secret=v) for k, v in sorted(cell.secrets.items())]
    if cell.cloud_sql:
        out += [
            EnvVar("PGHOST", value="127.0.0.1"),
            EnvVar("PGPORT", value=str(DB_PORT)),
            # The proxy holds the TLS connection to the instance and logs in with the workload's token.
            EnvVar("PGSSLMODE", value="disable"),
            EnvVar("PGUSER", value=iam_user or ""),
            EnvVar("PGDATABASE", value=database or ""),
        ]
    if cell.kafka:
        out.append(EnvVar("KAFKA_ACCESS_DIR", value=KAFKA_DIR))
    if cell.redis:
        out += [
            EnvVar("REDIS_URL", secret=keys.REDIS_ADDRESS),
            EnvVar("REDIS_PASSWORD", secret=keys.REDIS_AUTH),
            EnvVar("REDIS_CA_FILE", value=f"{REDIS_CA_DIR}/ca.crt"),
        ]
    taken = [e.name for e in out]
    duplicated = sorted({n for n in taken if taken.count(n) > 1})
    if duplicated:
        raise ValueError(f"cells.{name}: {', '.join(duplicated)} set twice (env or secrets against cloudSql/redis)")
    return out


def iam_user(environment: str, workload: str, project: str) -> str:
    """The database login of a workload's Google account (Cloud SQL drops `.gserviceaccount.com`)."""
    return f"{workload_account_id(environment, workload)}@{project}.iam"


def callers(
    name: str, cells: Mapping[str, CellConfig], *, ingress: str | None, smoke_test: str | None = None
) -> list[str]:
    """The principals allowed to call the cell: its caller cells' service accounts (each cell runs
    as its own, named after it), the ingress gateway's when it has public routes, and the smoke
    test's (n8n's) when one runs."""
    cell = cells[name]
    out = [principal(cells[c].namespace, c) for c in sorted(set(cell.callers))]
    if cell.routes and ingress:
        out.append(ingress)
    if smoke_test and cell.port:
        out.append(smoke_test)
    return out


def health_url(name: str, cell: CellConfig) -> str:
    """The cell's readiness path inside the mesh: what the smoke test calls after a release."""
    return f"http://{name}.{cell.namespace}.svc.cluster.local:{cell.port}{cell.probes.readiness}"


def allows(name: str, cells: Mapping[str, CellConfig], *, smoke_test: str | None = None) -> list[Allow]:
    """The NetworkPolicies a cell adds in its namespace (whose default-deny and ingress from the
    gateway's namespace the platform wrote): its callers in, and its own calls out, each on the
    callee's port and HBONE (ztunnel's 15008) only; and the smoke test's namespace in (n8n's)."""
    cell = cells[name]
    out = []
    if smoke_test and cell.port:
        out.append(
            Allow(
                f"cell-{name}-smoke-test",
                "Ingress",
                (Peer(namespace=smoke_test),),
                tcp(HBONE_PORT, cell.port),
                pods=tuple(pods(name).items()),
            )
        )
    if cell.callers and cell.port:
        ports = tcp(HBONE_PORT, cell.port)
        peers = tuple(
            Peer(same_namespace=True, pods=tuple(pods(c).items()))
            if cells[c].namespace == cell.namespace
            else Peer(namespace=cells[c].namespace, pods=tuple(pods(c).items()))
            for c in sorted(set(cell.callers))
        )
        out.append(Allow(f"cell-{name}-callers", "Ingress", peers, ports, pods=tuple(pods(name).items())))
    for callee, other in sorted(cells.items()):
        if name in other.callers and other.port:
            peer = (
                Peer(same_namespace=True, pods=tuple(pods(callee).items()))
                if other.namespace == cell.namespace
                else Peer(namespace=other.namespace, pods=tuple(pods(callee).items()))
            )
            out.append(
                Allow(
                    f"cell-{name}-to-{callee}",
                    "Egress",
                    (peer,),
                    tcp(HBONE_PORT, other.port),
                    pods=tuple(pods(name).items()),
                )
            )
    return out


@dataclass(frozen=True)
class RouteTarget:
    prefix: str
    cell: str
    namespace: str
    port: int
    timeout: str | None
    websocket: bool = False
    rate_limit: RateLimit | None = None
    delegated: bool = False  # released by canary: Flagger's delegate VirtualService routes it

    @property
    def name(self) -> str:
        """The VirtualService's HTTP route name, which Istio gives the Envoy route as is: what the
        rate limits and idle timeouts patch (components.cells.ratelimit)."""
        return f"{self.cell}-{self.prefix.strip('/').replace('/', '-') or 'root'}"


def request_timeout(cell: CellConfig) -> str | None:
    """The request timeout of a cell's routes (a gateway canary's delegate carries one for all): the
    longest a route asks for, 30 s by default, none for WebSocket cells."""
    if cell.protocol == "websocket":
        return None
    asked = [r.timeout for r in cell.routes.values() if r.timeout]
    return max(asked, key=seconds) if asked else DEFAULT_TIMEOUT


def host_routes(cells: Mapping[str, CellConfig], domain: str) -> dict[str, list[RouteTarget]]:
    """Full host name -> its routes, longest prefix first (the gateway takes the first that matches)."""
    out: dict[str, list[RouteTarget]] = {}
    for name, cell in sorted(cells.items()):
        if cell.port is None:
            continue
        for route in cell.routes.values():
            timeout = None if cell.protocol == "websocket" else (route.timeout or DEFAULT_TIMEOUT)
            out.setdefault(fqdn(route.host, domain), []).append(
                RouteTarget(
                    route.path_prefix,
                    name,
                    cell.namespace,
                    cell.port,
                    timeout,
                    websocket=cell.protocol == "websocket",
                    rate_limit=route.rate_limit,
                    delegated=cell.release.strategy == "canary",
                )
            )
    return {h: sorted(r, key=lambda t: (-len(t.prefix), t.prefix)) for h, r in sorted(out.items())}

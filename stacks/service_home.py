"""The checks every service with a home of its own in the estate shares (Harbor, Windmill): its
namespace exists with the flags it needs and is in the mesh, and its database and built-in user
exist, each problem naming the service's key."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stacks.problem import Problem

FLAGS: Mapping[str, Callable[[Any], bool]] = {
    "ingress": lambda ns: ns.ingress,
    "holdsData": lambda ns: ns.holds_data,
    "egress.cloudSql": lambda ns: ns.egress.cloud_sql,
    "egress.googleApis": lambda ns: ns.egress.google_apis,
    "egress.redis": lambda ns: ns.egress.redis,
}


def own_namespace(at: str, name: str, namespaces: Mapping[str, Any], needs: Sequence[str]) -> list[Problem]:
    ns = namespaces.get(name)
    if ns is None:
        return [Problem(f"{at}.namespace", name, f"must be an ai-estate:namespaces entry: {sorted(namespaces)}")]
    out = []
    missing = [flag for flag in needs if not FLAGS[flag](ns)]
    if missing:
        out.append(Problem(f"{at}.namespace", name, f"its ai-estate:namespaces entry must set {missing} to true"))
    if ns.mesh != "ambient":
        out.append(Problem(f"{at}.namespace", name, "must be in the mesh (mesh: ambient)"))
    return out


def own_database(at: str, database: str, user: str, db: Any) -> list[Problem]:
    out = []
    if database not in db.databases:
        out.append(Problem(f"{at}.database", database, f"must be a database.databases entry: {sorted(db.databases)}"))
    found = db.users.get(user)
    if found is None or found.type != "BUILT_IN":
        out.append(Problem(f"{at}.databaseUser", user, "must be a database.users entry of type BUILT_IN"))
    return out

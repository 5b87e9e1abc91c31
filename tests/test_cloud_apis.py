"""First `up` on an empty project: every resource waits for the API that serves it.

The engine creates a resource only after everything in its recorded `dependencies` exists,
so the wait is the transitive closure of those edges. A `depends_on` on a local component
is expanded by the SDK into the component's custom descendants at registration, so a
dependency on the Services component counts; a child never inherits its component's
`depends_on`, so nothing is credited through the parent chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from components.cloud.apis import APIS, RESOURCE_MANAGER, SERVICE, TYPE_API, api_for
from tests.policy_fixtures import resource
from tools.plan import Plan


def api_problems(resources: Iterable[dict[str, Any]]) -> list[str]:
    """Resources whose type has no API in the table, or that do not wait for their API's Service."""
    resources = list(resources)
    services = {r["inputs"]["service"]: r["urn"] for r in resources if r["type"] == SERVICE}
    edges = {r["urn"]: set(r["dependencies"]) for r in resources}
    closures: dict[str, set[str]] = {}

    def closure(urn: str) -> set[str]:
        if urn not in closures:
            seen: set[str] = set()
            todo = list(edges.get(urn, ()))
            while todo:
                dep = todo.pop()
                if dep not in seen:
                    seen.add(dep)
                    todo.extend(edges.get(dep, ()))
            closures[urn] = seen
        return closures[urn]

    out = []
    for res in resources:
        if not res.get("custom", True):
            continue
        try:
            api = api_for(res["type"], res["inputs"])
        except KeyError:
            out.append(f"{res['type']}: no API in components.cloud.apis.TYPE_API")
            continue
        if api is None:
            continue
        if api not in services:
            out.append(f"{res['name']}: needs {api}, which the plan does not enable")
        elif services[api] not in closure(res["urn"]):
            out.append(f"{res['name']}: does not wait for {api}")
    return out


def test_every_resource_waits_for_the_api_that_serves_it(plan: Plan) -> None:
    assert api_problems(plan.resources) == []
    enabled = {r["inputs"]["service"] for r in plan.by_type(SERVICE)}
    assert enabled == set(APIS) and RESOURCE_MANAGER in enabled
    checked = [r for r in plan.resources if r["custom"] and r["type"].startswith("gcp:") and r["type"] != SERVICE]
    assert len(checked) > 60


def test_the_table_names_only_enabled_apis() -> None:
    assert set(TYPE_API.values()) <= set(APIS)


def _service(api: str) -> dict[str, Any]:
    return resource(SERVICE, f"svc-{api}", {"service": api})


def test_the_check_catches_a_race_an_unknown_type_and_a_missing_api() -> None:
    iam = _service("iam.googleapis.com")
    account = resource("gcp:serviceaccount/account:Account", "sa", {"accountId": "x"})
    assert api_problems([iam, account]) == ["sa: does not wait for iam.googleapis.com"]
    account["dependencies"] = [iam["urn"]]
    assert api_problems([iam, account]) == []
    # Through another resource that waits for the API: the engine orders transitively.
    key = resource("gcp:serviceaccount/key:Key", "k", {})
    key["dependencies"] = [account["urn"]]
    assert api_problems([iam, account, key]) == ["gcp:serviceaccount/key:Key: no API in components.cloud.apis.TYPE_API"]
    secret = resource("gcp:secretmanager/secret:Secret", "s", {"secretId": "x"})
    assert api_problems([secret]) == ["s: needs secretmanager.googleapis.com, which the plan does not enable"]


@pytest.mark.parametrize("api", ["redis.googleapis.com", "container.googleapis.com"])
def test_a_service_agent_waits_for_its_own_api(api: str) -> None:
    agent = resource("gcp:projects/serviceIdentity:ServiceIdentity", "agent", {"service": api})
    assert api_problems([_service(api), agent]) == [f"agent: does not wait for {api}"]

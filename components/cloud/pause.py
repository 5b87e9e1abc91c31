"""A bounded wait after an IAM grant, for the services known to check it before it propagates.

Google documents that IAM changes usually take effect within a minute and may take up to
seven. Cloud SQL, Memorystore and GKE check their service agent's use of the CMEK key once,
at creation, and fail rather than retry. A `Pause` waits `seconds` when it is created (and
again when what it follows is replaced), never on a plain `up` or at destroy.

A dynamic resource: it runs inside the Pulumi program's own Python, so it needs no plugin.
"""

from __future__ import annotations

import time
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

IAM_PROPAGATION_SECONDS = 90


class _PauseProvider(ResourceProvider):
    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        time.sleep(float(props["seconds"]))
        return CreateResult(id_=f"pause-{props['seconds']}s", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("after",) if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed)


class Pause(Resource, module="estate", name="Pause"):
    """Waits `seconds` once `after` (an id of what it follows) is known; replaced when `after` changes."""

    def __init__(
        self, name: str, after: pulumi.Input[str], seconds: int, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(_PauseProvider(), name, {"after": after, "seconds": seconds}, opts)

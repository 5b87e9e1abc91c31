"""Project APIs the estate needs, enabled once and never disabled by a destroy."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.cloud.apis import APIS, TYPE_API
from components.common import child


@dataclass(frozen=True)
class ServicesArgs:
    project: str
    apis: tuple[str, ...] = APIS


class Services(pulumi.ComponentResource):
    by_api: dict[str, gcp.projects.Service]

    def __init__(self, name: str, args: ServicesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:project:Services", name, None, opts)
        # Other stacks in the project may rely on these APIs: leave them on at destroy.
        self.by_api = {
            api: gcp.projects.Service(
                f"{name}-{api.split('.')[0]}",
                gcp.projects.ServiceArgs(
                    project=args.project, service=api, disable_on_destroy=False, disable_dependent_services=False
                ),
                opts=child(self),
            )
            for api in args.apis
        }
        self.register_outputs({"apis": list(args.apis)})

    def of(self, *apis: str) -> list[pulumi.Resource]:
        """The Services for `apis`, for a `depends_on`; KeyError for an API not enabled."""
        return [self.by_api[api] for api in dict.fromkeys(apis)]

    def for_types(self, *types: str) -> list[pulumi.Resource]:
        """The Services that resources of `types` need (see components.cloud.apis.TYPE_API)."""
        return self.of(*(TYPE_API[t] for t in types))

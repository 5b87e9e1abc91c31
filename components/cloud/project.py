"""Project APIs the estate needs, enabled once and never disabled by a destroy."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.common import child

APIS = (
    "artifactregistry.googleapis.com",
    "binaryauthorization.googleapis.com",
    "cloudkms.googleapis.com",
    "compute.googleapis.com",
    "container.googleapis.com",
    "containeranalysis.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "redis.googleapis.com",
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
)


@dataclass(frozen=True)
class ServicesArgs:
    project: str


class Services(pulumi.ComponentResource):
    services: list[gcp.projects.Service]

    def __init__(self, name: str, args: ServicesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:project:Services", name, None, opts)
        # Other stacks in the project may rely on these APIs: leave them on at destroy.
        self.services = [
            gcp.projects.Service(
                f"{name}-{api.split('.')[0]}",
                gcp.projects.ServiceArgs(
                    project=args.project, service=api, disable_on_destroy=False, disable_dependent_services=False
                ),
                opts=child(self),
            )
            for api in APIS
        ]
        self.register_outputs({"apis": list(APIS)})

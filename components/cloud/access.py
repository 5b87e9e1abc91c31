"""Grants on the database: the Cloud SQL roles on the one instance, through IAM conditions.

Secrets are granted one by one to the identity that syncs them into the workload's namespace
(components.kube.credentials), never project-wide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.common import child
from stacks.model import EstateConfig

SQL_CLIENT = "roles/cloudsql.client"
SQL_INSTANCE_USER = "roles/cloudsql.instanceUser"


def sql_condition_expression(project: str, instance: str) -> str:
    """The condition Cloud SQL documents for "this instance only" (resource name and type)."""
    return (
        f'resource.name == "projects/{project}/instances/{instance}" '
        '&& resource.type == "sqladmin.googleapis.com/Instance"'
    )


def sql_roles(cfg: EstateConfig) -> dict[str, list[str]]:
    """Workload -> Cloud SQL roles: `client` to connect through the proxy (cloudSql: true), and
    `instanceUser` only for workloads that log in as an IAM database user."""
    iam_users = {u.workload for u in cfg.database.users.values() if u.type == "CLOUD_IAM_SERVICE_ACCOUNT"}
    out: dict[str, list[str]] = {}
    for key, wl in cfg.identity.workloads.items():
        roles = ([SQL_CLIENT] if wl.cloud_sql else []) + ([SQL_INSTANCE_USER] if key in iam_users else [])
        if roles:
            out[key] = roles
    return out


@dataclass(frozen=True)
class DataAccessArgs:
    project: str
    config: EstateConfig
    members: Mapping[str, pulumi.Input[str]]
    sql_instance_name: pulumi.Input[str]
    depends_on: Sequence[pulumi.Resource] = field(default=())


class DataAccess(pulumi.ComponentResource):
    def __init__(self, name: str, args: DataAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:identity:DataAccess", name, None, opts)
        deps = list(args.depends_on)
        expression = pulumi.Output.from_input(args.sql_instance_name).apply(
            lambda n: sql_condition_expression(args.project, n)
        )
        for key, roles in sorted(sql_roles(args.config).items()):
            for role in roles:
                gcp.projects.IAMMember(
                    f"{name}-{key}-{role.split('/')[-1]}",
                    gcp.projects.IAMMemberArgs(
                        project=args.project,
                        role=role,
                        member=args.members[key],
                        condition=gcp.projects.IAMMemberConditionArgs(
                            title=f"{role.split('.')[-1]} on the estate instance",
                            description="Only the estate's Cloud SQL instance",
                            expression=expression,
                        ),
                    ),
                    opts=child(self, depends_on=deps),
                )
        self.register_outputs({})

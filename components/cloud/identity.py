"""Per-workload Google service accounts, bound to Kubernetes service accounts by Workload Identity.

Grants are the narrowest that work: bucket roles on the bucket, never basic roles, and
impersonation only on the workload's own account. Grants on the database instance come later,
once it exists (components.cloud.access); secrets reach the workload's namespace through
External Secrets (components.kube.credentials).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.common import child
from components.kube.pods import workload_identity
from stacks.model import Workload
from stacks.naming import workload_account_id

BUCKET_ROLES = {
    "reader": "roles/storage.objectViewer",
    "creator": "roles/storage.objectCreator",
    "writer": "roles/storage.objectAdmin",
}


@dataclass(frozen=True)
class WorkloadsArgs:
    project: str
    environment: str
    workload_pool: str
    workloads: Mapping[str, Workload]
    bucket_names: Mapping[str, pulumi.Input[str]]
    # The APIs (iam, cloudresourcemanager, storage): every child waits for them.
    depends_on: Sequence[pulumi.Resource] = field(default=())
    # The cluster: its first creation makes the Workload Identity pool.
    cluster: Sequence[pulumi.Resource] = field(default=())


class Workloads(pulumi.ComponentResource):
    emails: dict[str, pulumi.Output[str]]
    members: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: WorkloadsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:identity:Workloads", name, None, opts)
        self.emails = {}
        self.members = {}
        deps = list(args.depends_on)
        for key, wl in args.workloads.items():
            sa = gcp.serviceaccount.Account(
                f"{name}-{key}",
                gcp.serviceaccount.AccountArgs(
                    account_id=workload_account_id(args.environment, key),
                    display_name=f"Workload {key} ({wl.namespace}/{wl.service_account})",
                ),
                opts=child(self, depends_on=deps),
            )
            for role in sorted(set(wl.roles)):
                gcp.projects.IAMMember(
                    f"{name}-{key}-{role.split('/')[-1]}",
                    gcp.projects.IAMMemberArgs(project=args.project, role=role, member=sa.member),
                    opts=child(self, depends_on=deps),
                )
            for bucket, access in sorted(wl.buckets.items()):
                gcp.storage.BucketIAMMember(
                    f"{name}-{key}-{bucket}-{access}",
                    gcp.storage.BucketIAMMemberArgs(
                        bucket=args.bucket_names[bucket], role=BUCKET_ROLES[access], member=sa.member
                    ),
                    opts=child(self, depends_on=deps),
                )
            gcp.serviceaccount.IAMMember(
                f"{name}-{key}-workload-identity",
                workload_identity(sa.name, args.workload_pool, wl.namespace, wl.service_account),
                opts=child(self, depends_on=[*deps, *args.cluster]),
            )
            self.emails[key] = sa.email
            self.members[key] = sa.member
        self.register_outputs({"emails": self.emails})

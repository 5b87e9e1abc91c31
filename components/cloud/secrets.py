"""Secret Manager entries for generated credentials, kept in the stack's region."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.common import child


@dataclass(frozen=True)
class SecretArgs:
    secret_id: str
    region: str
    labels: dict[str, str]
    data: pulumi.Input[str]
    protect: bool


def secret(parent: pulumi.Resource, name: str, args: SecretArgs) -> gcp.secretmanager.Secret:
    """A secret and its current version, both children of `parent`."""
    sm = gcp.secretmanager
    entry = sm.Secret(
        name,
        sm.SecretArgs(
            secret_id=args.secret_id,
            labels=args.labels,
            replication=sm.SecretReplicationArgs(
                user_managed=sm.SecretReplicationUserManagedArgs(
                    replicas=[sm.SecretReplicationUserManagedReplicaArgs(location=args.region)]
                )
            ),
        ),
        opts=child(parent, protect=args.protect),
    )
    sm.SecretVersion(
        f"{name}-version",
        sm.SecretVersionArgs(secret=entry.id, secret_data=args.data),
        opts=child(parent),
    )
    return entry

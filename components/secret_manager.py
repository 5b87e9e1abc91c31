"""Secret Manager entries for generated credentials, kept in the stack's region: shared by every
layer that generates one (the cloud layer's database and cache passwords, the data layer's Harbor)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from components.common import child


@dataclass(frozen=True)
class SecretArgs:
    secret_id: str
    region: str
    labels: dict[str, str]
    data: pulumi.Input[str] | None  # None: the container only; a person adds the value
    protect: bool
    depends_on: Sequence[pulumi.Resource] = field(default=())


def secret(parent: pulumi.Resource, name: str, args: SecretArgs) -> gcp.secretmanager.Secret:
    """A secret and its current version (when the program knows it), both children of `parent`."""
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
        opts=child(parent, depends_on=args.depends_on, protect=args.protect),
    )
    if args.data is not None:
        sm.SecretVersion(
            f"{name}-version",
            sm.SecretVersionArgs(secret=entry.id, secret_data=args.data),
            opts=child(parent, depends_on=args.depends_on),
        )
    return entry


def generated_secret(
    parent: pulumi.Resource,
    name: str,
    password: random.RandomPasswordArgs,
    *,
    secret_id: str,
    region: str,
    labels: dict[str, str],
    protect: bool,
    depends_on: Sequence[pulumi.Resource],
) -> gcp.secretmanager.Secret:
    """A value the program generates once (`name`, kept in state and protected like its secret) and
    its Secret Manager entry (`<name>-secret`), both children of `parent`."""
    value = random.RandomPassword(name, password, opts=child(parent, protect=protect))
    return secret(
        parent,
        f"{name}-secret",
        SecretArgs(
            secret_id=secret_id,
            region=region,
            labels=labels,
            data=value.result,
            protect=protect,
            depends_on=depends_on,
        ),
    )

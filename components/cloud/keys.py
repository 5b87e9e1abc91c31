"""Cloud KMS: one key per data plane, rotated, and each service agent allowed only its key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.common import child

ROTATION_SECONDS = 90 * 24 * 3600
KEY_ROLES = ("gke", "sql", "redis", "storage")


@dataclass(frozen=True)
class KeysArgs:
    project: str
    region: str
    prefix: str
    labels: dict[str, str]
    protect: bool
    depends_on: Sequence[pulumi.Resource] = field(default=())


class Keys(pulumi.ComponentResource):
    key_ids: dict[str, pulumi.Output[str]]
    grants: dict[str, pulumi.Resource]

    def __init__(self, name: str, args: KeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:security:Keys", name, None, opts)
        ring = gcp.kms.KeyRing(
            f"{name}-ring",
            gcp.kms.KeyRingArgs(name=args.prefix, location=args.region),
            opts=child(self, depends_on=args.depends_on, protect=args.protect),
        )
        project = gcp.organizations.get_project_output(project_id=args.project)
        sql_agent = gcp.projects.ServiceIdentity(
            f"{name}-sql-agent",
            gcp.projects.ServiceIdentityArgs(project=args.project, service="sqladmin.googleapis.com"),
            opts=child(self, depends_on=args.depends_on),
        )
        gcs_agent = gcp.storage.get_project_service_account_output(project=args.project)
        agents: dict[str, pulumi.Input[str]] = {
            "gke": project.number.apply(
                lambda n: f"serviceAccount:service-{n}@container-engine-robot.iam.gserviceaccount.com"
            ),
            "sql": sql_agent.member,
            "redis": project.number.apply(lambda n: f"serviceAccount:service-{n}@cloud-redis.iam.gserviceaccount.com"),
            "storage": gcs_agent.email_address.apply(lambda e: f"serviceAccount:{e}"),
        }
        self.key_ids = {}
        self.grants = {}
        for role in KEY_ROLES:
            key = gcp.kms.CryptoKey(
                f"{name}-{role}",
                gcp.kms.CryptoKeyArgs(
                    name=f"{args.prefix}-{role}",
                    key_ring=ring.id,
                    purpose="ENCRYPT_DECRYPT",
                    rotation_period=f"{ROTATION_SECONDS}s",
                    labels=args.labels,
                ),
                opts=child(self, protect=args.protect),
            )
            self.grants[role] = gcp.kms.CryptoKeyIAMMember(
                f"{name}-{role}-agent",
                gcp.kms.CryptoKeyIAMMemberArgs(
                    crypto_key_id=key.id, role="roles/cloudkms.cryptoKeyEncrypterDecrypter", member=agents[role]
                ),
                # Service agents exist only once their API is on.
                opts=child(self, depends_on=args.depends_on),
            )
            self.key_ids[role] = key.id
        self.register_outputs({"keyIds": self.key_ids})

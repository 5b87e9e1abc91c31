"""Cloud KMS: one key per data plane, rotated, and each service agent allowed only its key.

Key rings and keys are never deleted by Google (destroy only forgets them and disables the
key versions), so a name used once is taken for good. Outside prod the ring name carries a
suffix kept in state: a destroyed dev stack comes back with a new ring. Prod keeps fixed names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from components.cloud.pause import IAM_PROPAGATION_SECONDS, pause
from components.common import child

ROTATION_SECONDS = 90 * 24 * 3600
KEY_ROLES = ("gke", "sql", "redis", "storage", "backup", "pubsub")
# The API whose service agent uses each key. Storage's agent is created by the project
# service-account lookup; the others by projects.ServiceIdentity.
AGENT_APIS = {
    "gke": "container.googleapis.com",
    "sql": "sqladmin.googleapis.com",
    "redis": "redis.googleapis.com",
    "storage": "storage.googleapis.com",
    "backup": "gkebackup.googleapis.com",
    # service-<number>@gcp-sa-pubsub.iam.gserviceaccount.com, as ServiceIdentity reports it. It
    # also moves dead-lettered messages (the data layer grants it that on each topic and subscription).
    "pubsub": "pubsub.googleapis.com",
}
GKE_AGENT = "service-{n}@container-engine-robot.iam.gserviceaccount.com"
# Agents whose email the API reports through ServiceIdentity; the rest follow a documented pattern.
_AGENT_PATTERN = {
    "gke": GKE_AGENT,
    "redis": "service-{n}@cloud-redis.iam.gserviceaccount.com",
}
# Keys a second agent also uses. Backup for GKE's CMEK page: the GKE service agent
# (`container-engine-robot`, "agent_robot") must be able to use the backup plan's key, or every
# scheduled backup fails (error 100010107), besides the gkebackup agent itself.
_ALSO_USED_BY = {"backup": "gke"}
KEY_USER_ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"


@dataclass(frozen=True)
class KeysArgs:
    project: str
    region: str
    prefix: str
    labels: dict[str, str]
    protect: bool
    recreatable_names: bool
    # API -> its projects.Service: cloudkms, cloudresourcemanager and every AGENT_APIS value.
    apis: Mapping[str, pulumi.Resource]
    depends_on: Sequence[pulumi.Resource] = field(default=())


def _agent_member(pattern: str, number: str) -> str:
    return f"serviceAccount:{pattern.format(n=number)}"


def _suffixed(prefix: str, suffix: pulumi.Input[str] | None) -> pulumi.Input[str]:
    if suffix is None:
        return prefix
    return pulumi.Output.from_input(suffix).apply(lambda s: f"{prefix}-{s}")


class Keys(pulumi.ComponentResource):
    key_ids: dict[str, pulumi.Output[str]]
    grants: dict[str, pulumi.Resource]
    # Each key role's service agent as an IAM member (`serviceAccount:...`), for grants beside its key.
    agents: dict[str, pulumi.Output[str]]
    ring_name: pulumi.Output[str]
    ring_id: pulumi.Output[str]

    def __init__(self, name: str, args: KeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:security:Keys", name, None, opts)
        kms = [args.apis["cloudkms.googleapis.com"], *args.depends_on]
        suffix = (
            random.RandomId(
                f"{name}-ring-suffix",
                random.RandomIdArgs(byte_length=2, keepers={"prefix": args.prefix}),
                opts=child(self),
            ).hex
            if args.recreatable_names
            else None
        )
        ring = gcp.kms.KeyRing(
            f"{name}-ring",
            gcp.kms.KeyRingArgs(name=_suffixed(args.prefix, suffix), location=args.region, project=args.project),
            opts=child(self, depends_on=kms, protect=args.protect),
        )
        project = gcp.organizations.get_project_output(
            project_id=args.project,
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[args.apis["cloudresourcemanager.googleapis.com"]]),
        )
        # Service agents exist only once created: ask for each one instead of assuming it.
        members: dict[str, pulumi.Output[str]] = {}
        agents: dict[str, list[pulumi.Resource]] = {}
        for role in ("gke", "sql", "redis", "backup", "pubsub"):
            api = AGENT_APIS[role]
            identity = gcp.projects.ServiceIdentity(
                f"{name}-{role}-agent-identity",
                gcp.projects.ServiceIdentityArgs(project=args.project, service=api),
                opts=child(self, depends_on=[args.apis[api]]),
            )
            pattern = _AGENT_PATTERN.get(role)
            members[role] = project.number.apply(partial(_agent_member, pattern)) if pattern else identity.member
            agents[role] = [identity]
        gcs_agent = gcp.storage.get_project_service_account_output(
            project=args.project,
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[args.apis[AGENT_APIS["storage"]]]),
        )
        members["storage"] = gcs_agent.email_address.apply(lambda e: f"serviceAccount:{e}")
        agents["storage"] = []
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
                opts=child(self, depends_on=kms, protect=args.protect),
            )
            users = [role, *([_ALSO_USED_BY[role]] if role in _ALSO_USED_BY else [])]
            grants = [
                gcp.kms.CryptoKeyIAMMember(
                    f"{name}-{role}-agent" if user == role else f"{name}-{role}-{user}-agent",
                    gcp.kms.CryptoKeyIAMMemberArgs(crypto_key_id=key.id, role=KEY_USER_ROLE, member=members[user]),
                    opts=child(self, depends_on=[*kms, *agents[user]]),
                )
                for user in users
            ]
            # What uses the key waits for its grants to propagate, not only to be written.
            self.grants[role] = pause(
                f"{name}-{role}-agent-propagation",
                after=pulumi.Output.all(*(g.id for g in grants)).apply(",".join),
                seconds=IAM_PROPAGATION_SECONDS,
                opts=child(self, depends_on=grants),
            )
            self.key_ids[role] = key.id
        self.agents = members
        self.ring_name = ring.name
        self.ring_id = ring.id
        self.register_outputs({"keyIds": self.key_ids, "ringName": self.ring_name})

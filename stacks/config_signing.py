"""Config for `ai-estate:signing` (who may sign images) and `ai-estate:backup` (Backup for GKE)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field

from stacks.base import Model, Name
from stacks.problem import Problem

# Machine identities only. A signer is the CI of an application repository: a service account, or
# a Workload Identity Federation principal (one identity) or principal set (e.g. one GitHub
# repository). People (user:, group:, domain:) never hold the key: a signature must mean "built by
# CI from reviewed code", and a laptop signature would not. allUsers/allAuthenticatedUsers would
# let anyone sign, so they are refused by the same rule.
SIGNER_PREFIXES = ("serviceAccount:", "principal://", "principalSet://")
_MEMBER = (
    r"^(serviceAccount:[a-z][-a-z0-9]{4,28}[a-z0-9]@[-a-z0-9.]+\.iam\.gserviceaccount\.com"
    r"|principal(Set)?://iam\.googleapis\.com/\S+)$"
)
SignerMember = Annotated[
    str, Field(pattern=_MEMBER, description=f"An IAM member starting with one of {SIGNER_PREFIXES}.")
]


# The default signer: the CI deployer the bootstrap project creates in the same Google Cloud project
# (bootstrap/program.py, GithubCi: account id `ci-<role>`; a test keeps the two equal). It runs only
# on `main` (in prod only inside the reviewed GitHub environment), so its signature means "merged
# and approved"; the previewer, which runs pull requests, never signs. Its email follows from
# gcp:project alone, so the default is plain config, known at preview. A StackReference to the
# bootstrap stack cannot serve: the bootstrap keeps its state in a local backend of its own
# (README, "Delivery"), and a StackReference reads only stacks of the backend the estate runs on.
BOOTSTRAP_SIGNER = "bootstrap-ci"
BOOTSTRAP_DEPLOYER_ID = "ci-deployer"


def bootstrap_deployer(project: str) -> str:
    """The IAM member of the bootstrap's CI deployer in `project`."""
    return f"serviceAccount:{BOOTSTRAP_DEPLOYER_ID}@{project}.iam.gserviceaccount.com"


class SigningConfig(Model):
    signers: dict[Name, SignerMember] = Field(
        {}, description="CI identities allowed to sign the estate's images, by name."
    )
    bootstrap_signer: bool = Field(
        False,
        description=f"The bootstrap's CI deployer ({BOOTSTRAP_DEPLOYER_ID}@<gcp:project>.iam.gserviceaccount.com) "
        f"signs too, as signer '{BOOTSTRAP_SIGNER}'; on by default in prod.",
    )
    protection_level: Literal["SOFTWARE", "HSM"] = Field(
        "SOFTWARE", description="Where the signing key lives; HSM keeps it in FIPS 140-2 Level 3 hardware."
    )

    def members(self, project: str) -> dict[str, str]:
        """Every signer by name: `signers`, and the bootstrap's CI deployer when `bootstrapSigner` is on."""
        out = dict(self.signers)
        if self.bootstrap_signer:
            out[BOOTSTRAP_SIGNER] = bootstrap_deployer(project)
        return out


# Backup schedules the checks below can reason about: daily, weekly on one day, every N hours.
_DAILY = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* \*$")
_WEEKLY = re.compile(r"^(\d{1,2}) (\d{1,2}) \* \* [0-6]$")
_HOURLY = re.compile(r"^(\d{1,2}) \*/(\d{1,2}) \* \* \*$")
SCHEDULE_FORMS = "'M H * * *' (daily), 'M H * * D' (weekly) or 'M */N * * *' (every N hours)"


def schedule_interval_hours(cron: str) -> int | None:
    """Hours between two scheduled backups, or None for a schedule outside SCHEDULE_FORMS."""
    if m := _HOURLY.match(cron):
        minute, every = int(m[1]), int(m[2])
        return every if minute < 60 and 1 <= every <= 24 and 24 % every == 0 else None
    for form, hours in ((_DAILY, 24), (_WEEKLY, 7 * 24)):
        if m := form.match(cron):
            return hours if int(m[1]) < 60 and int(m[2]) < 24 else None
    return None


class BackupConfig(Model):
    schedule: str = Field("0 2 * * *", description=f"Cron schedule (UTC): {SCHEDULE_FORMS}.")
    retain_days: int = Field(14, ge=1, le=365, description="Backups are deleted this many days after creation.")
    delete_lock_days: int = Field(0, ge=0, le=90, description="Backups cannot be deleted, by anyone, before this age.")
    include_secrets: bool = Field(
        True, description="Back up Secrets too (synced from Secret Manager; the backup is CMEK-encrypted)."
    )


DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {
        "signing": {"signers": {}, "bootstrapSigner": False, "protectionLevel": "SOFTWARE"},
        "backup": {"schedule": "0 2 * * *", "retainDays": 7, "deleteLockDays": 0, "includeSecrets": True},
    },
    "prod": {
        "signing": {"signers": {}, "bootstrapSigner": True, "protectionLevel": "HSM"},
        "backup": {"schedule": "0 */6 * * *", "retainDays": 30, "deleteLockDays": 7, "includeSecrets": True},
    },
}


def check_signers(signing: SigningConfig, project: str, *, prod: bool) -> list[Problem]:
    """Who signs: someone in prod (Binary Authorization admits nothing of ours unsigned), and each
    identity once (two grants of one role to one member share one IAM binding: removing either
    would remove both)."""
    out: list[Problem] = []
    if signing.bootstrap_signer and BOOTSTRAP_SIGNER in signing.signers:
        out.append(
            Problem(
                f"signing.signers.{BOOTSTRAP_SIGNER}",
                signing.signers[BOOTSTRAP_SIGNER],
                "this name is the bootstrap's CI deployer while signing.bootstrapSigner is true; "
                "give this signer another name",
            )
        )
    else:
        first: dict[str, str] = {}
        for name, member in signing.members(project).items():  # the bootstrap's deployer comes last
            if member not in first:
                first[member] = name
            elif name == BOOTSTRAP_SIGNER:
                out.append(
                    Problem(
                        f"signing.signers.{first[member]}",
                        member,
                        "the bootstrap's CI deployer signs already (signing.bootstrapSigner: true): drop this entry",
                    )
                )
            else:
                out.append(
                    Problem(
                        f"signing.signers.{name}",
                        member,
                        f"the same identity as signing.signers.{first[member]}: list each signer once",
                    )
                )
    if prod and not signing.members(project):
        out.append(
            Problem(
                "signing.signers",
                {},
                "prod needs at least one signer: Binary Authorization admits no image of ours without an "
                "attestation by the estate's key; set signing.bootstrapSigner: true (the prod default: the "
                f"bootstrap's CI deployer, {bootstrap_deployer(project).removeprefix('serviceAccount:')}, signs) "
                "or list the CI identities that build the images in signing.signers",
            )
        )
    return out


def check(signing: SigningConfig, backup: BackupConfig, *, prod: bool) -> list[Problem]:
    """Rules across the fields of `signing` and `backup`, each naming its key path."""

    out: list[Problem] = []
    if prod and signing.protection_level != "HSM":
        out.append(
            Problem(
                "signing.protectionLevel",
                signing.protection_level,
                "prod signs its images with an HSM key (HSM); SOFTWARE is for dev",
            )
        )
    hours = schedule_interval_hours(backup.schedule)
    if hours is None:
        out.append(Problem("backup.schedule", backup.schedule, f"must be {SCHEDULE_FORMS}"))
    else:
        if backup.retain_days * 24 <= hours:
            out.append(
                Problem(
                    "backup.retainDays",
                    backup.retain_days,
                    f"must exceed the schedule's interval ({hours} h), or a backup expires before the next one exists",
                )
            )
        if backup.retain_days * 24 > 360 * hours:
            out.append(
                Problem(
                    "backup.retainDays",
                    backup.retain_days,
                    f"must be at most 360 schedule intervals ({360 * hours // 24} days for every {hours} h)",
                )
            )
    if backup.delete_lock_days > backup.retain_days:
        out.append(
            Problem(
                "backup.deleteLockDays",
                backup.delete_lock_days,
                f"must be <= backup.retainDays ({backup.retain_days})",
            )
        )
    if prod and backup.delete_lock_days < 1:
        out.append(
            Problem(
                "backup.deleteLockDays",
                backup.delete_lock_days,
                "prod locks backups against deletion for at least 1 day (a compromised admin cannot wipe them)",
            )
        )
    return out

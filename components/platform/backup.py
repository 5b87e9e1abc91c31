"""Backup for GKE: the namespaces that hold data, backed up on a schedule, CMEK-encrypted, kept off-cluster.

Needs the cluster's backup agent (`addons_config.gke_backup_agent_config.enabled`). Backups live in
the Backup for GKE service, not in the cluster, so they survive the cluster's loss; restoring
takes a RestorePlan against a new cluster (not managed here: a restore is an operation, not state).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from components.common import child
from stacks.config_signing import BackupConfig

KEY_ROLE = "roles/cloudkms.cryptoKeyEncrypterDecrypter"


@dataclass(frozen=True)
class BackupArgs:
    project: str
    region: str
    prefix: str
    cluster_id: pulumi.Input[str]
    # A key of the estate's ring in `region` for the backups (a new `backup` role in Keys).
    kms_key_id: pulumi.Input[str]
    # The Backup for GKE agent's grant on that key (Keys creates the agent and waits for the grant).
    key_grant: pulumi.Resource
    # The namespaces config marks `holdsData: true`. None yet: no plan (the API refuses a plan whose
    # selection is empty, and one with nothing to back up would only hide that fact).
    namespaces: Sequence[str]
    config: BackupConfig
    labels: Mapping[str, str]
    protect: bool
    cluster: pulumi.Resource
    apis: pulumi.Resource


def plan_name(prefix: str, suffix: str | None = None) -> str:
    base = f"{prefix}-data-namespaces"
    return f"{base}-{suffix}" if suffix else base


class Backup(pulumi.ComponentResource):
    plan_id: pulumi.Output[str] | None

    def __init__(self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:backup:Backup", name, None, opts)
        self.plan_id = None
        if args.namespaces:
            self.plan_id = self._plan(name, args).id
        self.register_outputs({"planId": self.plan_id})

    def _plan(self, name: str, args: BackupArgs) -> gcp.gkebackup.BackupPlan:
        cfg = args.config
        # The API refuses to delete a plan that still has backups, and nothing in the provider deletes
        # them first, so a destroy would stop there. Outside prod the plan is retained on destroy
        # (its backups expire after `retainDays`; README "Destroy" has the clean-up command) and
        # carries a suffix kept in state, so a new `up` makes a new plan beside the retained one.
        # Prod protects its plan: it is never deleted by a plain destroy.
        retained = not args.protect
        name_input: pulumi.Input[str] = plan_name(args.prefix)
        if retained:
            suffix = random.RandomId(
                f"{name}-plan-suffix",
                random.RandomIdArgs(byte_length=2, keepers={"prefix": args.prefix}),
                opts=child(self),
            )
            name_input = suffix.hex.apply(lambda h: plan_name(args.prefix, h))
        return gcp.gkebackup.BackupPlan(
            f"{name}-plan",
            gcp.gkebackup.BackupPlanArgs(
                name=name_input,
                project=args.project,
                location=args.region,
                cluster=args.cluster_id,
                description="Namespaces that hold data: their objects and volumes, off-cluster",
                labels=dict(args.labels),
                deactivated=False,
                backup_config=gcp.gkebackup.BackupPlanBackupConfigArgs(
                    selected_namespaces=gcp.gkebackup.BackupPlanBackupConfigSelectedNamespacesArgs(
                        namespaces=sorted(args.namespaces)
                    ),
                    include_volume_data=True,
                    include_secrets=cfg.include_secrets,
                    # Encrypts the config backup (the Kubernetes objects, Secrets among them);
                    # volume backups keep the encryption of the disks they come from.
                    encryption_key=gcp.gkebackup.BackupPlanBackupConfigEncryptionKeyArgs(
                        gcp_kms_encryption_key=args.kms_key_id
                    ),
                ),
                backup_schedule=gcp.gkebackup.BackupPlanBackupScheduleArgs(cron_schedule=cfg.schedule, paused=False),
                retention_policy=gcp.gkebackup.BackupPlanRetentionPolicyArgs(
                    backup_retain_days=cfg.retain_days,
                    backup_delete_lock_days=cfg.delete_lock_days,
                    # Never locked from code: a locked policy can never be changed again.
                    locked=False,
                ),
            ),
            # The first scheduled backup needs the agent's key grant and the cluster's agent.
            opts=child(
                self,
                depends_on=[args.key_grant, args.cluster, args.apis],
                protect=args.protect,
                retain_on_delete=retained,
            ),
        )

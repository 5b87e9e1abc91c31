"""Backup for GKE, and the checks of `ai-estate:signing` and `ai-estate:backup`."""

from __future__ import annotations

from typing import Any

import pulumi_gcp as gcp
import pytest
from pydantic import ValidationError

from components.platform.backup import KEY_ROLE, Backup, BackupArgs, plan_name
from stacks.config_signing import DEFAULTS, BackupConfig, SigningConfig, check, schedule_interval_hours
from tests.policy_fixtures import found
from tools.analyzer import Analyzer
from tools.plan import Plan, record

PROJECT, REGION = "ai-estate-test", "europe-west4"
KEY = f"projects/{PROJECT}/locations/{REGION}/keyRings/estate-dev/cryptoKeys/estate-dev-backup"


def _rendered(signing: SigningConfig, backup: BackupConfig, *, prod: bool) -> list[str]:
    return [p.render() for p in check(signing, backup, prod=prod)]


# ---------------------------------------------------------------- config
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_defaults_pass(env: str) -> None:
    d: dict[str, Any] = DEFAULTS[env]
    signing, backup = SigningConfig.model_validate(d["signing"]), BackupConfig.model_validate(d["backup"])
    assert _rendered(signing, backup, prod=env == "prod") == []


@pytest.mark.parametrize(
    ("cron", "hours"),
    [("0 2 * * *", 24), ("30 */6 * * *", 6), ("0 3 * * 0", 168), ("0 */5 * * *", None), ("0 25 * * *", None)],
)
def test_schedule_interval(cron: str, hours: int | None) -> None:
    assert schedule_interval_hours(cron) == hours


def test_backup_checks_fail_with_exact_messages() -> None:
    signing = SigningConfig()
    weekly_short = BackupConfig(schedule="0 3 * * 0", retain_days=7, delete_lock_days=0)
    assert _rendered(signing, weekly_short, prod=False) == [
        "backup.retainDays = 7: must exceed the schedule's interval (168 h), or a backup expires before the next "
        "one exists"
    ]
    hourly_long = BackupConfig(schedule="0 */1 * * *", retain_days=30)
    assert _rendered(signing, hourly_long, prod=False) == [
        "backup.retainDays = 30: must be at most 360 schedule intervals (15 days for every 1 h)"
    ]
    assert _rendered(signing, BackupConfig(schedule="*/5 * * * *"), prod=False) == [
        "backup.schedule = '*/5 * * * *': must be 'M H * * *' (daily), 'M H * * D' (weekly) or 'M */N * * *' "
        "(every N hours)"
    ]
    locked = BackupConfig(retain_days=3, delete_lock_days=5)
    assert _rendered(signing, locked, prod=False) == ["backup.deleteLockDays = 5: must be <= backup.retainDays (3)"]


def test_prod_rules() -> None:
    soft = SigningConfig(protection_level="SOFTWARE")
    unlocked = BackupConfig(delete_lock_days=0)
    assert _rendered(soft, unlocked, prod=True) == [
        "signing.protectionLevel = 'SOFTWARE': prod signs its images with an HSM key (HSM); SOFTWARE is for dev",
        "backup.deleteLockDays = 0: prod locks backups against deletion for at least 1 day (a compromised admin "
        "cannot wipe them)",
    ]
    assert _rendered(soft, unlocked, prod=False) == []


@pytest.mark.parametrize(
    "member",
    [
        "serviceAccount:release-ci@ai-estate-test.iam.gserviceaccount.com",
        "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/gh/attribute.repository/o/r",
        "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/gh/subject/repo:o/r:ref:main",
    ],
)
def test_signer_members_allowed(member: str) -> None:
    assert SigningConfig(signers={"ci": member}).signers == {"ci": member}


@pytest.mark.parametrize(
    "member", ["allUsers", "allAuthenticatedUsers", "user:dev@example.com", "group:ci@example.com", "domain:x.com"]
)
def test_signer_members_refused(member: str) -> None:
    with pytest.raises(ValidationError, match=r"signers\.ci"):
        SigningConfig(signers={"ci": member})


# ---------------------------------------------------------------- the component under the mock runtime
def _program(env: str, namespaces: list[str]) -> None:
    apis = gcp.projects.Service("apis", service="gkebackup.googleapis.com")
    cluster = gcp.container.Cluster("cluster", location=REGION, initial_node_count=1)
    grant = gcp.kms.CryptoKeyIAMMember("grant", crypto_key_id=KEY, role=KEY_ROLE, member="serviceAccount:agent")
    cfg = BackupConfig.model_validate(DEFAULTS[env]["backup"])
    Backup(
        f"estate-{env}-backup",
        BackupArgs(
            project=PROJECT,
            region=REGION,
            prefix=f"estate-{env}",
            cluster_id=cluster.id,
            kms_key_id=KEY,
            key_grant=grant,
            namespaces=namespaces,
            config=cfg,
            labels={"environment": env, "component": "backup"},
            protect=env == "prod",
            cluster=cluster,
            apis=apis,
        ),
    )


def _plan(env: str, namespaces: list[str]) -> Plan:
    plan = record(lambda: _program(env, namespaces), stack=env, config={"gcp:project": PROJECT, "gcp:region": REGION})
    assert plan.ok, plan.error
    return plan


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_backup_plan(env: str) -> None:
    plan = _plan(env, ["observability", "kafka"])
    (bp,) = plan.by_type("gcp:gkebackup/backupPlan:BackupPlan")
    inputs, cfg = bp["inputs"], DEFAULTS[env]["backup"]
    # Prod's name is fixed; outside prod it carries a suffix, since destroy retains the plan.
    if env == "prod":
        assert inputs["name"] == plan_name("estate-prod")
    else:
        assert inputs["name"].startswith(plan_name(f"estate-{env}") + "-") and bp["options"]["retainOnDelete"]
    assert inputs["location"] == REGION
    assert inputs["cluster"] == f"projects/{PROJECT}/locations/{REGION}/clusters/cluster"
    assert inputs["backupConfig"] == {
        "selectedNamespaces": {"namespaces": ["kafka", "observability"]},
        "includeVolumeData": True,
        "includeSecrets": True,
        "encryptionKey": {"gcpKmsEncryptionKey": KEY},
    }
    assert inputs["backupSchedule"] == {"cronSchedule": cfg["schedule"], "paused": False}
    assert inputs["retentionPolicy"] == {
        "backupRetainDays": cfg["retainDays"],
        "backupDeleteLockDays": cfg["deleteLockDays"],
        "locked": False,
    }
    assert inputs["deactivated"] is False and inputs["labels"]["environment"] == env
    assert bp["options"]["protect"] is (env == "prod")
    # The agent's key grant (made by Keys in the estate) comes before the plan.
    assert plan.one("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "grant")["urn"] in bp["dependencies"]
    assert plan.one("gcp:container/cluster:Cluster", "cluster")["urn"] in bp["dependencies"]


def test_no_data_namespaces_no_plan() -> None:
    plan = _plan("dev", [])
    assert plan.by_type("gcp:gkebackup/backupPlan:BackupPlan") == []


def test_the_pack_accepts_what_backup_registers(pack: Analyzer) -> None:
    plan = _plan("prod", ["kafka"])
    ours = [r for r in plan.resources if r["custom"] and "estate:backup:Backup" in r["urn"]]
    assert {r["type"] for r in ours} == {"gcp:gkebackup/backupPlan:BackupPlan"}
    assert [found(pack, r) for r in ours] == [{}]

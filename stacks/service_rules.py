"""Rules for what the Google APIs refuse and for least privilege; each problem names its key path."""

from __future__ import annotations

from stacks.model import EstateConfig
from stacks.problem import Problem
from stacks.secret_keys import secret_keys

# Roles that read secret payloads; granted project-wide they read every secret in the project.
SECRET_ACCESS_ROLES = ("roles/secretmanager.secretAccessor", "roles/secretmanager.admin")
_ENTERPRISE_PITR_DAYS = 7
_READ_REPLICA_MIN_GB = 5


def check_gpu_quota(cfg: EstateConfig) -> list[Problem]:
    quota = cfg.cluster.gpu_quota
    gpu_pools = sorted(n for n, p in cfg.cluster.node_pools.items() if p.gpu is not None)
    if not gpu_pools or not quota.request or quota.contact_email:
        return []
    return [
        Problem(
            "cluster.gpuQuota.contactEmail",
            None,
            f"GPU pools {gpu_pools} need GPU quota, which is 0 on a new project, and Cloud Quotas requires a "
            "contact email (an account with quota update permission) to request an increase; set it, or set "
            "cluster.gpuQuota.request: false and request the quota yourself",
        )
    ]


def check_secrets(cfg: EstateConfig) -> list[Problem]:
    out = []
    servers = cfg.inference.values()
    known = secret_keys(
        cfg.database,
        api_key=any(s.runtime == "llamacpp" for s in servers),
        hub_token=any(s.model.gated for s in servers),
    )
    for name, wl in cfg.identity.workloads.items():
        for i, role in enumerate(wl.roles):
            if role in SECRET_ACCESS_ROLES:
                out.append(
                    Problem(
                        f"identity.workloads.{name}.roles[{i}]",
                        role,
                        "project-wide Secret Manager access reads every secret in the project; "
                        f"list the secrets in identity.workloads.{name}.secrets instead",
                    )
                )
        for i, key in enumerate(wl.secrets):
            if key not in known:
                out.append(
                    Problem(
                        f"identity.workloads.{name}.secrets[{i}]",
                        key,
                        f"not a secret the estate creates; allowed: {known}",
                    )
                )
    return out


def check_services(cfg: EstateConfig) -> list[Problem]:
    """What the Cloud SQL and Memorystore APIs refuse, refused here first."""
    out = []
    db = cfg.database
    perf = db.tier.startswith("db-perf-optimized-")
    if db.edition == "ENTERPRISE_PLUS" and not perf:
        out.append(Problem("database.tier", db.tier, "edition ENTERPRISE_PLUS takes db-perf-optimized-N-* tiers"))
    if db.edition == "ENTERPRISE" and perf:
        out.append(
            Problem(
                "database.tier",
                db.tier,
                "edition ENTERPRISE takes db-custom-*, db-g1-small or db-f1-micro tiers "
                "(db-perf-optimized-N-* needs edition ENTERPRISE_PLUS)",
            )
        )
    if db.edition == "ENTERPRISE" and db.backups.point_in_time_recovery_days > _ENTERPRISE_PITR_DAYS:
        out.append(
            Problem(
                "database.backups.pointInTimeRecoveryDays",
                db.backups.point_in_time_recovery_days,
                f"edition ENTERPRISE keeps at most {_ENTERPRISE_PITR_DAYS} days of transaction logs "
                "(ENTERPRISE_PLUS up to 35)",
            )
        )
    for name, user in db.users.items():
        if user.type == "BUILT_IN" and user.access is not None:
            out.append(
                Problem(
                    f"database.users.{name}.access",
                    user.access,
                    "applies to CLOUD_IAM_SERVICE_ACCOUNT users; built-in users are created as cloudsqlsuperuser",
                )
            )
    cache = cfg.cache
    if cache.read_replicas and cache.tier != "STANDARD_HA":
        out.append(Problem("cache.readReplicas", True, "read replicas need tier STANDARD_HA"))
    if cache.read_replicas and cache.memory_size_gb < _READ_REPLICA_MIN_GB:
        out.append(
            Problem(
                "cache.readReplicas",
                True,
                f"read replicas need memorySizeGb >= {_READ_REPLICA_MIN_GB} (is {cache.memory_size_gb})",
            )
        )
    if cache.tier == "STANDARD_HA" and not cache.read_replicas and cache.replica_count != 1:
        out.append(
            Problem(
                "cache.replicaCount",
                cache.replica_count,
                "a STANDARD_HA instance without readReplicas has exactly 1 replica",
            )
        )
    if cache.tier == "STANDARD_HA" and cache.read_replicas and cache.replica_count < 1:
        out.append(Problem("cache.replicaCount", cache.replica_count, "read replicas take 1 to 5 replicas"))
    return out

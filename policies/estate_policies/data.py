"""Data, storage and IAM: backups, protection, private buckets, least privilege, key rotation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import Severity

from estate_policies.common import get, items, of_types, resource_policy, rules

CIS_GCP = "CIS Google Cloud Platform Foundation Benchmark"
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
MAX_ROTATION_SECONDS = 90 * 24 * 3600
BASIC_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
IMPERSONATION = ("roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator")
PUBLIC = ("allUsers", "allAuthenticatedUsers")
# Roles that read secret payloads: granted on a project (or folder, organization) they read every secret in it.
SECRET_ACCESS = ("roles/secretmanager.secretAccessor", "roles/secretmanager.admin")
PROD_DEFAULT = ["prod"]


def _is_iam(type_: str) -> bool:
    cls = type_.rsplit(":", 1)[-1].lower()
    return cls.endswith(("iammember", "iambinding", "iampolicy")) and "artifactregistry/" not in type_


def _is_project_iam(type_: str) -> bool:
    return type_.split(":")[1].split("/")[0] in ("projects", "organizations", "folder") and _is_iam(type_)


def _members(props: Mapping[str, Any]) -> list[str]:
    return [str(m) for m in [props.get("member"), *items(props.get("members"))] if m]


def _is_prod(props: Mapping[str, Any], config: Mapping[str, Any]) -> bool:
    env = get(props, "settings", "userLabels", "environment")
    return env in config.get("productionEnvironments", PROD_DEFAULT)


def _backups(_t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    backup = get(p, "settings", "backupConfiguration", default={}) or {}
    if backup.get("enabled") is not True:
        yield "settings.backupConfiguration.enabled must be true"
    if backup.get("pointInTimeRecoveryEnabled") is not True:
        yield "settings.backupConfiguration.pointInTimeRecoveryEnabled must be true"


def _protection(_t: str, p: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if not _is_prod(p, config):
        return
    if p.get("deletionProtection") is not True:
        yield "deletionProtection must be true in production"
    if get(p, "settings", "deletionProtectionEnabled") is not True:
        yield "settings.deletionProtectionEnabled must be true in production"


def _ha(_t: str, p: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    if _is_prod(p, config) and get(p, "settings", "availabilityType") != "REGIONAL":
        yield "settings.availabilityType must be REGIONAL in production"


def _bucket_access(_t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if p.get("uniformBucketLevelAccess") is not True:
        yield "uniformBucketLevelAccess must be true"
    if p.get("publicAccessPrevention") != "enforced":
        yield f"publicAccessPrevention is {p.get('publicAccessPrevention')!r}; set enforced"


def _bucket_versioning(_t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if get(p, "versioning", "enabled") is not True:
        yield "versioning.enabled must be true"


def _public(_t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    policy = str(p.get("policyData") or "")
    for who in PUBLIC:
        if who in _members(p) or who in policy:
            yield f"grants {p.get('role', 'a role')} to {who}"


def _basic_roles(_t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    policy = str(p.get("policyData") or "")
    for role in BASIC_ROLES:
        if p.get("role") == role or role in policy:
            yield f"grants the basic role {role}; use a predefined role"


def _impersonation(_t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    policy = str(p.get("policyData") or "")
    for role in IMPERSONATION:
        if p.get("role") == role or role in policy:
            yield f"grants {role} project-wide; grant it on the one service account instead"


def _project_secret_access(_t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    policy = str(p.get("policyData") or "")
    for role in SECRET_ACCESS:
        if p.get("role") == role or f'"{role}"' in policy:
            yield f"grants {role} project-wide; grant it on each secret (gcp.secretmanager.SecretIamMember)"


def _rotation(_t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if p.get("purpose", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
        return
    period = str(p.get("rotationPeriod") or "")
    seconds = float(period.removesuffix("s")) if period.endswith("s") else None
    if seconds is None or seconds > MAX_ROTATION_SECONDS:
        yield f"rotationPeriod is {period or 'unset'}; rotate at least every 90 days ({MAX_ROTATION_SECONDS}s)"


_r = rules("")

PROD_CONFIG = {
    "productionEnvironments": {
        "type": "array",
        "items": {"type": "string"},
        "default": PROD_DEFAULT,
        "description": "Values of the environment label that mean production.",
    }
}
POLICIES = [
    resource_policy(
        _r(
            "estate-data-cloudsql-backups",
            "Cloud SQL keeps automated backups with point-in-time recovery.",
            Severity.HIGH,
            f"{CIS_GCP}: 6.7 (automated backups)",
            "backupConfiguration: {enabled: true, pointInTimeRecoveryEnabled: true}.",
        ),
        of_types(SQL),
        _backups,
    ),
    resource_policy(
        _r(
            "estate-data-cloudsql-deletion-protection",
            "Production Cloud SQL cannot be deleted by mistake.",
            Severity.HIGH,
            "Google Cloud SQL: deletion protection",
            "deletionProtection and settings.deletionProtectionEnabled true (and Pulumi protect).",
            config=PROD_CONFIG,
        ),
        of_types(SQL),
        _protection,
    ),
    resource_policy(
        _r(
            "estate-data-cloudsql-ha",
            "Production Cloud SQL is highly available (REGIONAL).",
            Severity.MEDIUM,
            "Google Cloud SQL: high availability",
            "settings.availabilityType: REGIONAL.",
            config=PROD_CONFIG,
        ),
        of_types(SQL),
        _ha,
    ),
    resource_policy(
        _r(
            "estate-storage-bucket-access",
            "Buckets use uniform access and enforce public access prevention.",
            Severity.HIGH,
            f"{CIS_GCP}: 5.1, 5.2 (public access, uniform bucket-level access)",
            "uniformBucketLevelAccess: true; publicAccessPrevention: enforced.",
        ),
        of_types("gcp:storage/bucket:Bucket"),
        _bucket_access,
    ),
    resource_policy(
        _r(
            "estate-storage-bucket-versioning",
            "Buckets keep object versions.",
            Severity.MEDIUM,
            "Google Cloud Storage: data protection",
            "versioning: {enabled: true} with lifecycle rules.",
        ),
        of_types("gcp:storage/bucket:Bucket"),
        _bucket_versioning,
    ),
    resource_policy(
        _r(
            "estate-iam-no-public-members",
            "No IAM grant to allUsers or allAuthenticatedUsers.",
            Severity.CRITICAL,
            f"{CIS_GCP}: 5.1 (not anonymously or publicly accessible)",
            "Grant roles to named principals only.",
        ),
        _is_iam,
        _public,
    ),
    resource_policy(
        _r(
            "estate-iam-no-basic-roles",
            "No basic roles (owner, editor, viewer).",
            Severity.HIGH,
            f"{CIS_GCP}: 1.5 (no admin privileges on service accounts)",
            "Use predefined or custom roles scoped to the resource.",
        ),
        _is_iam,
        _basic_roles,
    ),
    resource_policy(
        _r(
            "estate-iam-no-project-impersonation",
            "No project-wide Service Account User or Token Creator grants.",
            Severity.HIGH,
            f"{CIS_GCP}: 1.6 (service account user / token creator at project level)",
            "Grant impersonation on the individual service account (gcp.serviceaccount.IAMMember).",
        ),
        _is_project_iam,
        _impersonation,
    ),
    resource_policy(
        _r(
            "estate-iam-no-project-secret-access",
            "No project-wide Secret Manager access: secrets are granted one by one.",
            Severity.HIGH,
            "NIST SP 800-53 AC-6 (least privilege); Google Secret Manager best practices: grant access per secret",
            "Grant roles/secretmanager.secretAccessor on the secret (gcp.secretmanager.SecretIamMember).",
        ),
        _is_project_iam,
        _project_secret_access,
    ),
    resource_policy(
        _r(
            "estate-data-kms-rotation",
            "KMS keys rotate at least every 90 days.",
            Severity.MEDIUM,
            f"{CIS_GCP}: 1.10 (KMS keys rotated within 90 days)",
            "rotationPeriod: 7776000s or less.",
        ),
        of_types("gcp:kms/cryptoKey:CryptoKey"),
        _rotation,
    ),
]

"""The Secret Manager entries the estate creates, by key: one place for their names.

A secret's id is `<prefix>-<key>`; workloads name keys in `identity.workloads.<w>.secrets`,
and the platform syncs those secrets into the workload's namespace, read by that namespace's
sync service account with `roles/secretmanager.secretAccessor` on each secret only.
"""

from __future__ import annotations

from stacks.model import DatabaseConfig

DB_ADMIN_PASSWORD = "db-admin-password"
REDIS_AUTH = "redis-auth"
REDIS_CA = "redis-ca"
INFERENCE_API_KEY = "inference-api-key"  # generated: llama.cpp servers' key, which their callers send
HF_TOKEN = "huggingface-token"  # set by a person: a gated model's Hugging Face token, for staging
RELEASE_WEBHOOK_KEY = "release-webhook-key"  # generated: Harbor sends it to the release flow's route
RELEASE_GITHUB_TOKEN = "release-github-token"  # set by a person: the release flow opens pull requests with it
REDIS_ADDRESS = "redis-address"  # rediss://<host>:<port>: clients read the address as they read the password
# The one key of every Kubernetes Secret the platform syncs for a workload (identity.workloads.<w>.secrets).
SECRET_VALUE_KEY = "value"


def db_user_password(user: str) -> str:
    return f"db-{user.replace('_', '-')}-password"


def secret_keys(database: DatabaseConfig, *, api_key: bool = False, hub_token: bool = False) -> list[str]:
    """Every secret key the estate creates (or, `hub_token`, expects a person to) for this config,
    sorted. `api_key`: llama.cpp servers run; `hub_token`: a model to stage is gated."""
    users = [db_user_password(u) for u, spec in database.users.items() if spec.type == "BUILT_IN"]
    extra = [*([INFERENCE_API_KEY] if api_key else []), *([HF_TOKEN] if hub_token else [])]
    return sorted({DB_ADMIN_PASSWORD, REDIS_AUTH, REDIS_CA, REDIS_ADDRESS, *users, *extra})


def secret_id(prefix: str, key: str) -> str:
    return f"{prefix}-{key}"


def sync_account_id(environment: str, namespace: str) -> str:
    """The Google service account a namespace syncs its secrets as (External Secrets)."""
    return f"{environment}-sync-{namespace}"

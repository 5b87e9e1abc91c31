"""Least privilege in the plans: secrets per secret, Cloud SQL per instance, no unused grants."""

from __future__ import annotations

from components.cloud.access import sql_condition_expression
from components.cloud.pause import SLEEP_TYPE
from components.data import harbor_secrets
from components.kube.external_secret import ACCESSOR as SECRET_ACCESSOR
from stacks import gpu, load
from stacks.quota import ALL_REGIONS, gpu_quota_requests, quota_id
from tests.conftest import children_of, stack_cfg
from tools.plan import Plan, stack_config

PROJECT_IAM = "gcp:projects/iAMMember:IAMMember"
SECRET_IAM = "gcp:secretmanager/secretIamMember:SecretIamMember"


def _email(plan: Plan, workload: str) -> str:
    return f"serviceAccount:{plan.stack}-wl-{workload}@{stack_cfg(plan.stack).project}.iam.gserviceaccount.com"


def test_no_project_wide_secret_access(plan: Plan) -> None:
    roles = {r["inputs"]["role"] for r in plan.by_type(PROJECT_IAM)}
    assert not {r for r in roles if r.startswith("roles/secretmanager.")}


def _sync(plan: Plan, namespace: str) -> str:
    return f"serviceAccount:{plan.stack}-sync-{namespace}@{stack_cfg(plan.stack).project}.iam.gserviceaccount.com"


def test_each_namespace_syncs_only_the_secrets_its_workloads_name(plan: Plan) -> None:
    # External Secrets reads Secret Manager as the namespace's sync identity, one grant a secret.
    p = f"estate-{plan.stack}"
    grants = {(g["inputs"]["member"], g["inputs"]["secretId"]) for g in plan.by_type(SECRET_IAM)}
    harbor = stack_cfg(plan.stack).harbor
    # Harbor syncs its own: exactly the Secrets its chart reads (components/data/harbor_secrets.py).
    harbor_grants = {
        (_sync(plan, harbor.namespace), secret_id)
        for data in harbor_secrets.wanted(p, harbor.database_user).values()
        for secret_id in data.values()
    }
    assert harbor_grants and all("harbor" in sid for _, sid in harbor_grants)
    assert grants == {
        # The Redis client Secret of KEDA's scaler (the agent workers scale on their streams' lag) and
        # of the gateway's rate-limit service.
        *((_sync(plan, ns), f"{p}-redis-{k}") for ns in ("keda", "istio-ingress") for k in ("address", "auth", "ca")),
        # The cells' Memorystore: address, AUTH string and CA.
        (_sync(plan, "cells"), f"{p}-redis-address"),
        (_sync(plan, "cells"), f"{p}-redis-auth"),
        (_sync(plan, "cells"), f"{p}-redis-ca"),
        (_sync(plan, "estate-data"), f"{p}-db-admin-password"),
        # The llama.cpp servers' API key: the servers' namespace and their callers' (the cells).
        (_sync(plan, "inference"), f"{p}-inference-api-key"),
        (_sync(plan, "cells"), f"{p}-inference-api-key"),
        *harbor_grants,
        # Windmill syncs its own (its user's password, its superadmin secret); the sign-in its OAuth
        # client and cookie key (components/automation).
        (_sync(plan, "windmill"), f"{p}-db-windmill-password"),
        (_sync(plan, "windmill"), f"{p}-windmill-superadmin"),
        # Its release group's files: the webhook key, the GitHub token and the pull robot's login.
        (_sync(plan, "windmill"), f"{p}-release-webhook-key"),
        (_sync(plan, "windmill"), f"{p}-release-github-token"),
        (_sync(plan, "windmill"), f"{p}-harbor-robot-{harbor.pull_robot}"),
        *((_sync(plan, "sso"), f"{p}-sso-{k}") for k in ("client-id", "client-secret", "cookie-secret")),
        # n8n syncs its own: its user's password, its encryption key and runners' token, and in queue
        # mode (prod) the queue's Redis address, AUTH string and CA.
        *((_sync(plan, "n8n"), f"{p}-{k}") for k in ("db-n8n-password", "n8n-encryption-key", "n8n-runners-token")),
        *(
            (_sync(plan, "n8n"), f"{p}-redis-{k}")
            for k in ("address", "auth", "ca")
            if stack_cfg(plan.stack).automation.n8n.queue_mode
        ),
        # Alertmanager's paging key and Grafana's admin password (the metrics stack syncs its own).
        (_sync(plan, stack_cfg(plan.stack).observability.namespace), f"{p}-pagerduty-routing-key"),
        (_sync(plan, stack_cfg(plan.stack).observability.namespace), f"{p}-grafana-admin-password"),
        # The Redis exporter's address, password and CA.
        *(
            (_sync(plan, stack_cfg(plan.stack).observability.namespace), f"{p}-redis-{k}")
            for k in ("address", "auth", "ca")
        ),
    }
    assert {g["inputs"]["role"] for g in plan.by_type(SECRET_IAM)} == {SECRET_ACCESSOR}
    secrets = {s["inputs"]["secretId"] for s in plan.by_type("gcp:secretmanager/secret:Secret")}
    assert {sid for _, sid in grants} <= secrets


def test_cloud_sql_roles_are_scoped_to_the_instance(plan: Plan) -> None:
    instance = plan.one("gcp:sql/databaseInstance:DatabaseInstance", f"estate-{plan.stack}-db-instance")
    project = stack_cfg(plan.stack).project
    expected = sql_condition_expression(project, instance["inputs"]["name"])
    sql = [r["inputs"] for r in plan.by_type(PROJECT_IAM) if r["inputs"]["role"].startswith("roles/cloudsql.")]
    assert sql and all(g["condition"]["expression"] == expected for g in sql)
    assert 'resource.type == "sqladmin.googleapis.com/Instance"' in expected
    assert f'resource.name == "projects/{project}/instances/{instance["inputs"]["name"]}"' in expected
    by_member = {(g["member"], g["role"]) for g in sql}
    client = {
        (_email(plan, w), "roles/cloudsql.client")
        for w in ("cells", "db-migrate", "harbor-db-proxy", "windmill", "n8n")
    }
    # db-migrate logs in as the built-in admin: no instanceUser. Only IAM database users get it: the
    # cells' login, in both stacks.
    instance_user = {(_email(plan, "cells"), "roles/cloudsql.instanceUser")}
    assert by_member == client | instance_user


def test_loki_and_tempo_each_manage_their_own_bucket_only(plan: Plan) -> None:
    """Each backend deletes what its retention drops (objectAdmin), in its own bucket only; the
    `observability` identity (Pub/Sub exports) holds no bucket role."""
    cfg = stack_cfg(plan.stack)

    def grants(workload: str) -> set[tuple[str, str]]:
        return {
            (g["inputs"]["bucket"], g["inputs"]["role"])
            for g in plan.by_type("gcp:storage/bucketIAMMember:BucketIAMMember")
            if g["inputs"]["member"] == _email(plan, workload)
        }

    o = cfg.observability
    assert grants(o.logs.workload) == {(f"{cfg.project}-{o.logs.bucket}", "roles/storage.objectAdmin")}
    assert grants(o.traces.workload) == {(f"{cfg.project}-{o.traces.bucket}", "roles/storage.objectAdmin")}
    assert grants("observability") == set()


def test_service_agents_exist_before_their_key_grant_and_users_wait_for_it(plan: Plan) -> None:
    keys = children_of(plan, "estate:security:Keys")
    agents = {r["inputs"]["service"]: r["urn"] for r in keys if r["type"].endswith("ServiceIdentity")}
    assert set(agents) == {
        "container.googleapis.com",
        "sqladmin.googleapis.com",
        "redis.googleapis.com",
        "gkebackup.googleapis.com",
        "pubsub.googleapis.com",
    }
    grants = {r["name"]: r for r in keys if r["type"] == "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"}
    # The wait is pulumiverse-time's Sleep (a provider plugin), not a dynamic provider pickled by
    # reference to a module path (pulumi/pulumi#7453).
    assert not [r for r in plan.resources if r["type"].startswith("pulumi-python:dynamic")]
    pauses = {r["name"]: r for r in keys if r["type"] == SLEEP_TYPE}
    for role, api in (
        ("gke", "container"),
        ("sql", "sqladmin"),
        ("redis", "redis"),
        ("backup", "gkebackup"),
        ("pubsub", "pubsub"),
    ):
        grant = grants[f"estate-{plan.stack}-keys-{role}-agent"]
        assert agents[f"{api}.googleapis.com"] in grant["dependencies"], role
        pause = pauses[f"estate-{plan.stack}-keys-{role}-agent-propagation"]
        assert grant["urn"] in pause["dependencies"]
        assert 60 <= int(pause["inputs"]["createDuration"].removesuffix("s")) <= 420
    # Backup for GKE's CMEK: the GKE service agent uses the backup key too, and the plan waits for both.
    robot = grants[f"estate-{plan.stack}-keys-backup-gke-agent"]
    assert robot["inputs"]["member"] == grants[f"estate-{plan.stack}-keys-gke-agent"]["inputs"]["member"]
    assert "container-engine-robot" in robot["inputs"]["member"]
    assert robot["urn"] in pauses[f"estate-{plan.stack}-keys-backup-agent-propagation"]["dependencies"]
    users = {
        "gcp:container/cluster:Cluster": "gke",
        "gcp:sql/databaseInstance:DatabaseInstance": "sql",
        "gcp:redis/instance:Instance": "redis",
    }
    for type_, role in users.items():
        (res,) = plan.by_type(type_)
        assert pauses[f"estate-{plan.stack}-keys-{role}-agent-propagation"]["urn"] in res["dependencies"], type_
    for bucket in plan.by_type("gcp:storage/bucket:Bucket"):
        assert pauses[f"estate-{plan.stack}-keys-storage-agent-propagation"]["urn"] in bucket["dependencies"]


def test_node_pools_start_at_their_minimum(plan: Plan) -> None:
    cfg = load(plan.stack, stack_config(plan.stack))
    for res in plan.by_type("gcp:container/nodePool:NodePool"):
        spec = cfg.cluster.node_pools[res["inputs"]["name"]]
        assert res["inputs"]["initialNodeCount"] == spec.min_nodes
        assert "initialNodeCount" in res["options"]["ignoreChanges"]


def test_gpu_quota_preferences_cover_the_pools_maxima(plan: Plan) -> None:
    cfg = load(plan.stack, stack_config(plan.stack))
    prefs = {
        (p["inputs"]["quotaId"], (p["inputs"].get("dimensions") or {}).get("region")): int(
            p["inputs"]["quotaConfig"]["preferredValue"]
        )
        for p in plan.by_type("gcp:cloudquota/sQuotaPreference:SQuotaPreference")
    }
    assert prefs == {(r.quota_id, r.region): r.value for r in gpu_quota_requests(cfg)}
    for pref in plan.by_type("gcp:cloudquota/sQuotaPreference:SQuotaPreference"):
        # Cloud Quotas refuses an increase without a contact email.
        assert pref["inputs"]["service"] == "compute.googleapis.com"
        assert pref["inputs"]["contactEmail"] == cfg.cluster.gpu_quota.contact_email
    # The GPU pools set no zones: each runs in the cluster's zones that offer its GPU.
    pools = cfg.cluster.node_pools
    assert pools["gpu"].zones is None
    l4_zones = [z for z in cfg.cluster.zones if z in gpu.zones_offering(gpu.L4)]
    assert l4_zones
    if plan.stack == "dev":
        # One spot L4 pool, one zone: (2 max + 1 surge) x 1 zone x 1 GPU, from the preemptible quota.
        assert len(l4_zones) == 1
        assert prefs == {
            ("PREEMPTIBLE-NVIDIA-L4-GPUS-per-project-region", cfg.region): 3,
            (ALL_REGIONS, None): 3,
        }
    else:
        # L4: (4 + 1) x its zones; A100: (2 + 1) x its zones (in europe-west4: 3 and 2 of a, b, c).
        assert pools["gpu-large"].zones is None
        a100_zones = [z for z in cfg.cluster.zones if z in gpu.zones_offering(gpu.A100_40GB)]
        assert a100_zones
        l4, a100 = 5 * len(l4_zones), 3 * len(a100_zones)
        assert prefs == {
            ("NVIDIA-L4-GPUS-per-project-region", cfg.region): l4,
            ("NVIDIA-A100-GPUS-per-project-region", cfg.region): a100,
            (ALL_REGIONS, None): l4 + a100,
        }


def test_quota_ids() -> None:
    assert quota_id("nvidia-l4", spot=True) == "PREEMPTIBLE-NVIDIA-L4-GPUS-per-project-region"
    assert quota_id("nvidia-h100-80gb", spot=False) == "NVIDIA-H100-GPUS-per-project-region"

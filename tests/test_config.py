"""Stack configuration: good stacks load; every bad case stops with its exact message, before any resource."""

from __future__ import annotations

from typing import Any

import pytest

from stacks import load
from stacks.gpu import pool_zones
from stacks.model import EstateConfig
from tests.conftest import area, config_problems, config_with, stack_cfg
from tools.plan import run_plan, stack_config


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_committed_stacks_are_valid(stack: str) -> None:
    cfg = load(stack, stack_config(stack))
    assert isinstance(cfg, EstateConfig)
    assert cfg.environment == stack


def test_environment_defaults_fill_the_stack() -> None:
    dev, prod = load("dev", stack_config("dev")), load("prod", stack_config("prod"))
    assert set(dev.cluster.node_pools) == {"system", "gpu", "burst", "sandbox"}
    assert set(prod.cluster.node_pools) == {"system", "gpu", "gpu-large", "burst", "sandbox"}
    assert dev.cluster.node_pools["gpu"].gpu is not None and dev.cluster.node_pools["gpu"].gpu.sharing is not None
    assert prod.cluster.node_pools["gpu-large"].gpu is not None
    assert prod.cluster.node_pools["gpu-large"].gpu.type in ("nvidia-tesla-a100", "nvidia-h100-80gb")
    assert dev.cluster.node_pools["gpu"].min_nodes == 0 and prod.cluster.node_pools["gpu-large"].min_nodes == 0
    assert dev.cluster.node_pools["burst"].spot and dev.cluster.node_pools["burst"].taints
    assert set(prod.storage.buckets) == {"artifacts", "registry", "logs", "traces", "models", "backups"}


problems = config_problems


def cluster(stack: str, **changes: Any) -> dict[str, Any]:
    return {**area(stack, "cluster"), **changes}


def pools(**pools_: Any) -> dict[str, Any]:
    return {"nodePools": pools_}


def test_unknown_area_key() -> None:
    assert problems("dev", **{"ai-estate:clustre": {}}) == [
        "ai-estate:clustre = '{}': unknown key; allowed: ai-estate:environment, ai-estate:network, "
        "ai-estate:cluster, ai-estate:database, ai-estate:cache, ai-estate:storage, ai-estate:registry, "
        "ai-estate:identity, ai-estate:namespaces, ai-estate:charts, ai-estate:dns, ai-estate:certificates, "
        "ai-estate:mesh, ai-estate:signing, ai-estate:backup, ai-estate:pubsub, ai-estate:kafka, ai-estate:harbor, "
        "ai-estate:observability, ai-estate:cells, ai-estate:sandbox, ai-estate:inference, ai-estate:automation"
    ]


def test_unknown_nested_key() -> None:
    cfg = cluster(
        "dev",
        nodePools={
            "gpu": {
                "minNodes": 0,
                "maxNodes": 1,
                "machineType": "g2-standard-8",
                "gpu": {"type": "nvidia-l4"},
                "maxNode": 3,
            }
        },
    )
    assert problems("dev", cluster=cfg) == [
        "cluster.nodePools.gpu.maxNode = 3: unknown key; allowed keys here: diskSizeGb, diskType, gpu, labels, "
        "machineType, maxNodes, maxSurge, maxUnavailable, minNodes, sandbox, spot, taints, zones"
    ]


def test_wrong_type() -> None:
    cfg = cluster("dev", nodePools={"system": {"machineType": "e2-standard-4", "minNodes": "one", "maxNodes": 3}})
    assert problems("dev", cluster=cfg) == [
        "cluster.nodePools.system.minNodes = 'one': input should be a valid integer, "
        "unable to parse string as an integer"
    ]


def test_min_above_max() -> None:
    cfg = cluster("dev", nodePools={"gpu": {"minNodes": 3, "maxNodes": 2}})
    assert problems("dev", cluster=cfg) == ["cluster.nodePools.gpu.minNodes = 3: must be <= maxNodes (2)"]


def test_gpu_not_offered_in_a_zone_of_the_pool() -> None:
    # The message comes from the GPU table: the case pins the region it was written for.
    eu = {"gcp:region": "europe-west4"}
    zones = ["europe-west4-a", "europe-west4-b", "europe-west4-c"]
    h100 = {"machineType": "a3-highgpu-1g", "gpu": {"type": "nvidia-h100-80gb", "count": 1}}
    cfg = cluster("prod", zones=zones, nodePools={"gpu-large": {**h100, "zones": zones}})
    assert problems("prod", cluster=cfg, **eu) == [
        "cluster.nodePools.gpu-large.gpu.type = 'nvidia-h100-80gb': not offered in zone europe-west4-a; "
        "in europe-west4 it is offered in ['europe-west4-b', 'europe-west4-c'] "
        "(set cluster.nodePools.gpu-large.zones to those)"
    ]
    # Without zones a GPU pool runs in the cluster's zones that offer its GPU: no zone to name.
    cfg = cluster("prod", zones=zones, nodePools={"gpu-large": {**h100, "zones": None}})
    load("prod", config_with("prod", cluster=cfg, **eu))
    assert pool_zones(None, "nvidia-h100-80gb", zones) == ["europe-west4-b", "europe-west4-c"]
    assert pool_zones(["europe-west4-a"], "nvidia-h100-80gb", zones) == ["europe-west4-a"]
    assert pool_zones(None, None, zones) == zones


def test_gpu_offered_in_no_zone_of_the_cluster() -> None:
    eu = {"gcp:region": "europe-west4"}
    h100: dict[str, Any] = {"machineType": "a3-highgpu-1g", "gpu": {"type": "nvidia-h100-80gb", "count": 1}}
    h100 |= {"zones": None, "minNodes": 0, "maxNodes": 1}
    cfg = cluster("dev", zones=["europe-west4-a"], regional=False, nodePools={"gpu-large": h100})
    assert problems("dev", cluster=cfg, **eu) == [
        "cluster.nodePools.gpu-large.gpu.type = 'nvidia-h100-80gb': offered in no zone of the cluster "
        "['europe-west4-a']; in europe-west4 it is offered in ['europe-west4-b', 'europe-west4-c'] "
        "(add one to cluster.zones, or choose another GPU type)"
    ]


@pytest.mark.parametrize(
    ("machine", "gpu_type", "families"),
    [
        ("a2-highgpu-1g", "nvidia-l4", "['g2']"),
        ("g2-standard-8", "nvidia-tesla-a100", "['a2-highgpu', 'a2-megagpu']"),
        ("a2-highgpu-1g", "nvidia-h100-80gb", "['a3-highgpu']"),
    ],
)
def test_machine_family_must_match_the_gpu(machine: str, gpu_type: str, families: str) -> None:
    cfg = cluster("dev", nodePools={"gpu": {"machineType": machine, "gpu": {"type": gpu_type, "count": 1}}})
    found = problems("dev", cluster=cfg)
    assert found[0] == (
        f"cluster.nodePools.gpu.machineType = '{machine}': gpu.type {gpu_type} needs a machine "
        f"family in {families} (g2<->L4, a2<->A100, a3<->H100)"
    )


def test_gpu_machine_without_gpu_block() -> None:
    cfg = cluster("dev", nodePools={"gpu": {"gpu": None}})
    found = problems("dev", cluster=cfg)
    assert found[0] == (
        "cluster.nodePools.gpu.gpu = None: machine family g2 carries nvidia-l4 GPUs: set gpu.type to nvidia-l4"
    )
    # The model servers on that pool are refused too, each naming its own key.
    assert found[1:] == [
        f"inference.{s}.pool = 'gpu': that pool has no GPUs; pools with GPUs: none"
        for s in sorted(stack_cfg("dev").inference)
    ]


def test_overlapping_cidrs() -> None:
    assert problems("dev", network={"ranges": {"nodes": "10.64.0.0/16", "pods": "10.64.0.0/14"}}) == [
        "network.ranges.pods = '10.64.0.0/14': overlaps network.ranges.nodes (10.64.0.0/16)"
    ]


def test_cidr_with_host_bits() -> None:
    assert problems("dev", network={"supernet": "10.64.0.1/12"}) == [
        "network.supernet = '10.64.0.1/12': not an IPv4 CIDR block with its host bits zero "
        "(10.64.0.1/12 has host bits set)"
    ]


def test_prod_needs_three_zones_and_a_regional_control_plane() -> None:
    prod = stack_cfg("prod")
    large = prod.cluster.node_pools["gpu-large"]
    (zone, *_) = pool_zones(None, large.gpu.type if large.gpu else None, prod.cluster.zones)
    cfg = cluster("prod", zones=[zone], regional=False, nodePools={"gpu-large": {"zones": [zone]}})
    found = problems("prod", cluster=cfg)
    assert found[:2] == [
        f"cluster.zones = ['{zone}']: prod needs at least 3 zones",
        "cluster.regional = False: prod needs a regional control plane (true)",
    ]
    # One zone holds fewer GPUs than the model servers may use: that is said too, naming the pools.
    assert all(p.startswith("cluster.nodePools.") and ".maxNodes = " in p for p in found[2:])


def test_prod_needs_deletion_protection_and_high_availability() -> None:
    db = {**area("prod", "database"), "deletionProtection": False, "availability": "ZONAL"}
    assert problems(
        "prod",
        database=db,
        cache={"tier": "BASIC", "memorySizeGb": 5, "readReplicas": False},
        cluster=cluster("prod", deletionProtection=False),
    ) == [
        "cluster.deletionProtection = False: must be true in prod",
        "database.deletionProtection = False: must be true in prod",
        "database.availability = 'ZONAL': must be REGIONAL (high availability) in prod",
        "cache.tier = 'BASIC': must be STANDARD_HA in prod",
    ]


def test_invalid_names() -> None:
    cfg = cluster("dev", nodePools={"GPU_Pool": {"machineType": "e2-standard-4", "minNodes": 0, "maxNodes": 1}})
    assert problems("dev", cluster=cfg) == [
        "cluster.nodePools.GPU_Pool = 'GPU_Pool': invalid name; must be 1–30 characters: lowercase letters, digits "
        "and hyphens; starts with a letter, does not end with a hyphen (e.g. 'gpu-pool')"
    ]
    assert problems("dev", **{"gcp:project": "My Project"}) == [
        "gcp:project = 'My Project': invalid value; must be 6–30 characters: lowercase letters, digits and "
        "hyphens; starts with a letter, does not end with a hyphen (e.g. 'my-project')"
    ]


def test_names_that_would_not_fit_a_service_account() -> None:
    long_pool = "a-very-long-pool-name-x"
    pools_ = {**area("prod", "cluster").get("nodePools", {})}  # the stack file's own pools stay
    pools_[long_pool] = {"machineType": "e2-standard-4", "minNodes": 0, "maxNodes": 1}
    cfg = cluster("prod", nodePools=pools_)
    assert problems("prod", cluster=cfg) == [
        f"cluster.nodePools.{long_pool} = '{long_pool}': name too long: its node service account "
        f"'prod-np-{long_pool}' must be at most 30 characters"
    ]


def test_open_authorized_network_and_wrong_zone() -> None:
    region = stack_cfg("dev").region
    elsewhere = "us-central1-a" if region != "us-central1" else "europe-west4-a"
    cfg = cluster("dev", zones=[elsewhere], authorizedNetworks={"anywhere": "0.0.0.0/0"})
    assert problems("dev", cluster=cfg) == [
        f"cluster.zones[0] = '{elsewhere}': must be a zone of gcp:region '{region}' (e.g. {region}-a)",
        "cluster.authorizedNetworks.anywhere = '0.0.0.0/0': 0.0.0.0/0 is never allowed; "
        "name the networks that may reach the control plane",
    ]


def test_forbidden_roles_for_workloads() -> None:
    identity = {"workloads": {"cells": {"roles": ["roles/editor", "roles/iam.serviceAccountTokenCreator"]}}}
    assert problems("dev", identity=identity) == [
        "identity.workloads.cells.roles[0] = 'roles/editor': basic roles are never granted; use a predefined role",
        "identity.workloads.cells.roles[1] = 'roles/iam.serviceAccountTokenCreator': "
        "project-wide impersonation roles are never granted",
    ]


def test_missing_environment_and_enum_value() -> None:
    assert problems("dev", environment=None) == ["ai-estate:environment = None: required; allowed: dev, prod"]
    assert problems("dev", cluster=cluster("dev", releaseChannel="NIGHTLY")) == [
        "cluster.releaseChannel = 'NIGHTLY': allowed: RAPID, REGULAR or STABLE"
    ]


def test_several_problems_are_reported_together() -> None:
    cfg = cluster("prod", deletionProtection=False, nodePools={"gpu": {"minNodes": 9, "maxNodes": 1}})
    found = problems("prod", cluster=cfg)
    assert "cluster.nodePools.gpu.minNodes = 9: must be <= maxNodes (1)" in found
    assert "cluster.deletionProtection = False: must be true in prod" in found


def test_bad_config_stops_the_program_before_any_resource() -> None:
    zone = stack_cfg("prod").cluster.zones[0]
    plan = run_plan("prod", config=config_with("prod", cluster=cluster("prod", zones=[zone])))
    assert plan.resources == []
    assert plan.error is not None
    assert plan.error.startswith("invalid configuration for stack 'prod' (")
    assert f"cluster.zones = ['{zone}']: prod needs at least 3 zones" in plan.error
    assert "Traceback" not in plan.error


# ---------------------------------------------------------------- what the APIs refuse, refused first
def database(stack: str, **changes: Any) -> dict[str, Any]:
    return {**area(stack, "database"), **changes}


def test_cloud_sql_edition_and_tier_must_match() -> None:
    assert problems("dev", database=database("dev", edition="ENTERPRISE_PLUS")) == [
        "database.tier = 'db-custom-2-7680': edition ENTERPRISE_PLUS takes db-perf-optimized-N-* tiers"
    ]
    assert problems("dev", database=database("dev", tier="db-perf-optimized-N-8")) == [
        "database.tier = 'db-perf-optimized-N-8': edition ENTERPRISE takes db-custom-*, db-g1-small or "
        "db-f1-micro tiers (db-perf-optimized-N-* needs edition ENTERPRISE_PLUS)"
    ]
    ok = database("dev", edition="ENTERPRISE_PLUS", tier="db-perf-optimized-N-8")
    assert load("dev", config_with("dev", database=ok)).database.edition == "ENTERPRISE_PLUS"


def test_point_in_time_recovery_over_7_days_needs_enterprise_plus() -> None:
    db = database("dev", backups={"pointInTimeRecoveryDays": 14})
    assert problems("dev", database=db) == [
        "database.backups.pointInTimeRecoveryDays = 14: edition ENTERPRISE keeps at most 7 days of "
        "transaction logs (ENTERPRISE_PLUS up to 35)"
    ]
    plus = {**db, "edition": "ENTERPRISE_PLUS", "tier": "db-perf-optimized-N-2"}
    assert load("dev", config_with("dev", database=plus)).database.backups.point_in_time_recovery_days == 14


def test_redis_read_replicas_need_5_gb_and_standard_ha() -> None:
    assert problems("prod", cache={"tier": "STANDARD_HA", "memorySizeGb": 4}) == [
        "cache.readReplicas = True: read replicas need memorySizeGb >= 5 (is 4)"
    ]
    assert problems("dev", cache={"tier": "BASIC", "memorySizeGb": 5, "readReplicas": True}) == [
        "cache.readReplicas = True: read replicas need tier STANDARD_HA"
    ]
    assert problems("prod", cache={"tier": "STANDARD_HA", "memorySizeGb": 4, "readReplicas": False}) == [
        "cache.replicaCount = 2: a STANDARD_HA instance without readReplicas has exactly 1 replica"
    ]
    no_reads = {"tier": "STANDARD_HA", "memorySizeGb": 4, "readReplicas": False, "replicaCount": 1}
    assert load("prod", config_with("prod", cache=no_reads)).cache.read_replicas is False


def test_force_destroy_is_refused_in_prod() -> None:
    storage = {**area("prod", "storage"), "forceDestroy": True}
    assert problems("prod", storage=storage) == [
        "storage.forceDestroy = True: must be false in prod: destroy would delete every object"
    ]
    assert load("dev", stack_config("dev")).storage.force_destroy is True


def _workloads(**changes: Any) -> dict[str, Any]:
    return {"workloads": {"cells": {"namespace": "cells", "serviceAccount": "cells", **changes}}}


def test_project_wide_secret_access_is_refused() -> None:
    found = problems(
        "dev", identity=_workloads(roles=["roles/logging.logWriter", "roles/secretmanager.secretAccessor"])
    )
    assert found == [
        "identity.workloads.cells.roles[1] = 'roles/secretmanager.secretAccessor': project-wide Secret Manager "
        "access reads every secret in the project; list the secrets in identity.workloads.cells.secrets instead"
    ]
    assert problems("dev", identity=_workloads(roles=["roles/secretmanager.admin"]))[0].startswith(
        "identity.workloads.cells.roles[0] = 'roles/secretmanager.admin': project-wide Secret Manager access"
    )


def test_workload_secrets_name_secrets_the_estate_creates() -> None:
    # The cells read the cache's three secrets (stacks.rules_cells.REDIS_SECRETS) and the model servers'
    # key (the ai-service cell): kept, and one more.
    secrets = ["redis-address", "redis-auth", "redis-ca", "inference-api-key", "stripe-key"]
    assert problems("dev", identity=_workloads(secrets=secrets)) == [
        "identity.workloads.cells.secrets[4] = 'stripe-key': not a secret the estate creates; allowed: "
        "['db-admin-password', 'db-harbor-password', 'db-n8n-password', 'db-windmill-password', 'inference-api-key', "
        "'redis-address', 'redis-auth', 'redis-ca']"
    ]


def test_database_access_applies_to_iam_users() -> None:
    users = area("dev", "database").get("users", {})  # the cells' login stays
    db = database("dev", users={**users, "reporting": {"access": "read-only"}})
    assert problems("dev", database=db) == [
        "database.users.reporting.access = 'read-only': applies to CLOUD_IAM_SERVICE_ACCOUNT users; built-in "
        "users are created as cloudsqlsuperuser"
    ]


def test_gpu_quota_requests_need_a_contact_email() -> None:
    cfg = cluster("dev", gpuQuota={"request": True})
    assert problems("dev", cluster=cfg) == [
        "cluster.gpuQuota.contactEmail = None: GPU pools ['gpu'] need GPU quota, which is 0 on a new project, "
        "and Cloud Quotas requires a contact email (an account with quota update permission) to request an "
        "increase; set it, or set cluster.gpuQuota.request: false and request the quota yourself"
    ]
    assert load("dev", config_with("dev", cluster=cluster("dev", gpuQuota={"request": False}))).cluster.gpu_quota

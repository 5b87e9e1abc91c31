"""Pure decisions, tested without Pulumi: CIDR plan, GPU table, image mapping, naming."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from components.cloud.database import iam_user_name
from components.cloud.kube import kubeconfig
from components.platform.migrate import migrations, migrations_hash
from stacks import gpu, images
from stacks.cidr import CidrPlanError, overlaps, plan_cidrs
from stacks.defaults import merge

PREFIXES = {"nodes": 20, "pods": 14, "services": 20, "privateServices": 20}


def test_cidr_plan_is_disjoint_aligned_and_inside_the_supernet() -> None:
    plan = plan_cidrs("10.64.0.0/12", PREFIXES, {})
    nets = {k: ipaddress.ip_network(v) for k, v in plan.as_dict().items()}
    assert nets["pods"].prefixlen == 14 and nets["nodes"].prefixlen == 20
    assert all(n.subnet_of(ipaddress.ip_network("10.64.0.0/12")) for n in nets.values())  # type: ignore[arg-type]
    assert overlaps(plan.as_dict()) == []


def test_cidr_plan_is_stable_and_keeps_pinned_ranges() -> None:
    first = plan_cidrs("10.64.0.0/12", PREFIXES, {})
    assert plan_cidrs("10.64.0.0/12", PREFIXES, {}) == first
    pinned = plan_cidrs("10.64.0.0/12", PREFIXES, {"nodes": "10.64.0.0/20"})
    assert pinned.nodes == "10.64.0.0/20"
    assert overlaps(pinned.as_dict()) == []


def test_cidr_plan_names_the_range_that_does_not_fit() -> None:
    with pytest.raises(CidrPlanError) as err:
        plan_cidrs("10.64.0.0/16", PREFIXES, {})
    assert err.value.role == "pods"
    with pytest.raises(CidrPlanError) as err:
        plan_cidrs("10.64.0.0/12", PREFIXES, {"nodes": "10.64.0.0/20", "pods": "10.64.0.0/14"})
    assert "overlaps" in str(err.value)


def test_overlaps_lists_each_pair_once() -> None:
    assert overlaps({"a": "10.0.0.0/8", "b": "10.1.0.0/16", "c": "192.168.0.0/16"}) == [("a", "b")]


@pytest.mark.parametrize(
    ("machine", "family", "count"),
    [
        ("g2-standard-8", "g2", 1),
        ("g2-standard-48", "g2", 4),
        ("a2-highgpu-2g", "a2-highgpu", 2),
        ("a2-ultragpu-1g", "a2-ultragpu", 1),
        ("a3-highgpu-8g", "a3-highgpu", 8),
        ("e2-standard-4", "e2", None),
        ("n1-standard-8", "n1", None),
    ],
)
def test_machine_families_and_bundled_gpus(machine: str, family: str, count: int | None) -> None:
    assert gpu.machine_family(machine) == family
    assert gpu.bundled_gpu_count(machine) == count


def test_gpu_table_pairs_families_with_models() -> None:
    assert gpu.gpus_for_family("g2") == (gpu.L4,)
    assert gpu.families_for_gpu(gpu.H100_80GB) == ["a3-highgpu"]
    assert gpu.gpus_for_family("e2") == ()
    assert "europe-west4-a" not in gpu.zones_offering(gpu.H100_80GB)
    assert "europe-west4-b" in gpu.zones_offering(gpu.H100_80GB)
    every_zone = set().union(*gpu.GPU_ZONES.values())
    assert {z.rsplit("-", 1)[0] for z in every_zone} == set(gpu.SUPPORTED_REGIONS)


def test_images_map_upstreams_to_pull_through_caches() -> None:
    ref = images.resolve("docker.io/library/postgres", "16", "europe-west4", "p-123456")
    # The digest is looked up where Docker Hub's registry API lives; the pin stays on our cache.
    assert (ref.repository, ref.path, ref.lookup) == (
        "dockerhub",
        "library/postgres",
        "registry-1.docker.io/library/postgres:16",
    )
    assert (
        images.pinned(ref, "europe-west4", "p-123456", "sha256:ab")
        == "europe-west4-docker.pkg.dev/p-123456/dockerhub/library/postgres@sha256:ab"
    )
    own = images.resolve("europe-west4-docker.pkg.dev/p-123456/images/cells/api", "1.2.3", "europe-west4", "p-123456")
    assert (own.repository, own.path) == ("images", "cells/api")
    with pytest.raises(ValueError, match="no pull-through cache"):
        images.resolve("evil.example/x", "1", "europe-west4", "p-123456")


def test_gcr_images_come_through_a_cache_of_the_projects_artifact_registry_repository() -> None:
    ref = images.resolve("gcr.io/cloud-sql-connectors/cloud-sql-proxy", "2.14.3", "europe-west4", "p-123456")
    assert (ref.repository, ref.path, ref.lookup) == (
        "gcr-cloud-sql-connectors",
        "cloud-sql-proxy",
        "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3",
    )
    eu = images.resolve("eu.gcr.io/some-project/tool", "1", "europe-west4", "p-123456")
    assert eu.repository == "eu-gcr-some-project"
    repos = images.remote_repositories(["gcr.io/cloud-sql-connectors/cloud-sql-proxy", "eu.gcr.io/some-project/tool"])
    assert repos["gcr-cloud-sql-connectors"] == "projects/cloud-sql-connectors/locations/us/repositories/gcr.io"
    assert repos["eu-gcr-some-project"] == "projects/some-project/locations/europe/repositories/eu.gcr.io"
    assert "gcr" not in repos and repos["dockerhub"] == images.DOCKER_HUB
    assert all(not u.startswith("https://gcr.io") for u in repos.values())
    with pytest.raises(ValueError, match="<project>/<path>"):
        images.resolve("gcr.io/only-a-project", "1", "europe-west4", "p-123456")


def test_merge_overrides_maps_key_by_key_and_null_removes() -> None:
    base: dict[str, Any] = {"nodePools": {"a": {"min": 1, "max": 2}, "b": {"min": 0}}, "zones": ["x"]}
    merged = merge(base, {"nodePools": {"a": {"max": 5}, "b": None}, "zones": ["y", "z"]})
    assert merged == {"nodePools": {"a": {"min": 1, "max": 5}}, "zones": ["y", "z"]}
    assert base["nodePools"]["b"] == {"min": 0}


def test_iam_user_name_drops_the_domain() -> None:
    assert iam_user_name("dev-wl-cells@p.iam.gserviceaccount.com") == "dev-wl-cells@p.iam"


def test_kubeconfig_uses_dns_endpoint_and_exec_plugin() -> None:
    import yaml

    doc = yaml.safe_load(kubeconfig("estate-dev-gke", "gke-abc.europe-west4.gke.goog"))
    assert doc["clusters"][0]["cluster"] == {"server": "https://gke-abc.europe-west4.gke.goog"}
    assert doc["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"


def test_migrations_hash_changes_with_content_only() -> None:
    files = migrations()
    assert "0001_pgvector.sql" in files and "CREATE EXTENSION IF NOT EXISTS vector" in files["0001_pgvector.sql"]
    assert migrations_hash(files) == migrations_hash(dict(reversed(list(files.items()))))
    assert migrations_hash({**files, "0001_pgvector.sql": files["0001_pgvector.sql"] + "\n"}) != migrations_hash(files)


def test_secret_keys_come_from_the_database_users() -> None:
    from stacks.model import DatabaseConfig
    from stacks.secret_keys import secret_id, secret_keys

    db = DatabaseConfig.model_validate(
        {
            "tier": "db-custom-2-7680",
            "availability": "ZONAL",
            "deletionProtection": False,
            "databases": {"app": {}},
            "users": {"report_ro": {}, "cells_iam": {"type": "CLOUD_IAM_SERVICE_ACCOUNT", "workload": "cells"}},
        }
    )
    assert secret_keys(db) == ["db-admin-password", "db-report-ro-password", "redis-address", "redis-auth", "redis-ca"]
    assert secret_id("estate-dev", "redis-auth") == "estate-dev-redis-auth"

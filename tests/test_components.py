"""Each component's resources carry the settings the estate promises."""

from __future__ import annotations

import ipaddress

from components.cloud.database import flags
from components.cloud.keys import ROTATION_SECONDS
from stacks import load
from stacks.cidr import plan_cidrs
from stacks.images import UPSTREAMS
from tests.conftest import children_of, registry, stack_cfg
from tools.mocks import _digest
from tools.plan import Plan, stack_config


def test_project_apis_stay_on_at_destroy(plan: Plan) -> None:
    services = children_of(plan, "estate:project:Services")
    assert {"container.googleapis.com", "sqladmin.googleapis.com", "servicenetworking.googleapis.com"} <= {
        s["inputs"]["service"] for s in services
    }
    assert all(s["inputs"]["disableOnDestroy"] is False for s in services)


def test_network(plan: Plan) -> None:
    cfg = load(plan.stack, stack_config(plan.stack))
    expected = plan_cidrs(cfg.network.supernet, cfg.network.prefixes.model_dump(by_alias=True), {})
    net = plan.one("gcp:compute/network:Network", f"estate-{plan.stack}-net-vpc")["inputs"]
    assert net["autoCreateSubnetworks"] is False
    subnet = plan.one("gcp:compute/subnetwork:Subnetwork", f"estate-{plan.stack}-net-nodes")["inputs"]
    assert subnet["ipCidrRange"] == expected.nodes and subnet["privateIpGoogleAccess"] is True
    assert {r["rangeName"]: r["ipCidrRange"] for r in subnet["secondaryIpRanges"]} == {
        "pods": expected.pods,
        "services": expected.services,
    }
    assert subnet["logConfig"]["flowSampling"] == cfg.network.flow_logs.sampling > 0
    assert subnet["logConfig"]["metadata"] == (
        "INCLUDE_ALL_METADATA" if plan.stack == "prod" else "EXCLUDE_ALL_METADATA"
    )
    nat = plan.by_type("gcp:compute/routerNat:RouterNat")[0]["inputs"]
    assert nat["natIpAllocateOption"] == "AUTO_ONLY" and nat["logConfig"]["enable"] is True
    psa_range = plan.by_type("gcp:compute/globalAddress:GlobalAddress")[0]["inputs"]
    assert psa_range["purpose"] == "VPC_PEERING"
    assert f"{psa_range['address']}/{int(psa_range['prefixLength'])}" == expected.private_services
    psa = plan.by_type("gcp:servicenetworking/connection:Connection")[0]["inputs"]
    assert psa["service"] == "servicenetworking.googleapis.com"
    assert psa["deletionPolicy"] == ("ABANDON" if plan.stack == "prod" else "REMOVE_PEERING")
    firewalls = {fw["inputs"]["name"]: fw["inputs"] for fw in plan.by_type("gcp:compute/firewall:Firewall")}
    for name, fw in firewalls.items():
        for cidr in fw["sourceRanges"]:
            assert ipaddress.ip_network(cidr).prefixlen > 0, name
        if plan.stack == "prod":
            assert fw["logConfig"] == {"metadata": "INCLUDE_ALL_METADATA"}, name
        else:
            assert "logConfig" not in fw, name  # every logged connection is billed
    (health,) = [fw for n, fw in firewalls.items() if n.endswith("allow-health-checks")]
    assert health["allows"] == [{"protocol": "tcp", "ports": ["8080", "8443", "15021"]}]


def test_cluster(plan: Plan) -> None:
    prod = plan.stack == "prod"
    res = plan.one("gcp:container/cluster:Cluster", f"estate-{plan.stack}-cluster-gke")
    c = res["inputs"]
    cfg = stack_cfg(plan.stack)
    if prod:
        assert c["location"] == cfg.region and len(c["nodeLocations"]) == 3
    else:
        assert c["location"] == cfg.cluster.zones[0] and "nodeLocations" not in c
    assert c["removeDefaultNodePool"] is True and c["deletionProtection"] is prod
    assert c["releaseChannel"]["channel"] == ("STABLE" if prod else "REGULAR")
    assert c["privateClusterConfig"] == {"enablePrivateNodes": True, "enablePrivateEndpoint": True}
    assert c["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["allowExternalTraffic"] is True
    man = c["masterAuthorizedNetworksConfig"]
    assert man["gcpPublicCidrsAccessEnabled"] is False
    assert all(ipaddress.ip_network(b["cidrBlock"]).prefixlen > 0 for b in man.get("cidrBlocks", []))
    assert c["workloadIdentityConfig"]["workloadPool"] == f"{cfg.project}.svc.id.goog"
    assert c["enableShieldedNodes"] and c["enableIntranodeVisibility"] and not c["enableLegacyAbac"]
    assert c["datapathProvider"] == "ADVANCED_DATAPATH"
    assert c["binaryAuthorization"]["evaluationMode"] == "PROJECT_SINGLETON_POLICY_ENFORCE"
    assert c["databaseEncryption"]["state"] == "ENCRYPTED" and "/cryptoKeys/" in c["databaseEncryption"]["keyName"]
    assert c["masterAuth"]["clientCertificateConfig"]["issueClientCertificate"] is False
    assert set(c["loggingConfig"]["enableComponents"]) == {"SYSTEM_COMPONENTS", "WORKLOADS"}
    monitoring = c["monitoringConfig"]
    assert monitoring["managedPrometheus"]["enabled"] is True
    assert {"SYSTEM_COMPONENTS", "POD", "DEPLOYMENT", "HPA", "DCGM"} <= set(monitoring["enableComponents"])
    assert "WORKLOADS" not in monitoring["enableComponents"]  # deprecated by GKE for monitoring
    assert c["addonsConfig"]["gcsFuseCsiDriverConfig"]["enabled"] is True
    assert c["addonsConfig"]["gcePersistentDiskCsiDriverConfig"]["enabled"] is True
    assert c["verticalPodAutoscaling"]["enabled"] is True
    assert c["resourceLabels"]["environment"] == plan.stack
    assert res["options"]["protect"] is prod
    assert res["options"]["customTimeouts"]["create"] == "45m"


def _minutes(value: str) -> int:
    return int(value.removesuffix("m"))


def test_node_pools(plan: Plan) -> None:
    cfg = load(plan.stack, stack_config(plan.stack))
    pools = {p["inputs"]["name"]: p for p in plan.by_type("gcp:container/nodePool:NodePool")}
    assert set(pools) == set(cfg.cluster.node_pools)
    for name, spec in cfg.cluster.node_pools.items():
        res = pools[name]
        p, node = res["inputs"], res["inputs"]["nodeConfig"]
        assert p["autoscaling"]["minNodeCount"] == spec.min_nodes and p["autoscaling"]["maxNodeCount"] == spec.max_nodes
        assert p["management"] == {"autoRepair": True, "autoUpgrade": True}
        assert p["upgradeSettings"]["strategy"] == "SURGE"
        assert node["imageType"] == "COS_CONTAINERD" and node["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert node["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
        assert node["serviceAccount"].startswith(f"{plan.stack}-np-{name}@")
        assert node["spot"] is spec.spot and node["machineType"] == spec.machine_type
        assert {k: v for k, v in node["labels"].items() if k != "estate.io/pool"} == spec.labels
        assert [t["key"] for t in node["taints"]] == sorted(spec.taints)
        assert all(t["key"] != "nvidia.com/gpu" for t in node["taints"])
        assert _minutes(res["options"]["customTimeouts"]["create"]) >= 45
        assert _minutes(res["options"]["customTimeouts"]["update"]) >= 45
        if spec.gpu:
            acc = node["guestAccelerators"][0]
            assert acc["type"] == spec.gpu.type and acc["count"] == spec.gpu.count
            assert acc["gpuDriverInstallationConfig"]["gpuDriverVersion"] == spec.gpu.driver_version
            assert node["gcfsConfig"] == {"enabled": True}  # image streaming: serving images are large
        else:
            assert "guestAccelerators" not in node
    gpu = pools["gpu"]["inputs"]
    assert gpu["nodeConfig"]["guestAccelerators"][0]["type"] == "nvidia-l4" and gpu["autoscaling"]["minNodeCount"] == 0
    burst = pools["burst"]["inputs"]["nodeConfig"]
    assert burst["spot"] is True and burst["taints"][0]["effect"] == "NO_SCHEDULE"
    if plan.stack == "dev":
        sharing = gpu["nodeConfig"]["guestAccelerators"][0]["gpuSharingConfig"]
        assert sharing["gpuSharingStrategy"] == "TIME_SHARING"
    else:
        large = pools["gpu-large"]["inputs"]
        assert large["nodeConfig"]["guestAccelerators"][0]["type"] in ("nvidia-tesla-a100", "nvidia-h100-80gb")
        assert large["autoscaling"]["minNodeCount"] == 0


def test_node_service_accounts_are_least_privilege(plan: Plan) -> None:
    pool_members = [
        r for r in children_of(plan, "estate:cluster:NodePools") if r["type"] == "gcp:projects/iAMMember:IAMMember"
    ]
    assert {r["inputs"]["role"] for r in pool_members} == {"roles/container.defaultNodeServiceAccount"}
    pulls = [
        r
        for r in children_of(plan, "estate:cluster:NodePools")
        if r["type"] == "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"
    ]
    assert {r["inputs"]["role"] for r in pulls} == {"roles/artifactregistry.reader"}


def test_database(plan: Plan) -> None:
    prod = plan.stack == "prod"
    res = plan.one("gcp:sql/databaseInstance:DatabaseInstance", f"estate-{plan.stack}-db-instance")
    db, s = res["inputs"], res["inputs"]["settings"]
    assert db["databaseVersion"] == "POSTGRES_16" and "/cryptoKeys/" in db["encryptionKeyName"]
    assert s["ipConfiguration"]["ipv4Enabled"] is False and s["ipConfiguration"]["privateNetwork"]
    assert s["ipConfiguration"]["sslMode"] == "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    assert "authorizedNetworks" not in s["ipConfiguration"]
    assert s["backupConfiguration"]["pointInTimeRecoveryEnabled"] is True
    assert s["availabilityType"] == ("REGIONAL" if prod else "ZONAL")
    assert s["insightsConfig"]["queryInsightsEnabled"] is True
    flag_values = {f["name"]: f["value"] for f in s["databaseFlags"]}
    assert flag_values == flags(log_hostname=False) and flag_values["log_hostname"] == "off"
    assert {
        "cloudsql.enable_pgaudit",
        "log_checkpoints",
        "log_connections",
        "log_disconnections",
        "log_lock_waits",
        "log_hostname",
        "log_temp_files",
        "log_min_messages",
        "log_min_error_statement",
        "log_min_duration_statement",
        "log_statement",
    } <= set(flag_values)
    assert flag_values["log_temp_files"] == "0" and flag_values["log_min_duration_statement"] == "-1"
    assert s["maintenanceWindow"]["hour"] == 3
    assert (
        db["deletionProtection"] is prod
        and s["deletionProtectionEnabled"] is prod
        and res["options"]["protect"] is prod
    )
    wanted = sorted(stack_cfg(plan.stack).database.databases)
    assert sorted(d["inputs"]["name"] for d in plan.by_type("gcp:sql/database:Database")) == wanted
    if prod:
        assert db["name"] == "estate-prod-pg"
    else:
        assert db["name"].startswith("estate-dev-pg-") and len(db["name"]) == len("estate-dev-pg-") + 4
    users = {u["name"]: u["inputs"] for u in plan.by_type("gcp:sql/user:User")}
    assert users[f"estate-{plan.stack}-db-admin"]["name"] == "estate_admin"
    if prod:
        assert users["estate-prod-db-user-cells_iam"]["type"] == "CLOUD_IAM_SERVICE_ACCOUNT"
        project = stack_cfg(plan.stack).project
        assert users["estate-prod-db-user-cells_iam"]["name"] == f"prod-wl-cells@{project}.iam"
    secret_ids = {s["inputs"]["secretId"] for s in plan.by_type("gcp:secretmanager/secret:Secret")}
    assert f"estate-{plan.stack}-db-admin-password" in secret_ids


def test_registries_and_pinned_images(plan: Plan) -> None:
    repos = {
        r["inputs"]["repositoryId"]: r["inputs"] for r in plan.by_type("gcp:artifactregistry/repository:Repository")
    }
    assert set(repos) == {*UPSTREAMS, "gcr-cloud-sql-connectors", "images"}
    assert repos["dockerhub"]["remoteRepositoryConfig"]["dockerRepository"] == {"publicRepository": "DOCKER_HUB"}
    # custom_repository is deprecated: every other upstream goes through common_repository.
    assert repos["quay"]["remoteRepositoryConfig"] == {
        "description": "https://quay.io",
        "commonRepository": {"uri": "https://quay.io"},
    }
    gcr = repos["gcr-cloud-sql-connectors"]["remoteRepositoryConfig"]
    assert gcr["commonRepository"]["uri"] == "projects/cloud-sql-connectors/locations/us/repositories/gcr.io"
    for repo in repos.values():
        assert "customRepository" not in repo.get("remoteRepositoryConfig", {}).get("dockerRepository", {})
    assert repos["images"]["mode"] == "STANDARD_REPOSITORY" and repos["images"]["dockerConfig"]["immutableTags"]
    prefix = f"{registry(plan.stack)}/"
    images = []
    for res in plan.by_type("kubernetes:batch/v1:Job"):
        spec = res["inputs"]["spec"]["template"]["spec"]
        images += [c["image"] for c in spec.get("initContainers", []) + spec["containers"]]
    assert images and all(i.startswith(prefix) and "@sha256:" in i for i in images)
    # Docker Hub's digest comes from its registry API host; the reference stays on our cache.
    cfg = load(plan.stack, stack_config(plan.stack))
    postgres = cfg.registry.images["postgres-client"]
    looked_up = _digest(f"registry-1.docker.io/library/postgres:{postgres.tag}")
    assert plan.outputs["images"]["postgres-client"] == f"{prefix}dockerhub/library/postgres@{looked_up}"
    proxy = cfg.registry.images["cloud-sql-proxy"]
    proxy_digest = _digest(f"gcr.io/cloud-sql-connectors/cloud-sql-proxy:{proxy.tag}")
    assert (
        plan.outputs["images"]["cloud-sql-proxy"] == f"{prefix}gcr-cloud-sql-connectors/cloud-sql-proxy@{proxy_digest}"
    )


def test_cache(plan: Plan) -> None:
    prod = plan.stack == "prod"
    res = plan.by_type("gcp:redis/instance:Instance")[0]
    r = res["inputs"]
    assert r["redisVersion"].startswith("REDIS_7") and r["tier"] == ("STANDARD_HA" if prod else "BASIC")
    assert r["authEnabled"] is True and r["transitEncryptionMode"] == "SERVER_AUTHENTICATION"
    assert r["connectMode"] == "PRIVATE_SERVICE_ACCESS" and "/cryptoKeys/" in r["customerManagedKey"]
    assert r["persistenceConfig"] == {"persistenceMode": "RDB", "rdbSnapshotPeriod": "ONE_HOUR"}
    assert r["maintenancePolicy"]["weeklyMaintenanceWindows"][0]["day"] == "SUNDAY"
    assert r["redisConfigs"]["maxmemory-policy"] == "noeviction"
    assert res["options"]["protect"] is prod
    secret_ids = {s["inputs"]["secretId"] for s in plan.by_type("gcp:secretmanager/secret:Secret")}
    assert {f"estate-{plan.stack}-redis-auth", f"estate-{plan.stack}-redis-ca"} <= secret_ids


def test_keys(plan: Plan) -> None:
    ours = children_of(plan, "estate:security:Keys")
    keys = [r for r in ours if r["type"] == "gcp:kms/cryptoKey:CryptoKey"]
    assert {k["inputs"]["name"].rsplit("-", 1)[-1] for k in keys} == {
        "gke",
        "sql",
        "redis",
        "storage",
        "backup",
        "pubsub",
    }
    assert all(int(k["inputs"]["rotationPeriod"].removesuffix("s")) <= ROTATION_SECONDS for k in keys)
    grants = [r for r in ours if r["type"] == "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"]
    # One per key's service agent, and the GKE agent on the backup key too (Backup for GKE CMEK).
    assert len(grants) == 7 and {g["inputs"]["role"] for g in grants} == {"roles/cloudkms.cryptoKeyEncrypterDecrypter"}
    # The image-signing key is asymmetric, outside the rotation above (Signing, platform layer).
    (signing,) = [k for k in plan.by_type("gcp:kms/cryptoKey:CryptoKey") if k not in keys]
    assert signing["inputs"]["purpose"] == "ASYMMETRIC_SIGN"


def test_buckets(plan: Plan) -> None:
    buckets = {b["inputs"]["labels"]["bucket"]: b for b in plan.by_type("gcp:storage/bucket:Bucket")}
    assert set(buckets) == {"artifacts", "registry", "logs", "traces", "models", "backups"}
    for key, res in buckets.items():
        b = res["inputs"]
        assert b["uniformBucketLevelAccess"] is True and b["publicAccessPrevention"] == "enforced"
        assert b["versioning"]["enabled"] is True and b["lifecycleRules"]
        assert "/cryptoKeys/" in b["encryption"]["defaultKmsKeyName"]
        assert res["options"]["protect"] is (plan.stack == "prod")
        if key == "logs":
            assert "logging" not in b
        else:
            assert b["logging"]["logBucket"] == f"{stack_cfg(plan.stack).project}-logs"


def test_workload_identity(plan: Plan) -> None:
    cfg = load(plan.stack, stack_config(plan.stack))
    bindings = [r["inputs"] for r in children_of(plan, "estate:identity:Workloads") if r["type"].endswith("IAMMember")]
    bindings = [b for b in bindings if "svc.id.goog" in b["member"]]
    assert {b["member"] for b in bindings} == {
        f"serviceAccount:{cfg.project}.svc.id.goog[{w.namespace}/{w.service_account}]"
        for w in cfg.identity.workloads.values()
    }
    assert {b["role"] for b in bindings} == {"roles/iam.workloadIdentityUser"}
    reads = [
        r["inputs"]
        for r in plan.by_type("gcp:storage/bucketIAMMember:BucketIAMMember")
        if r["inputs"]["role"] == "roles/storage.objectViewer"
    ]
    assert any(r["bucket"] == f"{stack_cfg(plan.stack).project}-models" for r in reads)

"""GCP, IAM and Kubernetes networking rules through the real analyzer, starting from the planned resources."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests import policy_fixtures as fx
from tests.policy_fixtures import BUCKET, CLUSTER, KEY, PA, POOL, REDIS, SQL, first, found
from tools.analyzer import Analyzer
from tools.plan import Plan


# ------------------------------------------------------------------ GCP resources, starting from the real plans
def _set(obj: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    for key in keys[:-1]:
        obj = obj.setdefault(key, {})
    if value is _DROP:
        obj.pop(keys[-1], None)
    else:
        obj[keys[-1]] = value


_DROP = object()

GCP_FAILURES: list[tuple[str, str, str, Any]] = [
    ("estate-gke-private-nodes", CLUSTER, "privateClusterConfig.enablePrivateNodes", False),
    (
        "estate-gke-authorized-networks",
        CLUSTER,
        "masterAuthorizedNetworksConfig.cidrBlocks",
        [{"cidrBlock": "0.0.0.0/0", "displayName": "anywhere"}],
    ),
    ("estate-gke-authorized-networks", CLUSTER, "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled", True),
    ("estate-gke-workload-identity", CLUSTER, "workloadIdentityConfig", _DROP),
    ("estate-gke-shielded-nodes", CLUSTER, "enableShieldedNodes", False),
    ("estate-gke-release-channel", CLUSTER, "releaseChannel.channel", "UNSPECIFIED"),
    ("estate-gke-legacy-auth", CLUSTER, "enableLegacyAbac", True),
    ("estate-gke-legacy-auth", CLUSTER, "masterAuth.clientCertificateConfig.issueClientCertificate", True),
    ("estate-gke-network-policy", CLUSTER, "datapathProvider", "LEGACY_DATAPATH"),
    ("estate-gke-secrets-encryption", CLUSTER, "databaseEncryption.state", "DECRYPTED"),
    ("estate-images-binary-authorization", CLUSTER, "binaryAuthorization.evaluationMode", "DISABLED"),
    (
        "estate-gke-node-service-account",
        CLUSTER,
        "nodeConfig.serviceAccount",
        "123-compute@developer.gserviceaccount.com",
    ),
    ("estate-gke-node-hardening", CLUSTER, "nodeConfig.imageType", "UBUNTU_CONTAINERD"),
    ("estate-gke-node-service-account", POOL, "nodeConfig.serviceAccount", "default"),
    ("estate-gke-node-hardening", POOL, "nodeConfig.imageType", "UBUNTU_CONTAINERD"),
    ("estate-gke-node-hardening", POOL, "nodeConfig.shieldedInstanceConfig.enableSecureBoot", False),
    ("estate-gke-node-hardening", POOL, "nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring", False),
    ("estate-gke-node-hardening", POOL, "nodeConfig.workloadMetadataConfig.mode", "GCE_METADATA"),
    ("estate-gke-node-management", POOL, "management.autoRepair", False),
    ("estate-gke-node-management", POOL, "management.autoUpgrade", False),
    ("estate-tls-cloudsql", SQL, "settings.ipConfiguration.sslMode", "ENCRYPTED_ONLY"),
    ("estate-tls-cloudsql", SQL, "settings.ipConfiguration.ipv4Enabled", True),
    ("estate-tls-cloudsql", SQL, "settings.ipConfiguration.authorizedNetworks", [{"value": "0.0.0.0/0"}]),
    ("estate-data-cloudsql-backups", SQL, "settings.backupConfiguration.pointInTimeRecoveryEnabled", False),
    ("estate-data-cloudsql-backups", SQL, "settings.backupConfiguration.enabled", False),
    ("estate-data-cloudsql-deletion-protection", SQL, "deletionProtection", False),
    ("estate-data-cloudsql-deletion-protection", SQL, "settings.deletionProtectionEnabled", False),
    ("estate-data-cloudsql-ha", SQL, "settings.availabilityType", "ZONAL"),
    ("estate-tls-memorystore", REDIS, "authEnabled", False),
    ("estate-tls-memorystore", REDIS, "transitEncryptionMode", "DISABLED"),
    ("estate-storage-bucket-access", BUCKET, "uniformBucketLevelAccess", False),
    ("estate-storage-bucket-access", BUCKET, "publicAccessPrevention", "inherited"),
    ("estate-storage-bucket-versioning", BUCKET, "versioning.enabled", False),
    ("estate-data-kms-rotation", KEY, "rotationPeriod", "31536000s"),
    ("estate-data-kms-rotation", KEY, "rotationPeriod", _DROP),
]


@pytest.mark.parametrize("type_", [CLUSTER, POOL, SQL, REDIS, BUCKET, KEY])
def test_the_planned_gcp_resources_pass(pack: Analyzer, prod_plan: Plan, dev_plan: Plan, type_: str) -> None:
    for plan in (dev_plan, prod_plan):
        for res in plan.by_type(type_):
            assert found(pack, res) == {}, res["name"]


@pytest.mark.parametrize(
    ("rule", "type_", "path", "value"), GCP_FAILURES, ids=[f"{r}:{p}" for r, _, p, _ in GCP_FAILURES]
)
def test_gcp_rules_fail(pack: Analyzer, prod_plan: Plan, rule: str, type_: str, path: str, value: Any) -> None:
    res = first(prod_plan, type_)
    _set(res["inputs"], path, value)
    assert rule in found(pack, res)


def test_production_rules_follow_the_environment_label(pack: Analyzer, dev_plan: Plan) -> None:
    sql = first(dev_plan, SQL)
    assert sql["inputs"]["deletionProtection"] is False
    assert found(pack, sql) == {}
    sql["inputs"]["settings"]["userLabels"]["environment"] = "prod"
    assert {"estate-data-cloudsql-deletion-protection", "estate-data-cloudsql-ha"} <= set(found(pack, sql))


def test_cluster_inline_node_pools_are_checked(pack: Analyzer, prod_plan: Plan) -> None:
    cluster = first(prod_plan, CLUSTER)
    cluster["inputs"]["nodePools"] = [
        {"name": "legacy", "management": {"autoRepair": False}, "nodeConfig": {"imageType": "COS_CONTAINERD"}}
    ]
    reported = found(pack, cluster)
    assert {"estate-gke-node-management", "estate-gke-node-hardening", "estate-gke-node-service-account"} <= set(
        reported
    )


ACCESSOR = "roles/secretmanager.secretAccessor"
IAM_CASES = [
    (
        "gcp:projects/iAMMember:IAMMember",
        {"project": "p", "role": "roles/editor", "member": "user:a@example.com"},
        "estate-iam-no-basic-roles",
    ),
    (
        "gcp:projects/iAMBinding:IAMBinding",
        {"project": "p", "role": "roles/owner", "members": ["user:a@example.com"]},
        "estate-iam-no-basic-roles",
    ),
    (
        "gcp:projects/iAMMember:IAMMember",
        {"project": "p", "role": "roles/iam.serviceAccountUser", "member": "user:a@example.com"},
        "estate-iam-no-project-impersonation",
    ),
    (
        "gcp:projects/iAMMember:IAMMember",
        {"project": "p", "role": "roles/iam.serviceAccountTokenCreator", "member": "group:g@example.com"},
        "estate-iam-no-project-impersonation",
    ),
    (
        "gcp:projects/iAMMember:IAMMember",
        {"project": "p", "role": "roles/secretmanager.secretAccessor", "member": "serviceAccount:c@p.iam"},
        "estate-iam-no-project-secret-access",
    ),
    (
        "gcp:projects/iAMBinding:IAMBinding",
        {"project": "p", "role": "roles/secretmanager.admin", "members": ["group:g@example.com"]},
        "estate-iam-no-project-secret-access",
    ),
    (
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        {"bucket": "b", "role": "roles/storage.objectViewer", "member": "allUsers"},
        "estate-iam-no-public-members",
    ),
    (
        "gcp:storage/bucketIAMBinding:BucketIAMBinding",
        {"bucket": "b", "role": "roles/storage.objectViewer", "members": ["allAuthenticatedUsers"]},
        "estate-iam-no-public-members",
    ),
    (
        "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
        {
            "repository": "images",
            "location": "europe-west4",
            "role": "roles/artifactregistry.reader",
            "member": "allUsers",
        },
        "estate-images-no-public-repository",
    ),
    (
        "gcp:artifactregistry/repositoryIamBinding:RepositoryIamBinding",
        {
            "repository": "images",
            "location": "europe-west4",
            "role": "roles/artifactregistry.reader",
            "members": ["allAuthenticatedUsers"],
        },
        "estate-images-no-public-repository",
    ),
]


@pytest.mark.parametrize(("type_", "inputs", "rule"), IAM_CASES, ids=[c[2] + ":" + c[0] for c in IAM_CASES])
def test_iam_rules(pack: Analyzer, type_: str, inputs: dict[str, Any], rule: str) -> None:
    assert rule in found(pack, fx.resource(type_, "grant", inputs))
    safe = {**inputs, "role": "roles/storage.objectViewer"}
    safe.update({k: "serviceAccount:x@p.iam.gserviceaccount.com" for k in ("member",) if k in inputs})
    safe.update({k: ["serviceAccount:x@p.iam.gserviceaccount.com"] for k in ("members",) if k in inputs})
    assert found(pack, fx.resource(type_, "grant", safe)) == {}


def test_project_iam_policy_with_secret_access_fails_and_per_secret_grants_pass(pack: Analyzer) -> None:
    def policy(role: str) -> str:
        return json.dumps({"bindings": [{"role": role, "members": ["serviceAccount:c@p.iam.gserviceaccount.com"]}]})

    bad = fx.resource("gcp:projects/iAMPolicy:IAMPolicy", "all", {"project": "p", "policyData": policy(ACCESSOR)})
    assert "estate-iam-no-project-secret-access" in found(pack, bad)
    good = fx.resource(
        "gcp:projects/iAMPolicy:IAMPolicy", "all", {"project": "p", "policyData": policy("roles/logging.logWriter")}
    )
    assert found(pack, good) == {}
    per_secret = fx.resource(
        "gcp:secretmanager/secretIamMember:SecretIamMember",
        "one",
        {"secretId": "estate-dev-redis-auth", "role": ACCESSOR, "member": "serviceAccount:c@p.iam.gserviceaccount.com"},
    )
    assert found(pack, per_secret) == {}


def test_the_planned_iam_grants_pass(pack: Analyzer, prod_plan: Plan) -> None:
    grants = [r for r in prod_plan.resources if "IAMMember" in r["type"] or "IamMember" in r["type"]]
    assert len(grants) > 20
    for res in grants:
        assert found(pack, res) == {}, res["name"]


# ------------------------------------------------------------------ mesh, ingress, exposure, SSL
DR = "kubernetes:networking.istio.io/v1:DestinationRule"
GW = "kubernetes:networking.istio.io/v1:Gateway"
K8S_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "estate-tls-peer-authentication",
        PA,
        {"metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICT"}}},
        {"metadata": {"name": "legacy", "namespace": "cells"}, "spec": {"mtls": {"mode": "PERMISSIVE"}}},
    ),
    (
        "estate-tls-peer-authentication",
        PA,
        {"metadata": {"name": "ports", "namespace": "cells"}, "spec": {"portLevelMtls": {"8080": {"mode": "STRICT"}}}},
        {"metadata": {"name": "ports", "namespace": "cells"}, "spec": {"portLevelMtls": {"8080": {"mode": "DISABLE"}}}},
    ),
    (
        "estate-tls-destination-rule",
        DR,
        {
            "metadata": {"name": "api", "namespace": "cells"},
            "spec": {"host": "api", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}},
        },
        {
            "metadata": {"name": "api", "namespace": "cells"},
            "spec": {"host": "api", "subsets": [{"name": "canary", "trafficPolicy": {"tls": {"mode": "DISABLE"}}}]},
        },
    ),
    (
        "estate-tls-gateway",
        GW,
        {
            "metadata": {"name": "web", "namespace": "istio-ingress"},
            "spec": {
                "servers": [
                    {
                        "port": {"number": 443.0, "name": "https", "protocol": "HTTPS"},
                        "hosts": ["app.example.org"],
                        "tls": {"mode": "SIMPLE", "credentialName": "app-tls", "minProtocolVersion": "TLSV1_2"},
                    },
                    {
                        "port": {"number": 80.0, "name": "http", "protocol": "HTTP"},
                        "hosts": ["app.example.org"],
                        "tls": {"httpsRedirect": True},
                    },
                ]
            },
        },
        {
            "metadata": {"name": "web", "namespace": "istio-ingress"},
            "spec": {
                "servers": [
                    {"port": {"number": 80.0, "name": "http", "protocol": "HTTP"}, "hosts": ["app.example.org"]}
                ]
            },
        },
    ),
    (
        "estate-tls-ingress",
        "kubernetes:networking.k8s.io/v1:Ingress",
        {
            "metadata": {"name": "web", "namespace": "cells"},
            "spec": {
                "tls": [{"hosts": ["app.example.org"], "secretName": "app-tls"}],
                "rules": [{"host": "app.example.org"}],
            },
        },
        {
            "metadata": {"name": "web", "namespace": "cells"},
            "spec": {
                "tls": [{"hosts": ["app.example.org"], "secretName": "app-tls"}],
                "rules": [{"host": "app.example.org"}, {"host": "api.example.org"}],
            },
        },
    ),
    (
        "estate-tls-service-exposure",
        "kubernetes:core/v1:Service",
        {"metadata": {"name": "istio-ingressgateway", "namespace": "istio-ingress"}, "spec": {"type": "LoadBalancer"}},
        {"metadata": {"name": "api", "namespace": "cells"}, "spec": {"type": "NodePort"}},
    ),
    (
        "estate-tls-ssl-policy",
        "gcp:compute/sSLPolicy:SSLPolicy",
        {"name": "modern", "minTlsVersion": "TLS_1_2", "profile": "MODERN"},
        {"name": "compat", "minTlsVersion": "TLS_1_0", "profile": "COMPATIBLE"},
    ),
]


@pytest.mark.parametrize(
    ("rule", "type_", "good", "bad"), K8S_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(K8S_CASES)]
)
def test_tls_resource_rules(pack: Analyzer, rule: str, type_: str, good: dict[str, Any], bad: dict[str, Any]) -> None:
    assert rule not in found(pack, fx.resource(type_, "good", good))
    assert rule in found(pack, fx.resource(type_, "bad", bad))

"""Every rule of the pack, through the real analyzer: a passing and a failing case for each kind it covers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import policy_fixtures as fx
from tools.analyzer import LEVEL_NAMES, Analyzer, PolicyConfigError
from tools.gate import PACK_DIR, check, render
from tools.gate import main as gate_main
from tools.plan import Plan

TEST_CONFIG: dict[str, Any] = {
    "estate-images-registry-allowlist": {
        "allowedRegistries": [fx.REGISTRY, "europe-west4-docker.pkg.dev/ai-estate-prod"]
    },
    "estate-tls-service-exposure": {"allowedGateways": ["istio-ingress/istio-ingressgateway"]},
}


@pytest.fixture(scope="module")
def pack() -> Iterator[Analyzer]:
    with Analyzer(PACK_DIR, project="ai-estate", stack="test") as analyzer:
        analyzer.configure(TEST_CONFIG)
        yield analyzer
        analyzer.configure(TEST_CONFIG)


def found(pack: Analyzer, res: dict[str, Any]) -> dict[str, list[str]]:
    """Policy name -> messages the pack reported for one resource."""
    out: dict[str, list[str]] = {}
    for diag in pack.analyze(res).diagnostics:
        out.setdefault(diag.policyName, []).append(diag.message)
    return out


def stack(pack: Analyzer, resources: list[dict[str, Any]]) -> tuple[dict[str, list[str]], dict[str, str]]:
    response = pack.analyze_stack(resources)
    out: dict[str, list[str]] = {}
    for diag in response.diagnostics:
        out.setdefault(diag.policyName, []).append(diag.message)
    return out, {na.policy_name: na.reason for na in response.not_applicable}


# ------------------------------------------------------------------ workloads, every pod-bearing kind
WORKLOAD_FAILURES: dict[str, list[fx.Mutation]] = {
    "estate-workloads-run-as-non-root": [
        lambda s: (s["securityContext"].pop("runAsNonRoot"), fx.sc(s).pop("runAsNonRoot")),
        lambda s: fx.sc(s).update(runAsUser=0.0),
        lambda s: s["initContainers"][0]["securityContext"].update(runAsNonRoot=False),
    ],
    "estate-workloads-no-privilege-escalation": [
        lambda s: fx.sc(s).update(allowPrivilegeEscalation=True),
        lambda s: fx.sc(s).update(privileged=True),
    ],
    "estate-workloads-capabilities": [
        lambda s: fx.sc(s).update(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
        lambda s: fx.sc(s).pop("capabilities"),
    ],
    "estate-workloads-host-namespaces": [
        lambda s: s.update(hostNetwork=True),
        lambda s: fx.main(s)["ports"][0].update(hostPort=8080.0),
    ],
    "estate-workloads-volume-types": [lambda s: s["volumes"].append({"name": "host", "hostPath": {"path": "/var"}})],
    "estate-workloads-seccomp": [
        lambda s: (s["securityContext"].pop("seccompProfile"), fx.sc(s).pop("seccompProfile")),
        lambda s: fx.sc(s).update(seccompProfile={"type": "Unconfined"}),
    ],
    "estate-workloads-read-only-root": [lambda s: fx.sc(s).update(readOnlyRootFilesystem=False)],
    "estate-workloads-resources": [
        lambda s: fx.main(s)["resources"].pop("limits"),
        lambda s: s["initContainers"][0].pop("resources"),
    ],
    "estate-workloads-gpu": [
        lambda s: fx.main(s)["resources"]["limits"].update({"nvidia.com/gpu": "1"}),
        lambda s: s.update(nodeSelector={"cloud.google.com/gke-accelerator": "nvidia-l4"}),
    ],
    "estate-workloads-service-account": [
        lambda s: s.update(serviceAccountName="default"),
        lambda s: s.pop("automountServiceAccountToken"),
    ],
    "estate-workloads-secret-env": [lambda s: fx.main(s)["env"].append({"name": "API_TOKEN", "value": "abc123"})],
    "estate-images-digest": [
        lambda s: fx.main(s).update(image=f"{fx.REGISTRY}/images/cells/api:latest"),
        lambda s: s["initContainers"][0].update(image=f"{fx.REGISTRY}/images/x:1.0"),
    ],
    "estate-images-registry-allowlist": [
        lambda s: fx.main(s).update(image=f"docker.io/library/nginx@sha256:{'b' * 64}")
    ],
}
WORKLOAD_CASES = [
    (rule, i, kind) for rule, muts in WORKLOAD_FAILURES.items() for i in range(len(muts)) for kind in fx.POD_KINDS
]


@pytest.mark.parametrize("kind", list(fx.POD_KINDS))
def test_a_hardened_workload_passes_every_rule(pack: Analyzer, kind: str) -> None:
    result = found(pack, fx.workload(kind))
    expected = {"estate-workloads-no-bare-pods"} if kind == "kubernetes:core/v1:Pod" else set()
    assert set(result) == expected, result


@pytest.mark.parametrize(("rule", "index", "kind"), WORKLOAD_CASES)
def test_workload_rules_fail(pack: Analyzer, rule: str, index: int, kind: str) -> None:
    res = fx.workload(kind, fx.mutated(WORKLOAD_FAILURES[rule][index]))
    assert rule in found(pack, res)


@pytest.mark.parametrize("kind", list(fx.POD_KINDS))
def test_gpu_workloads_pass_with_limit_and_toleration(pack: Analyzer, kind: str) -> None:
    def gpu(spec: dict[str, Any]) -> None:
        fx.main(spec)["resources"]["limits"]["nvidia.com/gpu"] = "1"
        spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        spec["nodeSelector"] = {"cloud.google.com/gke-accelerator": "nvidia-l4"}

    assert "estate-workloads-gpu" not in found(pack, fx.workload(kind, fx.mutated(gpu)))


@pytest.mark.parametrize("kind", list(fx.POD_KINDS))
def test_probes_are_required_on_long_running_kinds_only(pack: Analyzer, kind: str) -> None:
    res = fx.workload(kind, fx.mutated(lambda s: fx.main(s).pop("livenessProbe")))
    reported = found(pack, res)
    if kind.startswith("kubernetes:batch/"):
        assert "estate-workloads-probes" not in reported
    else:
        assert "no livenessProbe" in reported["estate-workloads-probes"][0]


@pytest.mark.parametrize("kind", list(fx.POD_KINDS))
def test_default_namespace_fails(pack: Analyzer, kind: str) -> None:
    assert "estate-workloads-namespace" in found(pack, fx.workload(kind, namespace="default"))
    no_ns = fx.workload(kind)
    del no_ns["inputs"]["metadata"]["namespace"]
    assert "estate-workloads-namespace" in found(pack, no_ns)


def test_bare_pods_fail_and_controllers_pass(pack: Analyzer) -> None:
    assert "estate-workloads-no-bare-pods" in found(pack, fx.workload("kubernetes:core/v1:Pod"))
    for kind in fx.CONTROLLED:
        assert "estate-workloads-no-bare-pods" not in found(pack, fx.workload(kind))


@pytest.mark.parametrize(
    ("labels", "name", "fails"),
    [
        ({"pod-security.kubernetes.io/enforce": "restricted"}, "cells", False),
        ({"pod-security.kubernetes.io/enforce": "baseline"}, "cells", True),
        ({}, "cells", True),
        ({}, "kube-system", False),
    ],
)
def test_namespaces_enforce_restricted(pack: Analyzer, labels: dict[str, str], name: str, fails: bool) -> None:
    ns = fx.resource("kubernetes:core/v1:Namespace", name, {"metadata": {"name": name, "labels": labels}})
    assert ("estate-workloads-namespace-pod-security" in found(pack, ns)) is fails


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
CLUSTER = "gcp:container/cluster:Cluster"
POOL = "gcp:container/nodePool:NodePool"
SQL = "gcp:sql/databaseInstance:DatabaseInstance"
REDIS = "gcp:redis/instance:Instance"
BUCKET = "gcp:storage/bucket:Bucket"
KEY = "gcp:kms/cryptoKey:CryptoKey"

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


def _first(plan: Plan, type_: str) -> dict[str, Any]:
    return fx.deep(plan.by_type(type_)[0])


@pytest.mark.parametrize("type_", [CLUSTER, POOL, SQL, REDIS, BUCKET, KEY])
def test_the_planned_gcp_resources_pass(pack: Analyzer, prod_plan: Plan, dev_plan: Plan, type_: str) -> None:
    for plan in (dev_plan, prod_plan):
        for res in plan.by_type(type_):
            assert found(pack, res) == {}, res["name"]


@pytest.mark.parametrize(
    ("rule", "type_", "path", "value"), GCP_FAILURES, ids=[f"{r}:{p}" for r, _, p, _ in GCP_FAILURES]
)
def test_gcp_rules_fail(pack: Analyzer, prod_plan: Plan, rule: str, type_: str, path: str, value: Any) -> None:
    res = _first(prod_plan, type_)
    _set(res["inputs"], path, value)
    assert rule in found(pack, res)


def test_production_rules_follow_the_environment_label(pack: Analyzer, dev_plan: Plan) -> None:
    sql = _first(dev_plan, SQL)
    assert sql["inputs"]["deletionProtection"] is False
    assert found(pack, sql) == {}
    sql["inputs"]["settings"]["userLabels"]["environment"] = "prod"
    assert {"estate-data-cloudsql-deletion-protection", "estate-data-cloudsql-ha"} <= set(found(pack, sql))


def test_cluster_inline_node_pools_are_checked(pack: Analyzer, prod_plan: Plan) -> None:
    cluster = _first(prod_plan, CLUSTER)
    cluster["inputs"]["nodePools"] = [
        {"name": "legacy", "management": {"autoRepair": False}, "nodeConfig": {"imageType": "COS_CONTAINERD"}}
    ]
    reported = found(pack, cluster)
    assert {"estate-gke-node-management", "estate-gke-node-hardening", "estate-gke-node-service-account"} <= set(
        reported
    )


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


def test_the_planned_iam_grants_pass(pack: Analyzer, prod_plan: Plan) -> None:
    grants = [r for r in prod_plan.resources if "IAMMember" in r["type"] or "IamMember" in r["type"]]
    assert len(grants) > 20
    for res in grants:
        assert found(pack, res) == {}, res["name"]


# ------------------------------------------------------------------ mesh, ingress, exposure, SSL
PA = "kubernetes:security.istio.io/v1:PeerAuthentication"
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
                        "tls": {"mode": "SIMPLE", "credentialName": "app-tls"},
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


# ------------------------------------------------------------------ stack rules: not applicable until their part exists
def _ns(name: str, **labels: str) -> dict[str, Any]:
    return fx.resource("kubernetes:core/v1:Namespace", name, {"metadata": {"name": name, "labels": labels}})


STRICT_PA = fx.resource(
    PA,
    "mesh-default",
    {"metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": "STRICT"}}},
)
ISTIOD = fx.resource("kubernetes:helm.sh/v3:Release", "istiod", {"chart": "istiod", "namespace": "istio-system"})
KAFKA_OK = fx.resource(
    "kubernetes:kafka.strimzi.io/v1beta2:Kafka",
    "events",
    {"spec": {"kafka": {"listeners": [{"name": "tls", "port": 9093.0, "type": "internal", "tls": True}]}}},
)
KAFKA_BAD = fx.resource(
    "kubernetes:kafka.strimzi.io/v1beta2:Kafka",
    "events",
    {"spec": {"kafka": {"listeners": [{"name": "plain", "port": 9092.0, "type": "internal", "tls": False}]}}},
)
HARBOR_OK = fx.resource(
    "kubernetes:helm.sh/v3:Release",
    "harbor",
    {
        "chart": "harbor",
        "values": {
            "expose": {"type": "clusterIP", "tls": {"enabled": True}},
            "externalURL": "https://harbor.example.org",
        },
    },
)
HARBOR_BAD = fx.resource(
    "kubernetes:helm.sh/v3:Release",
    "harbor",
    {
        "chart": "harbor",
        "values": {
            "expose": {"type": "clusterIP", "tls": {"enabled": False}},
            "externalURL": "http://harbor.example.org",
        },
    },
)
CIP = fx.resource(
    "kubernetes:policy.sigstore.dev/v1beta1:ClusterImagePolicy",
    "signed",
    {
        "spec": {
            "images": [{"glob": "europe-west4-docker.pkg.dev/**"}],
            "authorities": [{"key": {"data": "-----BEGIN PUBLIC KEY"}}],
        }
    },
)
BINAUTHZ_OK = fx.resource(
    "gcp:binaryauthorization/policy:Policy",
    "signed",
    {
        "defaultAdmissionRule": {
            "evaluationMode": "REQUIRE_ATTESTATION",
            "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG",
            "requireAttestationsBies": ["projects/p/attestors/cosign"],
        }
    },
)
BINAUTHZ_ALLOW = fx.resource(
    "gcp:binaryauthorization/policy:Policy",
    "open",
    {"defaultAdmissionRule": {"evaluationMode": "ALWAYS_ALLOW", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"}},
)
STACK_CASES: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = [
    ("estate-tls-mesh-strict", [ISTIOD, STRICT_PA], [ISTIOD]),
    (
        "estate-tls-mesh-strict",
        [ISTIOD, STRICT_PA],
        [
            ISTIOD,
            fx.resource(
                PA,
                "mesh-default",
                {
                    "metadata": {"name": "default", "namespace": "istio-system"},
                    "spec": {"mtls": {"mode": "PERMISSIVE"}},
                },
            ),
        ],
    ),
    ("estate-tls-kafka", [KAFKA_OK], [KAFKA_BAD]),
    ("estate-tls-harbor", [HARBOR_OK], [HARBOR_BAD]),
    (
        "estate-images-admission-verifier",
        [CIP, _ns("cells", **{"policy.sigstore.dev/include": "true"})],
        [CIP, _ns("cells")],
    ),
    ("estate-images-admission-verifier", [BINAUTHZ_OK, _ns("cells")], [BINAUTHZ_ALLOW, _ns("cells")]),
]


@pytest.mark.parametrize(("rule", "good", "bad"), STACK_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(STACK_CASES)])
def test_stack_rules_fire_once_their_part_is_in_the_plan(
    pack: Analyzer, rule: str, good: list[dict[str, Any]], bad: list[dict[str, Any]]
) -> None:
    reported, not_applicable = stack(pack, good)
    assert rule not in reported and rule not in not_applicable
    reported, not_applicable = stack(pack, bad)
    assert rule in reported and rule not in not_applicable


def test_stack_rules_are_not_applicable_before_their_part_exists(pack: Analyzer, dev_plan: Plan) -> None:
    reported, not_applicable = stack(pack, dev_plan.resources)
    assert reported == {}
    assert set(not_applicable) == {
        "estate-tls-mesh-strict",
        "estate-tls-kafka",
        "estate-tls-harbor",
        "estate-images-admission-verifier",
    }
    assert "no Strimzi Kafka" in not_applicable["estate-tls-kafka"]


# ------------------------------------------------------------------ unknown values, config, exemptions
def test_unknown_values_are_reported_not_crashed_or_passed(pack: Analyzer, prod_plan: Plan) -> None:
    cluster = _first(prod_plan, CLUSTER)
    cluster["inputs"]["privateClusterConfig"] = fx.UNKNOWN
    diags = {d.policyName: d for d in pack.analyze(cluster).diagnostics}
    assert "during preview" in diags["estate-gke-private-nodes"].message
    assert LEVEL_NAMES[diags["estate-gke-private-nodes"].enforcementLevel] == "advisory"
    spec = fx.pod_spec()
    fx.main(spec)["securityContext"] = fx.UNKNOWN
    diags = {d.policyName: d for d in pack.analyze(fx.workload("kubernetes:apps/v1:Deployment", spec)).diagnostics}
    assert "during preview" in diags["estate-workloads-read-only-root"].message


def test_exemptions_apply_to_the_named_resource_with_their_reason(pack: Analyzer) -> None:
    reason = "istio-cni needs the host network to program pod routing"
    config = {
        **TEST_CONFIG,
        "estate-workloads-host-namespaces": {"exemptions": [{"resource": "kube-system/istio-cni-*", "reason": reason}]},
    }
    spec = fx.mutated(lambda s: s.update(hostNetwork=True))
    exempt = fx.workload("kubernetes:apps/v1:DaemonSet", spec, namespace="kube-system", name="istio-cni-node")
    other = fx.workload("kubernetes:apps/v1:DaemonSet", spec, namespace="cells", name="agent")
    try:
        pack.configure(config)
        response = pack.analyze(exempt)
        assert "estate-workloads-host-namespaces" not in {d.policyName for d in response.diagnostics}
        reasons = {na.policy_name: na.reason for na in response.not_applicable}
        assert reason in reasons["estate-workloads-host-namespaces"]
        assert "estate-workloads-host-namespaces" in found(pack, other)
    finally:
        pack.configure(TEST_CONFIG)


def test_config_changes_levels_and_allowlists(pack: Analyzer) -> None:
    docker_hub = fx.workload(
        "kubernetes:apps/v1:Deployment",
        fx.mutated(lambda s: fx.main(s).update(image=f"docker.io/library/nginx@sha256:{'b' * 64}")),
    )
    try:
        pack.configure({**TEST_CONFIG, "all": "advisory"})
        levels = {LEVEL_NAMES[d.enforcementLevel] for d in pack.analyze(docker_hub).diagnostics}
        assert levels == {"advisory"}
        pack.configure(
            {**TEST_CONFIG, "estate-images-registry-allowlist": {"allowedRegistries": ["docker.io", fx.REGISTRY]}}
        )
        assert "estate-images-registry-allowlist" not in found(pack, docker_hub)
        pack.configure({**TEST_CONFIG, "estate-images-registry-allowlist": "disabled"})
        assert "estate-images-registry-allowlist" not in found(pack, docker_hub)
    finally:
        pack.configure(TEST_CONFIG)
    assert "estate-images-registry-allowlist" in found(pack, docker_hub)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"estate-workloads-nope": "advisory"}, "does not have: ['estate-workloads-nope']"),
        ({"all": "sometimes"}, "enforcement level 'sometimes'"),
        ({"estate-workloads-host-namespaces": {"exemptions": [{"resource": "x"}]}}, "'reason' is a required property"),
        ({"estate-images-registry-allowlist": {"allowedRegistrys": []}}, "Additional properties are not allowed"),
    ],
)
def test_bad_policy_config_is_refused(pack: Analyzer, config: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        pack.configure(config)
    pack.configure(TEST_CONFIG)


# ------------------------------------------------------------------ whole plans
@pytest.mark.parametrize("which", ["dev", "prod"])
def test_the_plans_pass_the_gate(pack: Analyzer, dev_plan: Plan, prod_plan: Plan, which: str) -> None:
    plan = dev_plan if which == "dev" else prod_plan
    config = json.loads((PACK_DIR / f"{which}.json").read_text())
    try:
        result = check(pack, plan, config)
    finally:
        pack.configure(TEST_CONFIG)
    assert result.mandatory == [] and result.findings == []
    assert result.resources == len(plan.resources) and result.policies >= 45


def test_a_broken_plan_fails_with_the_expected_policies(pack: Analyzer, dev_plan: Plan) -> None:
    resources = fx.deep({"r": dev_plan.resources})["r"]
    for res in resources:
        inputs = res["inputs"]
        if res["type"] == CLUSTER:
            inputs["binaryAuthorization"] = {"evaluationMode": "DISABLED"}
        elif res["type"] == BUCKET and inputs["labels"]["bucket"] == "models":
            inputs["publicAccessPrevention"] = "inherited"
        elif res["type"] == "kubernetes:batch/v1:Job":
            inputs["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUser"] = 0.0
    broken = Plan(stack="dev", preview=True, resources=resources)
    try:
        result = check(pack, broken, json.loads((PACK_DIR / "dev.json").read_text()))
    finally:
        pack.configure(TEST_CONFIG)
    assert {f.policy for f in result.mandatory} == {
        "estate-images-binary-authorization",
        "estate-storage-bucket-access",
        "estate-workloads-run-as-non-root",
    }
    assert {f.resource for f in result.mandatory} == {
        "estate-dev-cluster-gke",
        "estate-dev-buckets-models",
        "estate-dev-pgvector-job",
    }


def test_the_gate_prints_exemptions_with_their_reason(pack: Analyzer, dev_plan: Plan) -> None:
    reason = "the migration Job's limits are sized by the Cloud SQL proxy docs"
    config = {
        **json.loads((PACK_DIR / "dev.json").read_text()),
        "estate-workloads-resources": {
            "exemptions": [{"resource": "estate-data/pgvector-migrate-*", "reason": reason}]
        },
    }
    try:
        result = check(pack, dev_plan, config)
    finally:
        pack.configure(TEST_CONFIG)
    text = render(result, "policies/dev.json")
    assert f"estate-workloads-resources on estate-data/pgvector-migrate-*: {reason}" in text
    assert "[applied to estate-dev-pgvector-job]" in text
    assert "estate-tls-kafka: no Strimzi Kafka in the plan yet" in text
    assert text.endswith("PASS: 0 mandatory and 0 advisory violations")


def test_the_gate_command_exits_non_zero_on_a_mandatory_violation(
    dev_plan: Plan, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = fx.deep(dev_plan.to_json())
    for res in doc["resources"]:
        if res["type"] == KEY:
            res["inputs"]["rotationPeriod"] = "31536000s"
    path = tmp_path / "plan-dev.json"
    path.write_text(json.dumps(doc))
    assert gate_main(["--stack", "dev", "--plan", str(path)]) == 1
    out = capsys.readouterr().out
    assert "estate-data-kms-rotation [mandatory]" in out and "estate-dev-keys-gke" in out
    assert out.rstrip().endswith("FAIL: 4 mandatory and 0 advisory violations")
    path.write_text(json.dumps(dev_plan.to_json()))
    assert gate_main(["--stack", "dev", "--plan", str(path)]) == 0

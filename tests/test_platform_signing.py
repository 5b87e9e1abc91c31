"""Signed images under the mock runtime: the KMS key and its signers, Binary Authorization, the verifier."""

from __future__ import annotations

import copy

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pytest

from components.kube.charts import PINS
from components.platform.admission import REGISTRY_READER, WEBHOOK_KEY_ROLES
from components.platform.binauthz import AGENT_ROLE, ATTACHER_ROLE
from components.platform.image_policy import API_VERSION, KIND
from components.platform.signing import SIGNER_ROLES, Signing, SigningArgs
from components.platform.values.policy_controller import INCLUDE_LABEL, SERVICE_ACCOUNT
from stacks.config_signing import SigningConfig
from tests import policy_fixtures as fx
from tests.policy_fixtures import found, stack
from tests.signing_fixtures import CACHE, DIGEST, EXEMPT, PROJECT, REGION, SIGNERS, ctx
from tests.upstream import crd_problems
from tools.analyzer import Analyzer
from tools.plan import Plan, record


# ---------------------------------------------------------------- the component under the mock runtime
def _program(env: str, signers: dict[str, str]) -> None:
    # Custom stand-ins: a dependency on a childless component would record nothing.
    apis = gcp.projects.Service("apis", service="binaryauthorization.googleapis.com")
    cluster = gcp.container.Cluster("cluster", location=REGION, initial_node_count=1)
    registry = gcp.artifactregistry.Repository("images", repository_id="images", format="DOCKER", location=REGION)
    provider = k8s.Provider("k8s", kubeconfig="{}")
    ns = k8s.core.v1.Namespace(
        "cosign-system",
        metadata=k8s.meta.v1.ObjectMetaArgs(name="cosign-system"),
        opts=pulumi.ResourceOptions(provider=provider),
    )
    Signing(
        f"estate-{env}-signing",
        SigningArgs(
            ctx=ctx(env),
            config=SigningConfig(signers=signers, protection_level="HSM" if env == "prod" else "SOFTWARE"),
            prefix=f"estate-{env}",
            key_ring_id=f"projects/{PROJECT}/locations/{REGION}/keyRings/estate-{env}",
            pins=PINS,
            provider=provider,
            cluster=cluster,
            apis=apis,
            namespaces={"cosign-system": ns},
            exempt_images=EXEMPT,
            labels={"environment": env, "component": "signing"},
            registry=registry,
        ),
    )


def _plan(env: str, signers: dict[str, str] | None = None) -> Plan:
    config = {"gcp:project": PROJECT, "gcp:region": REGION}
    plan = record(lambda: _program(env, SIGNERS if signers is None else signers), stack=env, config=config)
    assert plan.ok, plan.error
    return plan


@pytest.fixture(scope="module", params=["dev", "prod"])
def signing_plan(request: pytest.FixtureRequest) -> Plan:
    return _plan(request.param)


def _key_id(env: str) -> str:
    return f"projects/{PROJECT}/locations/{REGION}/keyRings/estate-{env}/cryptoKeys/estate-{env}-images"


def test_signing_key(signing_plan: Plan) -> None:
    env = signing_plan.stack
    key = signing_plan.one("gcp:kms/cryptoKey:CryptoKey", f"estate-{env}-signing-key")
    assert key["inputs"]["purpose"] == "ASYMMETRIC_SIGN" and "rotationPeriod" not in key["inputs"]
    assert key["inputs"]["versionTemplate"] == {
        "algorithm": "EC_SIGN_P256_SHA256",
        "protectionLevel": "HSM" if env == "prod" else "SOFTWARE",
    }
    assert key["options"]["protect"] is (env == "prod")


def test_signers_get_only_the_signing_roles_on_the_key(signing_plan: Plan) -> None:
    grants = signing_plan.by_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    for member in SIGNERS.values():
        mine = [g["inputs"] for g in grants if g["inputs"]["member"] == member]
        assert sorted(g["role"] for g in mine) == sorted(SIGNER_ROLES)
        assert {g["cryptoKeyId"] for g in mine} == {_key_id(signing_plan.stack)}
    everything = [r["inputs"] for r in signing_plan.resources if r["custom"] and "member" in r["inputs"]]
    for member in SIGNERS.values():
        roles = sorted(r["role"] for r in everything if r["member"] == member)
        assert roles == sorted([*SIGNER_ROLES, ATTACHER_ROLE])


def test_no_signers_no_grants() -> None:
    plan = _plan("dev", signers={})
    members = {g["inputs"]["member"] for g in plan.by_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")}
    assert members == {f"serviceAccount:dev-policy-controller@{PROJECT}.iam.gserviceaccount.com"}


def test_binary_authorization_policy(signing_plan: Plan) -> None:
    env = signing_plan.stack
    policy = signing_plan.by_type("gcp:binaryauthorization/policy:Policy")
    assert len(policy) == 1
    inputs = policy[0]["inputs"]
    assert inputs["globalPolicyEvaluationMode"] == "ENABLE"
    # Exact references at their digests: no wildcard admits whatever else comes through a cache.
    patterns = [p["namePattern"] for p in inputs["admissionWhitelistPatterns"]]
    assert patterns == [ref for path in sorted(EXEMPT) for ref in EXEMPT[path].refs]
    assert all("*" not in p and "@sha256:" in p for p in patterns)
    assert inputs["defaultAdmissionRule"] == {
        "evaluationMode": "REQUIRE_ATTESTATION",
        "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG",
        "requireAttestationsBies": [f"projects/{PROJECT}/attestors/estate-{env}-images"],
    }
    assert policy[0]["options"]["protect"] is (env == "prod")


def test_attestor_uses_the_signing_keys_public_half(signing_plan: Plan) -> None:
    attestor = signing_plan.by_type("gcp:binaryauthorization/attestor:Attestor")[0]["inputs"]
    note = attestor["attestationAuthorityNote"]
    assert note["noteReference"] == f"estate-{signing_plan.stack}-images"
    (key,) = note["publicKeys"]
    assert key["id"] == f"//cloudkms.googleapis.com/v1/{_key_id(signing_plan.stack)}/cryptoKeyVersions/1"
    assert key["pkixPublicKey"]["signatureAlgorithm"] == "EC_SIGN_P256_SHA256"
    assert key["pkixPublicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    agent = [
        g["inputs"]
        for g in signing_plan.by_type("gcp:containeranalysis/noteIamMember:NoteIamMember")
        if "gcp-sa-binaryauthorization" in g["inputs"]["member"]
    ]
    assert [g["role"] for g in agent] == [AGENT_ROLE]


def test_verifier_identity_reads_only_the_public_key_and_signatures(signing_plan: Plan) -> None:
    env = signing_plan.stack
    member = f"serviceAccount:{env}-policy-controller@{PROJECT}.iam.gserviceaccount.com"
    on_key = [g["inputs"] for g in signing_plan.by_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")]
    assert sorted(g["role"] for g in on_key if g["member"] == member) == sorted(WEBHOOK_KEY_ROLES)
    repos = [g["inputs"] for g in signing_plan.by_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")]
    assert [(r["repository"], r["role"]) for r in repos] == [("images", REGISTRY_READER)]
    registry = signing_plan.one("gcp:artifactregistry/repository:Repository", "images")["urn"]
    assert (
        registry
        in signing_plan.by_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")[0]["dependencies"]
    )
    (wi,) = signing_plan.by_type("gcp:serviceaccount/iAMMember:IAMMember")
    assert wi["inputs"]["member"] == f"serviceAccount:{PROJECT}.svc.id.goog[cosign-system/{SERVICE_ACCOUNT}]"
    assert signing_plan.one("gcp:container/cluster:Cluster", "cluster")["urn"] in wi["dependencies"]


def test_chart_and_cluster_image_policy(signing_plan: Plan) -> None:
    env = signing_plan.stack
    (chart,) = signing_plan.by_type("kubernetes:helm.sh/v4:Chart")
    assert chart["inputs"]["version"] == "0.10.6" and chart["inputs"]["namespace"] == "cosign-system"
    assert chart["inputs"]["values"]["webhook"]["image"]["version"] == DIGEST
    (cip,) = signing_plan.by_type(f"kubernetes:{API_VERSION}:{KIND}")
    assert chart["urn"] in cip["dependencies"]
    obj = {k: cip["inputs"][k] for k in ("apiVersion", "kind", "metadata", "spec")}
    assert crd_problems(obj) == []
    assert obj["spec"]["images"] == [{"glob": f"{CACHE}/images/**"}]
    assert obj["spec"]["authorities"][0]["key"]["kms"] == f"gcpkms://{_key_id(env)}/cryptoKeyVersions/1"


def test_every_gcp_resource_waits_for_the_apis(signing_plan: Plan) -> None:
    by_urn = {r["urn"]: r for r in signing_plan.resources}
    apis = signing_plan.one("gcp:projects/service:Service", "apis")["urn"]

    def reaches(urn: str, seen: set[str]) -> bool:
        if urn == apis:
            return True
        seen.add(urn)
        return any(reaches(d, seen) for d in by_urn[urn]["dependencies"] if d not in seen)

    gcp_resources = [
        r for r in signing_plan.resources if r["type"].startswith("gcp:") and "estate:signing:Signing" in r["urn"]
    ]
    assert len(gcp_resources) > 10
    assert [r["name"] for r in gcp_resources if not reaches(r["urn"], set())] == []


# ---------------------------------------------------------------- through the real policy pack
def test_the_pack_accepts_what_signing_registers(pack: Analyzer, signing_plan: Plan) -> None:
    app = fx.resource(
        "kubernetes:core/v1:Namespace", "cells", {"metadata": {"name": "cells", "labels": {INCLUDE_LABEL: "true"}}}
    )
    reported, not_applicable = stack(pack, [*signing_plan.resources, app])
    assert "estate-images-admission-verifier" not in reported
    assert "estate-images-admission-verifier" not in not_applicable
    ours = [r for r in signing_plan.resources if r["custom"] and "estate:signing:Signing" in r["urn"]]
    assert len(ours) > 10
    for res in ours:
        assert found(pack, res) == {}, res["name"]


def test_the_pack_refuses_an_allow_all_binauthz_policy(pack: Analyzer, signing_plan: Plan) -> None:
    resources = copy.deepcopy(signing_plan.resources)
    (policy,) = [r for r in resources if r["type"] == "gcp:binaryauthorization/policy:Policy"]
    policy["inputs"]["defaultAdmissionRule"]["evaluationMode"] = "ALWAYS_ALLOW"
    reported, _ = stack(pack, resources)
    assert "estate-images-admission-verifier" in reported

"""policy-controller's values, the ClusterImagePolicy model and the Binary Authorization exemptions (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from components.platform.admission import POLICY_NAME
from components.platform.binauthz import check_patterns, whitelist_description
from components.platform.image_policy import API_VERSION, KIND, cosign_kms_uri, signed_by_key
from components.platform.values.policy_controller import (
    IMAGES,
    INCLUDE_LABEL,
    NO_MATCH_POLICY,
    SERVICE_ACCOUNT,
    policy_controller_values,
)
from tests.signing_fixtures import CACHE, DIGEST, EXEMPT, KEY_ID, PROJECT, ctx
from tests.upstream import crd_problems, unknown_value_keys, values_schema_problems


# ---------------------------------------------------------------- chart values (pure)
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_values_known_upstream_and_schema_clean(env: str) -> None:
    values = policy_controller_values(ctx(env)).dump()
    assert unknown_value_keys("policy-controller", values) == []
    assert values_schema_problems("policy-controller", values) == []


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_values_image_by_digest_from_our_cache(env: str) -> None:
    image = policy_controller_values(ctx(env)).dump()["webhook"]["image"]
    assert image["repository"].startswith(CACHE + "/ghcr/") and image["version"] == DIGEST
    assert set(IMAGES) == {"policy-controller"}
    assert IMAGES["policy-controller"]["image"] == "ghcr.io/sigstore/policy-controller/policy-controller"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_values_hardened(env: str) -> None:
    webhook = policy_controller_values(ctx(env)).dump()["webhook"]
    container, pod = webhook["podSecurityContext"], webhook["securityContext"]
    assert container["enabled"] and pod["enabled"]
    assert container["readOnlyRootFilesystem"] is True and container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]} and container["runAsNonRoot"] is True
    assert container["seccompProfile"] == pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert set(webhook["resources"]) == {"requests", "limits"}
    assert all(set(webhook["resources"][k]) == {"cpu", "memory"} for k in ("requests", "limits"))


def test_values_prod_ha_dev_single() -> None:
    prod = policy_controller_values(ctx("prod")).dump()["webhook"]
    dev = policy_controller_values(ctx("dev")).dump()["webhook"]
    assert prod["replicaCount"] == 2 and prod["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    term = prod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["topologyKey"] == "topology.kubernetes.io/zone"
    assert dev["replicaCount"] == 1 and dev["podDisruptionBudget"] == {"enabled": False} and "affinity" not in dev


def test_values_scope_and_no_match_policy() -> None:
    webhook = policy_controller_values(ctx("dev")).dump()["webhook"]
    assert webhook["namespaceSelector"] == {
        "matchExpressions": [{"key": INCLUDE_LABEL, "operator": "In", "values": ["true"]}]
    }
    assert webhook["configData"] == {"no-match-policy": NO_MATCH_POLICY} and NO_MATCH_POLICY in ("warn", "allow")
    assert webhook["extraArgs"] == {"disable-tuf": "true"}
    sa = webhook["serviceAccount"]
    assert sa["name"] == SERVICE_ACCOUNT
    assert sa["annotations"] == {
        "iam.gke.io/gcp-service-account": f"dev-policy-controller@{PROJECT}.iam.gserviceaccount.com"
    }


# ---------------------------------------------------------------- ClusterImagePolicy vs its CRD
def test_cluster_image_policy_matches_crd() -> None:
    spec = signed_by_key([f"{CACHE}/images/**"], cosign_kms_uri(KEY_ID)).dump()
    obj = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": POLICY_NAME}, "spec": spec}
    assert crd_problems(obj) == []
    assert spec["authorities"][0]["key"] == {"kms": f"gcpkms://{KEY_ID}/cryptoKeyVersions/1"}
    assert "ctlog" not in spec["authorities"][0]


def test_crd_check_catches_a_misspelt_field() -> None:
    spec: dict[str, Any] = signed_by_key([f"{CACHE}/images/**"], cosign_kms_uri(KEY_ID)).dump()
    spec["authorities"][0]["key"]["kmsUri"] = spec["authorities"][0]["key"].pop("kms")
    obj = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": POLICY_NAME}, "spec": spec}
    assert crd_problems(obj) == ["pruned: spec.authorities[0].key.kmsUri"]


def test_cluster_image_policy_needs_a_glob() -> None:
    with pytest.raises(ValueError, match="at least one image glob"):
        signed_by_key([], cosign_kms_uri(KEY_ID))


# ---------------------------------------------------------------- Binary Authorization exemptions (pure)
def test_exemptions_need_reasons_and_paths() -> None:
    reasons = {path: e.reason for path, e in EXEMPT.items()}
    assert check_patterns(reasons) == []
    # A repository-wide wildcard over a pull-through cache admits anything anyone pulls through it.
    assert check_patterns({f"{CACHE}/dockerhub/**": "everything on Docker Hub"}) == [
        f"{CACHE}/dockerhub/**: a wildcard or digest in the path; name one image exactly (its digest is added)"
    ]
    assert check_patterns({f"{CACHE}/dockerhub": "a whole cache"}) == [
        f"{CACHE}/dockerhub: names no single image; use host/project/repository/image"
    ]
    assert check_patterns({f"{CACHE}/quay/jetstack/cert-manager-controller": " "}) == [
        f"{CACHE}/quay/jetstack/cert-manager-controller: an exemption needs its reason"
    ]
    description = whitelist_description(EXEMPT)
    assert "dockerhub/istio/pilot: upstream release through our dockerhub pull-through cache" in description

"""Signed images: pinned by digest, from our registries, verified at admission."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity

from estate_policies.common import get, items, of_types, resource_policy, rules, stack_policy
from estate_policies.pods import containers, is_pod_kind, pod_spec

SLSA = "NIST SP 800-190: 4.1 image risks"
PUBLIC = ("allUsers", "allAuthenticatedUsers")
VERIFIER_POLICY = "gcp:binaryauthorization/policy:Policy"
CLUSTER_IMAGE_POLICY = "kubernetes:policy.sigstore.dev/v1beta1:ClusterImagePolicy"
AR_IAM = (
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
    "gcp:artifactregistry/repositoryIamBinding:RepositoryIamBinding",
    "gcp:artifactregistry/repositoryIamPolicy:RepositoryIamPolicy",
)


def _images(type_: str, props: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(label, str(c.get("image", ""))) for label, c in containers(pod_spec(type_, props))]


def _digest(type_: str, props: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for label, image in _images(type_, props):
        if "@sha256:" not in image:
            yield f"{label}: image {image!r} is not pinned by digest (@sha256:...)"
        elif image.split("@")[0].endswith(":latest"):
            yield f"{label}: image {image!r} carries the latest tag"


def _allowlist(type_: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterable[str]:
    allowed = [str(r) for r in config.get("allowedRegistries", [])]
    for label, image in _images(type_, props):
        if not any(image.startswith(prefix.rstrip("/") + "/") for prefix in allowed):
            yield f"{label}: image {image!r} is not from an allowed registry {allowed}"


def _binauthz(_t: str, props: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    mode = get(props, "binaryAuthorization", "evaluationMode")
    if mode not in ("PROJECT_SINGLETON_POLICY_ENFORCE", "POLICY_BINDINGS_AND_PROJECT_SINGLETON_POLICY_ENFORCE"):
        yield f"binaryAuthorization.evaluationMode is {mode!r}; set PROJECT_SINGLETON_POLICY_ENFORCE"


def _public_repo(_t: str, props: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    members = [props.get("member"), *items(props.get("members"))]
    policy = str(props.get("policyData") or "")
    for who in PUBLIC:
        if who in members or who in policy:
            yield f"repository {props.get('repository')!r} is readable by {who}"


def _verifier_absent(resources: list[PolicyResource]) -> str | None:
    if any(r.resource_type in (VERIFIER_POLICY, CLUSTER_IMAGE_POLICY) for r in resources):
        return None
    return "no admission-time signature verifier in the plan yet (Binary Authorization policy or ClusterImagePolicy)"


def _verifier(resources: list[PolicyResource], config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    app_namespaces = sorted(
        str(get(r.props, "metadata", "name"))
        for r in resources
        if r.resource_type == "kubernetes:core/v1:Namespace"
        and get(r.props, "metadata", "name") not in config.get("systemNamespaces", ["kube-system"])
    )
    enforcing = False
    for r in resources:
        if r.resource_type == VERIFIER_POLICY:
            rule = get(r.props, "defaultAdmissionRule", default={}) or {}
            if (
                rule.get("evaluationMode") == "REQUIRE_ATTESTATION"
                and rule.get("enforcementMode") == "ENFORCED_BLOCK_AND_AUDIT_LOG"
                and items(rule.get("requireAttestationsBies"))
            ):
                enforcing = True
            else:
                yield (
                    "Binary Authorization policy must require attestations and block (defaultAdmissionRule: "
                    "REQUIRE_ATTESTATION, ENFORCED_BLOCK_AND_AUDIT_LOG, attestors)",
                    r.urn,
                )
        elif r.resource_type == CLUSTER_IMAGE_POLICY:
            authorities = items(get(r.props, "spec", "authorities"))
            if authorities and all(a.get("key") or a.get("keyless") for a in authorities):
                enforcing = True
            else:
                yield "ClusterImagePolicy needs at least one cosign authority (key or keyless)", r.urn
    covered_by_label = {
        str(get(r.props, "metadata", "name"))
        for r in resources
        if r.resource_type == "kubernetes:core/v1:Namespace"
        and get(r.props, "metadata", "labels", "policy.sigstore.dev/include") == "true"
    }
    uses_cip = any(r.resource_type == CLUSTER_IMAGE_POLICY for r in resources)
    uses_binauthz = any(r.resource_type == VERIFIER_POLICY for r in resources)
    if uses_cip and not uses_binauthz:
        missing = [ns for ns in app_namespaces if ns not in covered_by_label]
        if missing:
            yield (
                f"application namespaces not verified by policy-controller (label policy.sigstore.dev/include: "
                f"'true'): {missing}",
                None,
            )
    if not enforcing:
        yield "no verifier in the plan enforces signatures", None


_r = rules("estate-images-")

POLICIES = [
    resource_policy(
        _r(
            "digest",
            "Images are pinned by digest, never by the latest tag.",
            Severity.HIGH,
            f"{SLSA}; SLSA Build L3: immutable references",
            "Reference image@sha256:<digest>; let the Registry component resolve it.",
        ),
        is_pod_kind,
        _digest,
    ),
    resource_policy(
        _r(
            "registry-allowlist",
            "Images come only from the estate's own registries.",
            Severity.HIGH,
            f"{SLSA}: use trusted registries",
            "Pull through the Artifact Registry caches or Harbor; add a registry to allowedRegistries.",
            config={"allowedRegistries": {"type": "array", "items": {"type": "string"}, "default": []}},
        ),
        is_pod_kind,
        _allowlist,
    ),
    resource_policy(
        _r(
            "binary-authorization",
            "The GKE cluster enforces Binary Authorization.",
            Severity.HIGH,
            "CIS GKE Benchmark: 5.10.5 (Binary Authorization)",
            "binaryAuthorization.evaluationMode: PROJECT_SINGLETON_POLICY_ENFORCE.",
        ),
        of_types("gcp:container/cluster:Cluster"),
        _binauthz,
    ),
    stack_policy(
        _r(
            "admission-verifier",
            "An admission-time signature verifier covers the application namespaces.",
            Severity.HIGH,
            "SLSA: verify provenance at deploy; Sigstore policy-controller",
            "Add a Binary Authorization policy requiring attestations, or a ClusterImagePolicy with the "
            "cosign key and label the namespaces policy.sigstore.dev/include=true.",
            config={"systemNamespaces": {"type": "array", "items": {"type": "string"}, "default": ["kube-system"]}},
        ),
        _verifier_absent,
        _verifier,
    ),
    resource_policy(
        _r(
            "no-public-repository",
            "No Artifact Registry repository is public.",
            Severity.CRITICAL,
            "CIS Google Cloud Platform Foundation Benchmark: public access to resources",
            "Grant roles/artifactregistry.reader to named principals only.",
        ),
        of_types(*AR_IAM),
        _public_repo,
    ),
]

"""Signed images: pinned by digest, from our registries, verified at admission."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity

from estate_policies.common import (
    SYSTEM_NAMESPACES_SCHEMA,
    app_namespaces,
    get,
    items,
    of_types,
    resource_policy,
    rules,
    stack_policy,
)
from estate_policies.pods import containers, is_pod_kind, pod_spec

SLSA = "NIST SP 800-190: 4.1 image risks"
PUBLIC = ("allUsers", "allAuthenticatedUsers")
VERIFIER_POLICY = "gcp:binaryauthorization/policy:Policy"
CLUSTER_IMAGE_POLICY = "kubernetes:policy.sigstore.dev/v1beta1:ClusterImagePolicy"
SIGSTORE_INCLUDE = "policy.sigstore.dev/include"
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


def _admission_rule_problem(rule: Mapping[str, Any]) -> str | None:
    mode = rule.get("evaluationMode")
    if mode == "ALWAYS_DENY":
        return None
    if mode != "REQUIRE_ATTESTATION":
        return f"evaluationMode {mode!r}; require REQUIRE_ATTESTATION"
    if rule.get("enforcementMode") != "ENFORCED_BLOCK_AND_AUDIT_LOG":
        return f"enforcementMode {rule.get('enforcementMode')!r}; require ENFORCED_BLOCK_AND_AUDIT_LOG"
    if not items(rule.get("requireAttestationsBies")):
        return "no attestors in requireAttestationsBies"
    return None


def _binauthz_policy(props: Mapping[str, Any]) -> Iterable[str]:
    default_problem = _admission_rule_problem(get(props, "defaultAdmissionRule", default={}) or {})
    if default_problem:
        yield f"Binary Authorization defaultAdmissionRule: {default_problem}"
    for rule in items(props.get("clusterAdmissionRules")):
        problem = _admission_rule_problem(rule)
        if problem:
            yield f"Binary Authorization clusterAdmissionRule for {rule.get('cluster')!r}: {problem}"
    for pattern in items(props.get("admissionWhitelistPatterns")):
        name = str(pattern.get("namePattern", ""))
        if "*" in name and name.split("*", 1)[0].count("/") < 2:
            yield f"Binary Authorization exempts {name!r}: a wildcard over a whole registry; scope it to a path"


def _cluster_image_policy(props: Mapping[str, Any]) -> Iterable[str]:
    authorities = items(get(props, "spec", "authorities"))
    if not authorities or not all(a.get("key") or a.get("keyless") for a in authorities):
        yield "ClusterImagePolicy needs cosign authorities (key or keyless) only; static authorities pass anything"
    if not items(get(props, "spec", "images")):
        yield "ClusterImagePolicy names no images"
    if get(props, "spec", "mode", default="enforce") != "enforce":
        yield f"ClusterImagePolicy mode is {get(props, 'spec', 'mode')!r}; only enforce blocks unsigned images"


def _verifier(resources: list[PolicyResource], config: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
    enforcing = False
    for r in resources:
        check = {VERIFIER_POLICY: _binauthz_policy, CLUSTER_IMAGE_POLICY: _cluster_image_policy}.get(r.resource_type)
        if check is None:
            continue
        problems = list(check(r.props))
        enforcing = enforcing or not problems
        yield from ((message, r.urn) for message in problems)
    # policy-controller verifies only in namespaces that opt in, whatever Binary Authorization does.
    if any(r.resource_type == CLUSTER_IMAGE_POLICY for r in resources):
        missing = [
            name
            for name, ns in app_namespaces(resources, config).items()
            if get(ns.props, "metadata", "labels", SIGSTORE_INCLUDE) != "true"
        ]
        if missing:
            yield f"application namespaces without the label {SIGSTORE_INCLUDE}: 'true': {missing}", None
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
            "Binary Authorization: defaultAdmissionRule (and every clusterAdmissionRule) REQUIRE_ATTESTATION with "
            "attestors and ENFORCED_BLOCK_AND_AUDIT_LOG, exempt patterns scoped below a registry path. "
            "ClusterImagePolicy: mode enforce, cosign key or keyless authorities, and every application namespace "
            "labelled policy.sigstore.dev/include: 'true'.",
            config={"systemNamespaces": SYSTEM_NAMESPACES_SCHEMA},
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

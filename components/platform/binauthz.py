"""The Binary Authorization project policy, managed instead of left at its allow-all default.

Our own images need an attestation signed by the estate's KMS key; Google's GKE system images are
admitted by Google's global policy; upstream images through the pull-through caches are admitted
one by one, each at the exact digest the registry lookup resolved, with its reason. Deleting the
policy resource (the provider's delete, on `destroy` or on a rename) resets the project to Google's
default policy, which admits every image: prod protects it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.common import child

# The note's occurrences are the attestations; the Binary Authorization service agent reads them
# when it checks an image (Binary Authorization docs, "create attestors": the agent needs
# roles/containeranalysis.notes.occurrences.viewer on the note).
AGENT_ROLE = "roles/containeranalysis.notes.occurrences.viewer"
# What CI needs on the note to attach an attestation occurrence to it.
ATTACHER_ROLE = "roles/containeranalysis.notes.attacher"


@dataclass(frozen=True)
class Exemption:
    """One upstream image Binary Authorization admits without an attestation: why, and the exact
    references to its one digest (from the registry lookup) that pods name: `<path>@sha256:...`,
    and `<path>:<tag>@sha256:...` for charts that always print a tag (external-secrets)."""

    reason: str
    refs: Sequence[pulumi.Input[str]]


# host/project/repository/image: an image path in Artifact Registry has at least these segments.
MIN_SEGMENTS = 4


def whitelist_description(exempt: Mapping[str, Exemption]) -> str:
    """The policy's description: the exempt images with their reasons, so the console says why."""
    reasons: dict[str, list[str]] = {}
    for path, exemption in sorted(exempt.items()):
        reasons.setdefault(exemption.reason, []).append(path.split("/", 2)[-1])
    said = "; ".join(f"{', '.join(paths)}: {why}" for why, paths in reasons.items())
    return (
        "Managed by ai-estate. Our images need an attestation by the estate's KMS key; Google's system "
        f"images pass the global policy. Exempt, each at its pinned digest: {said or 'nothing'}."
    )


def check_patterns(exempt: Mapping[str, str]) -> list[str]:
    """What is wrong with the exemptions (image path -> reason): each needs a reason, and each names
    one image exactly. A wildcard over a pull-through cache would admit whatever anyone pulls through
    it, which is every public image."""
    problems = []
    for path, why in sorted(exempt.items()):
        if not why.strip():
            problems.append(f"{path}: an exemption needs its reason")
        if "*" in path or "@" in path:
            problems.append(f"{path}: a wildcard or digest in the path; name one image exactly (its digest is added)")
        elif len(path.strip("/").split("/")) < MIN_SEGMENTS:
            problems.append(f"{path}: names no single image; use host/project/repository/image")
    return problems


@dataclass(frozen=True)
class BinAuthz:
    note: gcp.containeranalysis.Note
    attestor: gcp.binaryauthorization.Attestor
    policy: gcp.binaryauthorization.Policy


def binary_authorization(
    parent: pulumi.Resource,
    name: str,
    *,
    project: str,
    prefix: str,
    key_id: pulumi.Input[str],
    exempt_images: Mapping[str, Exemption],
    signers: Mapping[str, str],
    protect: bool,
    depends_on: Sequence[pulumi.Resource],
) -> BinAuthz:
    problems = check_patterns({path: e.reason for path, e in exempt_images.items()})
    if problems:
        raise ValueError("Binary Authorization exemptions: " + "; ".join(problems))
    note = gcp.containeranalysis.Note(
        f"{name}-note",
        gcp.containeranalysis.NoteArgs(
            name=f"{prefix}-images",
            attestation_authority=gcp.containeranalysis.NoteAttestationAuthorityArgs(
                hint=gcp.containeranalysis.NoteAttestationAuthorityHintArgs(
                    human_readable_name=f"{prefix}: built and signed by the estate's CI"
                )
            ),
        ),
        opts=child(parent, depends_on=depends_on, protect=protect),
    )
    version = gcp.kms.get_kms_crypto_key_version_output(crypto_key=key_id, version=1)
    public_key = version.public_keys.apply(lambda keys: keys[0])
    attestor = gcp.binaryauthorization.Attestor(
        f"{name}-attestor",
        gcp.binaryauthorization.AttestorArgs(
            name=f"{prefix}-images",
            description="Images signed by the estate's KMS image-signing key",
            attestation_authority_note=gcp.binaryauthorization.AttestorAttestationAuthorityNoteArgs(
                note_reference=note.name,
                public_keys=[
                    gcp.binaryauthorization.AttestorAttestationAuthorityNotePublicKeyArgs(
                        # The id `gcloud ... attestations sign-and-create --keyversion` signs under.
                        id=pulumi.Output.concat("//cloudkms.googleapis.com/v1/", version.name),
                        pkix_public_key=gcp.binaryauthorization.AttestorAttestationAuthorityNotePublicKeyPkixPublicKeyArgs(
                            public_key_pem=public_key.pem, signature_algorithm=public_key.algorithm
                        ),
                    )
                ],
            ),
        ),
        opts=child(parent, depends_on=depends_on, protect=protect),
    )
    agent = gcp.projects.ServiceIdentity(
        f"{name}-agent",
        gcp.projects.ServiceIdentityArgs(project=project, service="binaryauthorization.googleapis.com"),
        opts=child(parent, depends_on=depends_on),
    )
    reader = gcp.containeranalysis.NoteIamMember(
        f"{name}-agent-occurrences",
        gcp.containeranalysis.NoteIamMemberArgs(note=note.name, role=AGENT_ROLE, member=agent.member),
        opts=child(parent),
    )
    for signer, member in sorted(signers.items()):
        gcp.containeranalysis.NoteIamMember(
            f"{name}-{signer}-attacher",
            gcp.containeranalysis.NoteIamMemberArgs(note=note.name, role=ATTACHER_ROLE, member=member),
            opts=child(parent),
        )
    policy = gcp.binaryauthorization.Policy(
        f"{name}-policy",
        gcp.binaryauthorization.PolicyArgs(
            project=project,
            description=whitelist_description(exempt_images),
            global_policy_evaluation_mode="ENABLE",
            # The exact reference each pod names (`path@sha256:...`): a pattern without a wildcard
            # admits that string only.
            admission_whitelist_patterns=[
                gcp.binaryauthorization.PolicyAdmissionWhitelistPatternArgs(name_pattern=ref)
                for path in sorted(exempt_images)
                for ref in exempt_images[path].refs
            ],
            default_admission_rule=gcp.binaryauthorization.PolicyDefaultAdmissionRuleArgs(
                evaluation_mode="REQUIRE_ATTESTATION",
                enforcement_mode="ENFORCED_BLOCK_AND_AUDIT_LOG",
                require_attestations_bies=[attestor.id],
            ),
        ),
        # The agent must read attestations before the policy starts requiring them.
        opts=child(parent, depends_on=[*depends_on, reader], protect=protect),
    )
    return BinAuthz(note=note, attestor=attestor, policy=policy)

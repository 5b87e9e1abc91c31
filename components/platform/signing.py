"""Signed images: the estate's KMS signing key, who may sign, and the two admission-time verifiers.

One Cloud KMS key (EC P-256, which cosign and Binary Authorization both take) signs every image CI
builds. Binary Authorization checks attestations made with it cluster-wide; policy-controller checks
cosign signatures made with it in the application namespaces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.common import child
from components.kube.charts import ChartPin
from components.kube.values import ChartContext
from components.platform.admission import admission_verifier
from components.platform.binauthz import Exemption, binary_authorization
from components.platform.image_policy import cosign_kms_uri
from stacks.config_signing import SigningConfig
from stacks.images import OWN_REPOSITORY

ALGORITHM = "EC_SIGN_P256_SHA256"
# All granted on the one key. signer: useToSign. publicKeyViewer: cosign reads the public key before
# it signs. viewer: sigstore's gcpkms client also calls GetCryptoKey and GetCryptoKeyVersion
# (pkg/signature/kms/gcp/client.go), which neither of the others allows. signerVerifier would add
# only useToVerify (MAC keys), so these are the narrowest predefined roles that let cosign sign.
SIGNER_ROLES = ("roles/cloudkms.signer", "roles/cloudkms.publicKeyViewer", "roles/cloudkms.viewer")


@dataclass(frozen=True)
class SigningArgs:
    ctx: ChartContext
    config: SigningConfig
    prefix: str
    key_ring_id: pulumi.Input[str]
    pins: Mapping[str, ChartPin]
    provider: k8s.Provider
    cluster: pulumi.Resource
    apis: pulumi.Resource
    namespaces: Mapping[str, pulumi.Resource]
    # upstream image path -> why Binary Authorization may admit it without an attestation, and its pin
    exempt_images: Mapping[str, Exemption]
    labels: Mapping[str, str]
    # Artifact Registry repositories whose images must be signed.
    verified_repositories: Sequence[str] = field(default=(OWN_REPOSITORY,))
    # Other images that must be signed, as globs (Harbor's projects: `registry.<domain>/<project>/**`).
    verified_globs: Sequence[str] = ()
    # What creates those repositories (the Registry component): their reader grants wait for it.
    registry: pulumi.Resource | None = None


class Signing(pulumi.ComponentResource):
    key_id: pulumi.Output[str]
    cosign_key: pulumi.Output[str]
    attestor: pulumi.Output[str]
    verifier_service_account: pulumi.Output[str]

    def __init__(self, name: str, args: SigningArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:signing:Signing", name, None, opts)
        prod = args.ctx.prod
        key = gcp.kms.CryptoKey(
            f"{name}-key",
            gcp.kms.CryptoKeyArgs(
                name=f"{args.prefix}-images",
                key_ring=args.key_ring_id,
                purpose="ASYMMETRIC_SIGN",
                # No rotation_period: Cloud KMS cannot rotate asymmetric keys automatically. A new
                # version is a deliberate change: add it, attest with it, then move cosign_key.
                version_template=gcp.kms.CryptoKeyVersionTemplateArgs(
                    algorithm=ALGORITHM, protection_level=args.config.protection_level
                ),
                labels=dict(args.labels),
            ),
            opts=child(self, depends_on=[args.apis], protect=prod),
        )
        # `signing.signers`, and the bootstrap's CI deployer where `signing.bootstrapSigner` is on.
        signers = args.config.members(args.ctx.project)
        for signer, member in sorted(signers.items()):
            for role in SIGNER_ROLES:
                gcp.kms.CryptoKeyIAMMember(
                    f"{name}-{signer}-{role.rsplit('.', 1)[-1]}",
                    gcp.kms.CryptoKeyIAMMemberArgs(crypto_key_id=key.id, role=role, member=member),
                    opts=child(self),
                )
        self.key_id = key.id
        self.cosign_key = key.id.apply(cosign_kms_uri)
        binauthz = binary_authorization(
            self,
            f"{name}-binauthz",
            project=args.ctx.project,
            prefix=args.prefix,
            key_id=key.id,
            exempt_images=args.exempt_images,
            signers=signers,
            protect=prod,
            depends_on=[args.apis],
        )
        verifier = admission_verifier(
            self,
            f"{name}-verifier",
            ctx=args.ctx,
            pin=args.pins["policy-controller"],
            provider=args.provider,
            key_id=key.id,
            cosign_key=self.cosign_key,
            verified_repositories=args.verified_repositories,
            verified_globs=args.verified_globs,
            cluster=args.cluster,
            apis=args.apis,
            namespaces=args.namespaces,
            registry=args.registry,
        )
        self.attestor = binauthz.attestor.id
        self.verifier_service_account = verifier.gsa_email
        self.register_outputs(
            {
                "keyId": self.key_id,
                "cosignKey": self.cosign_key,
                "attestor": self.attestor,
                "verifierServiceAccount": self.verifier_service_account,
            }
        )

"""Sigstore policy-controller: cosign signatures verified at admission in the application namespaces."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.common import child
from components.kube.charts import ChartPin, Release, install
from components.kube.custom import custom_object
from components.kube.values import ChartContext
from components.platform.image_policy import API_VERSION, KIND, signed_by_key
from components.platform.values.policy_controller import (
    NAMESPACE,
    RELEASE,
    SERVICE_ACCOUNT,
    policy_controller_values,
    webhook_gsa,
)

# The controller resolves a `gcpkms://` key with GetCryptoKey, GetCryptoKeyVersion and GetPublicKey
# (sigstore pkg/signature/kms/gcp/client.go keyVersionName), so reading the public key alone is not
# enough (sigstore/sigstore#467, closed as intended): it also needs the key's metadata.
WEBHOOK_KEY_ROLES = ("roles/cloudkms.publicKeyViewer", "roles/cloudkms.viewer")
# Signatures are OCI artifacts beside the image (`sha256-<digest>.sig`) in a private repository.
REGISTRY_READER = "roles/artifactregistry.reader"
POLICY_NAME = "estate-signed-images"


@dataclass(frozen=True)
class Verifier:
    chart: k8s.helm.v4.Chart
    policy: k8s.apiextensions.CustomResource
    gsa_email: pulumi.Output[str]


def admission_verifier(
    parent: pulumi.Resource,
    name: str,
    *,
    ctx: ChartContext,
    pin: ChartPin,
    provider: k8s.Provider,
    key_id: pulumi.Input[str],
    cosign_key: pulumi.Input[str],
    verified_repositories: Sequence[str],
    verified_globs: Sequence[str],
    cluster: pulumi.Resource,
    apis: pulumi.Resource,
    namespaces: Mapping[str, pulumi.Resource],
    registry: pulumi.Resource | None = None,
) -> Verifier:
    gsa = gcp.serviceaccount.Account(
        f"{name}-gsa",
        gcp.serviceaccount.AccountArgs(
            account_id=webhook_gsa(ctx), display_name="policy-controller: reads the image-signing public key"
        ),
        opts=child(parent, depends_on=[apis]),
    )
    grants: list[pulumi.Resource] = [
        gcp.kms.CryptoKeyIAMMember(
            f"{name}-{role.rsplit('.', 1)[-1]}",
            gcp.kms.CryptoKeyIAMMemberArgs(crypto_key_id=key_id, role=role, member=gsa.member),
            opts=child(parent),
        )
        for role in WEBHOOK_KEY_ROLES
    ]
    grants += [
        gcp.artifactregistry.RepositoryIamMember(
            f"{name}-{repo}-reader",
            gcp.artifactregistry.RepositoryIamMemberArgs(
                project=ctx.project, location=ctx.region, repository=repo, role=REGISTRY_READER, member=gsa.member
            ),
            opts=child(parent, depends_on=[registry] if registry else []),
        )
        for repo in verified_repositories
    ]
    # The identity pool exists once the cluster does.
    grants.append(
        gcp.serviceaccount.IAMMember(
            f"{name}-workload-identity",
            gcp.serviceaccount.IAMMemberArgs(
                service_account_id=gsa.name,
                role="roles/iam.workloadIdentityUser",
                member=f"serviceAccount:{ctx.project}.svc.id.goog[{NAMESPACE}/{SERVICE_ACCOUNT}]",
            ),
            opts=child(parent, depends_on=[cluster]),
        )
    )
    chart = install(
        parent,
        f"{name}-chart",
        Release(pin=pin, namespace=NAMESPACE, values=policy_controller_values(ctx), release_name=RELEASE),
        provider=provider,
        # With its grants in place first, the controller's first reconcile of the policy succeeds.
        depends_on=[namespaces[NAMESPACE], *grants],
    )
    globs = [f"{ctx.region}-docker.pkg.dev/{ctx.project}/{repo}/**" for repo in verified_repositories]
    globs += verified_globs
    policy = custom_object(
        parent,
        f"{name}-policy",
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": POLICY_NAME},
            "spec": signed_by_key(globs, pulumi.Output.from_input(cosign_key)).dump(),
        },
        provider=provider,
        depends_on=[chart],
    )
    return Verifier(chart=chart, policy=policy, gsa_email=gsa.email)

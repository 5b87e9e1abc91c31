"""THE way a credential reaches Kubernetes: an ExternalSecret synced from Google Secret Manager.

Every layer that needs a credential in a namespace does three things, nothing else:

1. has a Kubernetes service account named `SYNC_SERVICE_ACCOUNT` in that namespace, annotated with
   `iam.gke.io/gcp-service-account: <the workload's Google service account>`, that Google account
   granting `roles/iam.workloadIdentityUser` to `serviceAccount:<project>.svc.id.goog[<ns>/secret-sync]`;
2. `grant_secret_access(...)`: `roles/secretmanager.secretAccessor` on that one secret to that
   Google account (never a project-wide grant);
3. `external_secret(...)`: the ExternalSecret, which ESO resolves through the `gcp-secret-manager`
   ClusterSecretStore with the namespace's own identity (referent authentication).

Pulumi never creates a `core/v1` Secret holding the value: ESO writes it, owned by the ExternalSecret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
from pydantic import Field

from components.common import K8S_LABELS, child
from components.kube.custom import Manifest, Spec, custom_resource

API = "external-secrets.io/v1"
STORE = "gcp-secret-manager"
# The store names this account without a namespace, so ESO uses the one in each ExternalSecret's
# own namespace: one fixed name per namespace is what referent authentication implies.
SYNC_SERVICE_ACCOUNT = "secret-sync"
ACCESSOR = "roles/secretmanager.secretAccessor"


@dataclass(frozen=True)
class Remote:
    """A Secret Manager secret (its id, not its path) and the version to read."""

    secret_id: str
    version: str = "latest"


@dataclass(frozen=True)
class ExternalSecretSpec:
    namespace: str
    target: str  # the Kubernetes Secret ESO writes
    data: Mapping[str, Remote]  # key in the Kubernetes Secret -> where its value lives
    refresh_interval: str = "1h"  # rotations at the source reach pods within this
    # The Secret's keys as templates over `data` (ESO template engine v2, `{{ .key }}`): plain
    # configuration that sits beside a credential, written whole by ESO. None: the data as is.
    template: Mapping[str, str] | None = None
    # Pulumi waits for the first sync; off for a secret whose value a person sets after `up`.
    wait: bool = True
    secret_type: str | None = None  # the Secret's type (with a template): Opaque when absent


class StoreRef(Spec):
    kind: Literal["ClusterSecretStore"] = "ClusterSecretStore"
    name: str = STORE


class Template(Spec):
    engine_version: Literal["v2"] = "v2"
    type: str | None = None
    data: dict[str, str]


class Target(Spec):
    name: str
    # Owner: the Secret is garbage-collected with its ExternalSecret, so removing a credential
    # from code removes it from the cluster.
    creation_policy: Literal["Owner"] = "Owner"
    # Retain: if the source secret disappears or becomes unreadable (a deleted version, an IAM
    # slip), running workloads keep the last good value instead of losing their Secret mid-flight;
    # revocation is done by rotating the credential itself, not by deleting the Kubernetes copy.
    deletion_policy: Literal["Retain"] = "Retain"
    template: Template | None = None


class RemoteRef(Spec):
    key: str
    version: str


class Data(Spec):
    secret_key: str
    remote_ref: RemoteRef


class ExternalSecretCrSpec(Spec):
    refresh_interval: str
    secret_store_ref: StoreRef = Field(default_factory=StoreRef)
    target: Target
    data: list[Data]


def manifest(name: str, spec: ExternalSecretSpec) -> Manifest:
    if not spec.data:
        raise ValueError(f"ExternalSecret {spec.namespace}/{name}: data is empty")
    if spec.secret_type is not None and not spec.template:
        raise ValueError(f"ExternalSecret {spec.namespace}/{name}: a Secret type needs a template")
    body = ExternalSecretCrSpec(
        refresh_interval=spec.refresh_interval,
        target=Target(
            name=spec.target,
            template=Template(type=spec.secret_type, data=dict(spec.template)) if spec.template else None,
        ),
        data=[
            Data(secret_key=key, remote_ref=RemoteRef(key=remote.secret_id, version=remote.version))
            for key, remote in sorted(spec.data.items())
        ],
    )
    # Waited for: a Deployment or Job that depends on the ExternalSecret starts once ESO has
    # written the Secret, instead of failing its first start on a missing secretKeyRef.
    wait = "Ready" if spec.wait else None
    return Manifest(API, "ExternalSecret", name, body, namespace=spec.namespace, wait_for_condition=wait)


def external_secret(
    parent: pulumi.Resource,
    resource_name: str,
    name: str,
    spec: ExternalSecretSpec,
    *,
    provider: pulumi.ProviderResource,
    depends_on: Sequence[pulumi.Resource],
) -> k8s.apiextensions.CustomResource:
    """An ExternalSecret named `name` in `spec.namespace`, registered as `resource_name` under `parent`.

    `depends_on`: the ExternalSecrets component (CRD and store), the namespace's sync service
    account and the `grant_secret_access` grants, so the first sync already succeeds.
    """
    return custom_resource(parent, resource_name, manifest(name, spec), provider=provider, depends_on=depends_on)


def grant_secret_access(
    parent: pulumi.Resource,
    name: str,
    secret_id: pulumi.Input[str],
    member: pulumi.Input[str],
    *,
    project: str,
    depends_on: Sequence[pulumi.Resource] = (),
) -> gcp.secretmanager.SecretIamMember:
    """`member` may read the versions of this one secret, nothing else in Secret Manager."""
    return gcp.secretmanager.SecretIamMember(
        name,
        gcp.secretmanager.SecretIamMemberArgs(project=project, secret_id=secret_id, role=ACCESSOR, member=member),
        opts=child(parent, depends_on=depends_on),
    )


def sync_principal(project: str, namespace: str) -> str:
    """The namespace's sync service account as a Workload Identity principal."""
    return f"serviceAccount:{project}.svc.id.goog[{namespace}/{SYNC_SERVICE_ACCOUNT}]"


def sync_identity(
    parent: pulumi.Resource,
    name: str,
    *,
    namespace: str,
    google_service_account: pulumi.Input[str],
    gsa_email: str,
    project: str,
    provider: pulumi.ProviderResource,
    depends_on: Sequence[pulumi.Resource],
) -> tuple[k8s.core.v1.ServiceAccount, gcp.serviceaccount.IAMMember]:
    """Step 1 for one namespace: the `secret-sync` Kubernetes service account, acting through
    Workload Identity as the Google service account `google_service_account` (its resource name;
    `gsa_email` is the same account's email, derived from its id). No pod runs as it: ESO only
    requests tokens for it, so it mounts nothing. `depends_on`: the namespace and the cluster."""
    ksa = k8s.core.v1.ServiceAccount(
        f"{name}-ksa",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=SYNC_SERVICE_ACCOUNT,
            namespace=namespace,
            labels=K8S_LABELS,
            annotations={"iam.gke.io/gcp-service-account": gsa_email},
        ),
        automount_service_account_token=False,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on)),
    )
    binding = gcp.serviceaccount.IAMMember(
        f"{name}-workload-identity",
        gcp.serviceaccount.IAMMemberArgs(
            service_account_id=google_service_account,
            role="roles/iam.workloadIdentityUser",
            member=sync_principal(project, namespace),
        ),
        opts=child(parent, depends_on=depends_on),
    )
    return ksa, binding

"""Credentials into Kubernetes: for each namespace that needs some, a sync identity allowed to read
exactly those Secret Manager secrets, and one ExternalSecret per Kubernetes Secret.

The namespace is the boundary Kubernetes itself gives Secrets (any pod of a namespace may mount
any of its Secrets), so each namespace syncs as its own Google service account, which holds
`secretAccessor` on its secrets one by one and nothing project-wide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.common import child
from components.kube.external_secret import (
    ExternalSecretSpec,
    Remote,
    external_secret,
    grant_secret_access,
    sync_identity,
)
from stacks.secret_keys import sync_account_id

# namespace -> Kubernetes Secret name -> key in that Secret -> Secret Manager secret id. Plain
# strings from config: the ExternalSecret's spec must be known at preview to be checked.
Wanted = Mapping[str, Mapping[str, Mapping[str, str]]]


@dataclass(frozen=True)
class CredentialsArgs:
    project: str
    environment: str
    wanted: Wanted
    provider: pulumi.ProviderResource
    cluster: pulumi.Resource  # the Workload Identity pool exists once the cluster does
    apis: pulumi.Resource
    namespaces: Mapping[str, pulumi.Resource]
    secrets_operator: pulumi.Resource  # the ExternalSecrets component: CRDs and the store
    sources: Mapping[str, pulumi.Resource]  # secret id -> the Secret Manager secret (grants wait for it)
    # namespace -> Kubernetes Secret -> its keys as ESO templates over the data (configuration
    # written beside a credential); absent: the data as is.
    templates: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    # (namespace, Kubernetes Secret) whose first sync Pulumi does not wait for: a value a person
    # sets after `up` (components.kube.external_secret.ExternalSecretSpec.wait).
    unwaited: frozenset[tuple[str, str]] = frozenset()
    # Namespaces that get a sync identity even with nothing to sync here: a later layer syncs a
    # secret it creates itself into them (Harbor's pull secret), through `identities`.
    identities_for: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SyncIdentity:
    """A namespace's sync identity, for a layer that grants it a secret of its own and syncs it."""

    member: pulumi.Output[str]  # the Google account, as an IAM member
    ready: list[pulumi.Resource]  # its Kubernetes account and Workload Identity binding


class Credentials(pulumi.ComponentResource):
    secrets: dict[str, dict[str, pulumi.Resource]]  # namespace -> Secret name -> its ExternalSecret
    identities: dict[str, SyncIdentity]  # namespace -> its sync identity

    def __init__(self, name: str, args: CredentialsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:secrets:Credentials", name, None, opts)
        self.secrets, self.identities = {}, {}
        wanted = {**{ns: {} for ns in args.identities_for}, **args.wanted}
        for ns, targets in sorted(wanted.items()):
            account_id = sync_account_id(args.environment, ns)
            gsa = gcp.serviceaccount.Account(
                f"{name}-{ns}",
                gcp.serviceaccount.AccountArgs(
                    account_id=account_id,
                    display_name=f"Secret sync for namespace {ns} (External Secrets)",
                    project=args.project,
                ),
                opts=child(self, depends_on=[args.apis]),
            )
            ksa, binding = sync_identity(
                self,
                f"{name}-{ns}",
                namespace=ns,
                google_service_account=gsa.name,
                gsa_email=f"{account_id}@{args.project}.iam.gserviceaccount.com",
                project=args.project,
                provider=args.provider,
                depends_on=[args.namespaces[ns], args.cluster],
            )
            self.identities[ns] = SyncIdentity(member=gsa.member, ready=[ksa, binding])
            grants = [
                grant_secret_access(
                    self,
                    f"{name}-{ns}-{secret_id}",
                    secret_id,
                    gsa.member,
                    project=args.project,
                    # A secret a person made (a gated model's token) is not the program's: no resource to wait for.
                    depends_on=[args.apis, *([args.sources[secret_id]] if secret_id in args.sources else [])],
                )
                for secret_id in sorted({v for data in targets.values() for v in data.values()})
            ]
            self.secrets[ns] = {
                target: external_secret(
                    self,
                    f"{name}-{ns}-{target}",
                    target,
                    ExternalSecretSpec(
                        namespace=ns,
                        target=target,
                        data={k: Remote(v) for k, v in data.items()},
                        template=args.templates.get(ns, {}).get(target),
                        wait=(ns, target) not in args.unwaited,
                    ),
                    provider=args.provider,
                    depends_on=[args.secrets_operator, ksa, binding, *grants],
                )
                for target, data in sorted(targets.items())
            }
        self.register_outputs({"namespaces": sorted(self.secrets)})

"""External Secrets Operator and the one ClusterSecretStore every credential is synced through."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field

from components.kube.charts import ChartPin, Release, install
from components.kube.custom import Manifest, Spec, custom_resource
from components.kube.external_secret import API, STORE, SYNC_SERVICE_ACCOUNT
from components.kube.values import ChartContext
from components.platform.values.external_secrets import NAMESPACE, RELEASE, external_secrets_values


class ServiceAccountRef(Spec):
    # No namespace: referent authentication, the account of this name in each ExternalSecret's own
    # namespace (providers/v1/gcp/secretmanager/workload_identity.go TokenSource).
    name: str


class WorkloadIdentity(Spec):
    service_account_ref: ServiceAccountRef
    # Given, so ESO does not ask the metadata server (which would answer for the node's cluster
    # only, and needs egress to it): the identity provider is derived from these three.
    cluster_location: str
    cluster_name: str
    cluster_project_id: str = Field(alias="clusterProjectID")


class GcpAuth(Spec):
    workload_identity: WorkloadIdentity


class Gcpsm(Spec):
    project_id: str = Field(alias="projectID")
    auth: GcpAuth


class Provider(Spec):
    gcpsm: Gcpsm


class StoreSpec(Spec):
    provider: Provider


def secret_store(ctx: ChartContext) -> Manifest:
    """The `gcp-secret-manager` ClusterSecretStore: Secret Manager of the estate's project, read with
    the Workload Identity of the namespace that asks."""
    wi = WorkloadIdentity(
        service_account_ref=ServiceAccountRef(name=SYNC_SERVICE_ACCOUNT),
        cluster_location=ctx.cluster_location,
        cluster_name=ctx.cluster_name,
        cluster_project_id=ctx.project,
    )
    spec = StoreSpec(provider=Provider(gcpsm=Gcpsm(project_id=ctx.project, auth=GcpAuth(workload_identity=wi))))
    return Manifest(API, "ClusterSecretStore", STORE, spec)


@dataclass(frozen=True)
class ExternalSecretsArgs:
    ctx: ChartContext
    pins: Mapping[str, ChartPin]
    provider: k8s.Provider
    namespaces: Mapping[str, pulumi.Resource]
    # The node pools: Chart v4 waits for the operator's pods to be Ready, which needs nodes.
    nodes: pulumi.Resource


class ExternalSecrets(pulumi.ComponentResource):
    """The operator (its CRDs from the chart) and the store. No Google identity of its own: every
    read is made as the asking namespace's `secret-sync` account (see components.kube.external_secret)."""

    chart: k8s.helm.v4.Chart
    store: k8s.apiextensions.CustomResource
    store_name: str

    def __init__(self, name: str, args: ExternalSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:secrets:ExternalSecrets", name, None, opts)
        self.chart = install(
            self,
            f"{name}-chart",
            Release(args.pins["external-secrets"], NAMESPACE, external_secrets_values(args.ctx), release_name=RELEASE),
            provider=args.provider,
            depends_on=[args.namespaces[NAMESPACE], args.nodes],
        )
        self.store = custom_resource(
            self, f"{name}-store", secret_store(args.ctx), provider=args.provider, depends_on=[self.chart]
        )
        self.store_name = STORE
        self.register_outputs({"storeName": STORE})

"""What every component of the automation layer reads from the layers below, gathered once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kube.charts import ChartPin
from components.kube.credentials import Credentials, CredentialsArgs
from components.kube.values import ChartContext


@dataclass(frozen=True)
class Estate:
    ctx: ChartContext  # the project, environment and images
    pins: Mapping[str, ChartPin]
    prefix: str
    region: str
    provider: k8s.Provider
    namespaces: Mapping[str, pulumi.Resource]
    cluster: pulumi.Resource  # the Workload Identity pool exists once it does
    apis: pulumi.Resource
    secrets_operator: pulumi.Resource  # External Secrets: CRDs and the store

    def credentials(
        self,
        parent: pulumi.Resource,
        name: str,
        namespace: str,
        wanted: Mapping[str, Mapping[str, str]],
        *,
        sources: Mapping[str, pulumi.Resource],
        templates: Mapping[str, Mapping[str, str]] | None = None,
        unwaited: frozenset[str] = frozenset(),
    ) -> Credentials:
        """One component's Secrets in its namespace, synced from Secret Manager as the namespace's own
        identity (`wanted`: Kubernetes Secret -> key -> secret id; `unwaited`: Secrets a person fills
        after `up`, which nothing waits for)."""
        return Credentials(
            name,
            CredentialsArgs(
                project=self.ctx.project,
                environment=self.ctx.environment,
                wanted={namespace: wanted},
                provider=self.provider,
                cluster=self.cluster,
                apis=self.apis,
                namespaces=self.namespaces,
                secrets_operator=self.secrets_operator,
                sources=sources,
                templates={namespace: templates} if templates else {},
                unwaited=frozenset((namespace, secret) for secret in unwaited),
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )

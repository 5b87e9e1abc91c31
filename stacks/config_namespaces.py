"""`ai-estate:namespaces`: the application namespaces, a map keyed by name.

Every application namespace enforces the restricted Pod Security Standard, denies all traffic
by default and opens only what its entry says. Platform namespaces (the mesh, cert-manager,
...) are fixed in code with their reasons (components/platform/namespaces.py).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from stacks.base import Model, Name

Quantity = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$")]


class Caller(Model):
    """A workload allowed to call into the namespace, by its Kubernetes service account."""

    namespace: Name
    service_account: Name


class Egress(Model):
    """What the namespace's pods may reach beyond DNS, the mesh and the metadata server."""

    cloud_sql: bool = Field(False, description="Cloud SQL over the Private Service Access range (Auth Proxy, 3307).")
    redis: bool = Field(False, description="Memorystore over the Private Service Access range (TLS, 6378).")
    google_apis: bool = Field(False, description="Google APIs over HTTPS (Cloud Storage, Secret Manager, ...).")


class Quota(Model):
    cpu: Quantity = "8"
    memory: Quantity = "32Gi"
    pods: int = Field(50, ge=1, le=10000)
    gpus: int = Field(0, ge=0, le=1000)


class ContainerDefaults(Model):
    """LimitRange defaults for containers that state no resources of their own."""

    cpu: Quantity = "250m"
    memory: Quantity = "256Mi"
    max_cpu: Quantity = "8"
    max_memory: Quantity = "64Gi"


class NamespaceConfig(Model):
    holds_data: bool = Field(False, description="Backup for GKE covers the namespace's volumes and objects.")
    ingress: bool = Field(False, description="The ingress gateway may call in (the namespace serves public hosts).")
    callers: dict[Name, Caller] = Field({}, description="Workloads in the mesh that may call in, keyed by a name.")
    egress: Egress = Egress()
    quota: Quota = Quota()
    container_defaults: ContainerDefaults = ContainerDefaults()


NamespacesConfig = dict[Name, NamespaceConfig]

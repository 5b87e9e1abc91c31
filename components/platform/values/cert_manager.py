"""cert-manager chart values (jetstack/cert-manager v1.21.1).

Hooks: the chart's only hook objects are startupapicheck's (Job, ServiceAccount, Role and
RoleBinding, `helm.sh/hook: post-install` via `startupapicheck.jobAnnotations`, `.rbac.annotations`
and `.serviceAccount.annotations`); `startupapicheck.enabled: false` removes all four. The webhook
needs no hook: it serves with a certificate it issues itself (`--dynamic-serving-ca-secret-name`
in webhook-deployment.yaml) and cainjector writes the CA into the webhook configurations.
CRDs: the chart renders them from templates/crd-*.yaml behind `crds.enabled` (it has no crds/
directory), and `crds.keep` marks them `helm.sh/resource-policy: keep`.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pydantic import Field

from components.kube import api_token
from components.kube.values import (
    CONTAINER_SECURITY,
    POD_SECURITY,
    SYSTEM_NODES,
    ChartContext,
    PinnedImage,
    Values,
    resources,
    zone_spread,
)
from stacks.charts import chart_images

NAMESPACE = "cert-manager"
RELEASE = "cert-manager"  # also the controller's Kubernetes service account (the chart's fullname)
VERSION = "v1.21.1"

# Jetstack publishes every component at the chart's appVersion. The acmesolver image only runs for
# HTTP-01 challenges (the estate solves DNS-01), but the controller is given it by digest too.
IMAGES = chart_images("cert-manager-")  # the images this chart runs, declared with the pins

# Google Public DNS over HTTPS, by address: the DNS-01 self-check then needs egress to two /32s on
# 443 only, instead of port 53 to whichever authoritative servers a zone delegates to.
DNS01_NAMESERVERS = "https://8.8.8.8/dns-query,https://8.8.4.4/dns-query"


class Image(Values):
    """templates/_helpers.tpl `cert-manager.image`: a set `repository` is used as-is and a lone
    `digest` is appended as `@<digest>` (no tag, so the digest alone decides what runs)."""

    repository: str
    digest: str | pulumi.Output[str]

    @classmethod
    def of(cls, pinned: PinnedImage) -> Image:
        return cls(repository=pinned.repository, digest=pinned.digest)


class ImageOnly(Values):
    image: Image


class ServiceAccount(Values):
    create: bool = True
    automount_service_account_token: bool = False
    annotations: dict[str, str] | None = None


class Pdb(Values):
    enabled: bool
    min_available: int | None = None


class Workload(Values):
    """The block the chart repeats for the controller (top level), `webhook` and `cainjector`."""

    replica_count: int
    image: Image
    resources: dict[str, Any]
    security_context: dict[str, Any] = POD_SECURITY
    container_security_context: dict[str, Any] = CONTAINER_SECURITY
    node_selector: dict[str, str] = SYSTEM_NODES
    topology_spread_constraints: list[dict[str, Any]] | None = None
    pod_disruption_budget: Pdb
    automount_service_account_token: bool = False
    service_account: ServiceAccount = ServiceAccount()
    volumes: list[dict[str, Any]] = Field(default_factory=lambda: [api_token.volume()])
    volume_mounts: list[dict[str, Any]] = Field(default_factory=lambda: [api_token.mount()])


class Webhook(Workload):
    secure_port: int = 10250  # GKE's control plane reaches nodes on 443 and 10250 without extra firewall rules


class CaInjector(Workload):
    enabled: bool = True


class Crds(Values):
    enabled: bool = True
    keep: bool = True


class LeaderElection(Values):
    namespace: str


class Global(Values):
    leader_election: LeaderElection


class ServiceMonitor(Values):
    enabled: bool = False


class Prometheus(Values):
    enabled: bool = True
    servicemonitor: ServiceMonitor = ServiceMonitor()


class StartupApiCheck(Values):
    enabled: bool = False


class CertManagerValues(Workload):
    crds: Crds = Crds()
    global_: Global = Field(alias="global")
    enable_certificate_owner_ref: bool
    dns01_recursive_nameservers_only: bool
    dns01_recursive_nameservers: str
    prometheus: Prometheus = Prometheus()
    startupapicheck: StartupApiCheck = StartupApiCheck()
    webhook: Webhook
    cainjector: CaInjector
    acmesolver: ImageOnly


def _labels(component: str) -> dict[str, str]:
    """The chart's selector labels for one component (release name = RELEASE)."""
    name = RELEASE if component == "controller" else component
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": RELEASE,
        "app.kubernetes.io/component": component,
    }


def _ha(ctx: ChartContext, component: str) -> dict[str, Any]:
    """Replicas, zone spread and PDB: two of each in prod (leader election keeps one active)."""
    if not ctx.prod:
        return {"replica_count": 1, "pod_disruption_budget": Pdb(enabled=False)}
    return {
        "replica_count": 2,
        "topology_spread_constraints": zone_spread(_labels(component)),
        "pod_disruption_budget": Pdb(enabled=True, min_available=1),
    }


def cert_manager_values(ctx: ChartContext, *, gsa_email: str) -> CertManagerValues:
    """Values for the cert-manager chart; `gsa_email` is the controller's Google service account
    (derived from its id, never read from the resource), used for DNS-01 through Workload Identity."""
    images = ctx.images
    size = "prod" if ctx.prod else "dev"
    mem = {"prod": ("256Mi", "512Mi"), "dev": ("128Mi", "256Mi")}[size]
    return CertManagerValues(
        **_ha(ctx, "controller"),
        image=Image.of(images["cert-manager-controller"]),
        resources=resources("50m", mem[0], cpu_limit="500m", memory_limit=mem[1]),
        service_account=ServiceAccount(annotations={"iam.gke.io/gcp-service-account": gsa_email}),
        # Leases in cert-manager's own namespace: no Role in kube-system (GKE Autopilot refuses
        # writes there, and the estate keeps its own objects out of it on Standard too).
        global_=Global(leader_election=LeaderElection(namespace=NAMESPACE)),
        # A Certificate's Secret outlives the Certificate: a replaced or removed internal-CA
        # Certificate must never take the CA key with it (and a re-issued public certificate
        # costs Let's Encrypt rate limit). Orphaned Secrets are cleaned up deliberately.
        enable_certificate_owner_ref=False,
        dns01_recursive_nameservers_only=True,
        dns01_recursive_nameservers=DNS01_NAMESERVERS,
        webhook=Webhook(
            **_ha(ctx, "webhook"),
            image=Image.of(images["cert-manager-webhook"]),
            resources=resources("20m", "64Mi", cpu_limit="200m", memory_limit="128Mi"),
        ),
        cainjector=CaInjector(
            **_ha(ctx, "cainjector"),
            image=Image.of(images["cert-manager-cainjector"]),
            resources=resources("20m", "128Mi", cpu_limit="200m", memory_limit="256Mi"),
        ),
        # deployment.yaml passes it as --acme-http01-solver-image through the same image helper.
        acmesolver=ImageOnly(image=Image.of(images["cert-manager-acmesolver"])),
    )

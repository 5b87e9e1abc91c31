"""External Secrets Operator chart values (external-secrets 2.9.0).

Hooks: the chart has none (no `helm.sh/hook` in its templates). Its webhook certificate is kept
by the cert-controller Deployment, which fills the chart's empty `<release>-webhook` Secret and
injects the CA into the ValidatingWebhookConfiguration (and CRD conversion, when enabled). The
alternative, `webhook.certManager.enabled`, needs a cert-manager Issuer and cainjector first, an
ordering across two charts for no gain: the estate keeps the default, self-contained path.
CRDs: rendered from templates/crds/ behind `installCRDs` (no crds/ directory).
One image serves all three Deployments (`external-secrets webhook`/`certcontroller` subcommands).
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
    Toggle,
    Values,
    resources,
    tag_at_digest,
)
from stacks.charts import chart_images

NAMESPACE = "external-secrets"
RELEASE = "external-secrets"
VERSION = "v2.9.0"

IMAGES = chart_images("external-secrets")  # the images this chart runs, declared with the pins


class Image(Values):
    """templates/_helpers.tpl `external-secrets.image` prints `<repository>:<tag>`; a tag of
    `<tag>@<digest>` makes that `repo:tag@sha256:...`, which the runtime pulls by digest."""

    repository: str
    tag: str | pulumi.Output[str]

    @classmethod
    def of(cls, pinned: PinnedImage) -> Image:
        return cls(repository=pinned.repository, tag=tag_at_digest(pinned))


class ServiceAccount(Values):
    create: bool = True
    automount: bool = False


class Pdb(Values):
    enabled: bool
    min_available: int = 1


class Probe(Values):
    enabled: bool = True  # the controller's two probes and the others' liveness are off by default


def _switch_on(block: dict[str, Any]) -> dict[str, Any]:
    # The chart renders a securityContext only when `enabled` and at least one more key are set.
    return {"enabled": True, **block}


class Workload(Values):
    """The block the chart repeats for the controller (top level), `webhook` and `certController`."""

    replica_count: int
    image: Image
    resources: dict[str, Any]
    service_account: ServiceAccount = ServiceAccount()
    pod_security_context: dict[str, Any] = _switch_on(POD_SECURITY)
    security_context: dict[str, Any] = _switch_on(CONTAINER_SECURITY)
    node_selector: dict[str, str] = SYSTEM_NODES
    topology_spread_constraints: list[dict[str, Any]] | None = None
    pod_disruption_budget: Pdb
    liveness_probe: Probe = Probe()
    readiness_probe: Probe = Probe()
    extra_volumes: list[dict[str, Any]] = Field(default_factory=lambda: [api_token.volume()])
    extra_volume_mounts: list[dict[str, Any]] = Field(default_factory=lambda: [api_token.mount()])


class WebhookCertManager(Values):
    enabled: bool = False


class Webhook(Workload):
    port: int = 10250
    cert_manager: WebhookCertManager = WebhookCertManager()


class Crds(Values):
    # Only ExternalSecret, SecretStore and ClusterSecretStore are used (the cert-controller also
    # reconciles those three by default); pushing to Secret Manager and cluster-wide fan-out are off.
    create_cluster_external_secret: bool = False
    create_cluster_generator: bool = False
    create_cluster_push_secret: bool = False
    create_push_secret: bool = False


class ServiceBindings(Values):
    create: bool = False


class Rbac(Values):
    # `serviceAccountTokenCreate` stays on (chart default): referent Workload Identity mints a
    # token for the ExternalSecret's own Kubernetes service account.
    servicebindings: ServiceBindings = ServiceBindings()


class ExternalSecretsValues(Workload):
    install_crds: bool = Field(True, alias="installCRDs")
    crds: Crds = Crds()
    process_cluster_external_secret: bool = False
    process_cluster_push_secret: bool = False
    process_push_secret: bool = False
    process_cluster_generator: bool = False
    leader_elect: bool
    bitwarden_sdk_server: Toggle = Field(Toggle(), alias="bitwarden-sdk-server")
    service_monitor: Toggle = Toggle()
    rbac: Rbac = Rbac()
    webhook: Webhook
    cert_controller: Workload


def _ha(ctx: ChartContext) -> dict[str, Any]:
    if not ctx.prod:
        return {"replica_count": 1, "pod_disruption_budget": Pdb(enabled=False)}
    # The chart adds its own selector labels to a constraint that has none.
    spread = [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"},
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway"},
    ]
    return {"replica_count": 2, "topology_spread_constraints": spread, "pod_disruption_budget": Pdb(enabled=True)}


def external_secrets_values(ctx: ChartContext) -> ExternalSecretsValues:
    image = Image.of(ctx.images["external-secrets"])
    return ExternalSecretsValues(
        **_ha(ctx),
        image=image,
        resources=resources("50m", "128Mi", cpu_limit="500m", memory_limit="256Mi"),
        leader_elect=ctx.prod,  # two controllers must not reconcile the same ExternalSecret at once
        webhook=Webhook(
            **_ha(ctx), image=image, resources=resources("20m", "64Mi", cpu_limit="200m", memory_limit="128Mi")
        ),
        cert_controller=Workload(
            **_ha(ctx), image=image, resources=resources("20m", "64Mi", cpu_limit="200m", memory_limit="128Mi")
        ),
    )

"""KEDA chart values (keda 2.20.2): the operator, the metrics API server and the admission webhooks.

Hooks: none (no `helm.sh/hook`, no `lookup`, no generated secrets in its templates). Certificates:
cert-manager's, from the platform's internal CA (`certificates.certManager`, the chart's own Issuer
off); cainjector writes the CA into the APIService and the ValidatingWebhookConfiguration, so
nothing is left to the operator's self-generated certificates or its patching of objects Pulumi
manages. CRDs: rendered from templates/crds/ behind `crds.install`.

Secrets: the operator and the metrics server read Secrets of their own namespace only
(`permissions.*.restrict.secret`): scalers authenticate through ClusterTriggerAuthentications whose
Secrets live in `keda`, written there by External Secrets, never through a namespace's Secrets.
"""

from __future__ import annotations

import copy
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
    image_parts,
    tag_at_digest,
    zone_spread,
)
from components.kube.values import resources as limits

NAMESPACE = "keda"
RELEASE = "keda"
OPERATOR = "keda-operator"  # the operator's Deployment and pod label `app`
METRICS_PORT = 6443  # service.portHttpsTarget: the aggregated API
WEBHOOK_PORT = 9443  # webhooks.port's default


class Image(Values):
    """templates/*/deployment.yaml print `<registry>/<repository>:<tag>`; a tag of `<tag>@<digest>`
    pulls by digest."""

    registry: str
    repository: str
    tag: str | pulumi.Output[str]

    @classmethod
    def of(cls, pinned: PinnedImage) -> Image:
        parts = image_parts(pinned)
        return cls(registry=parts["registry"], repository=parts["repository"], tag=tag_at_digest(pinned))


class Images(Values):
    keda: Image
    metrics_api_server: Image
    webhooks: Image
    pull_policy: str = "IfNotPresent"  # by digest: nothing to re-pull


class Issuer(Values):
    generate: bool = False
    name: str
    kind: str = "ClusterIssuer"
    group: str = "cert-manager.io"


class CertManager(Values):
    enabled: bool = True
    generate_ca: bool = Field(False, alias="generateCA")  # the platform's CA signs; KEDA makes none of its own
    issuer: Issuer


class Certificates(Values):
    auto_generated: bool = False
    cert_manager: CertManager


class Restrict(Values):
    secret: bool = True


class Permission(Values):
    restrict: Restrict = Restrict()


class Permissions(Values):
    metric_server: Permission = Permission()
    operator: Permission = Permission()


class Account(Values):
    create: bool = True
    name: str
    automount_service_account_token: bool = False  # the token is mounted explicitly (api_token)


class Accounts(Values):
    operator: Account = Account(name=OPERATOR)
    metric_server: Account = Account(name="keda-metrics-server")
    webhooks: Account = Account(name="keda-webhook")


class PerComponent(Values):
    """The chart's per-component blocks, keyed operator / metricServer / webhooks."""

    operator: Any
    metric_server: Any
    webhooks: Any


class ExtraVolumes(Values):
    extra_volumes: list[dict[str, Any]] = Field(default_factory=lambda: [api_token.volume()])
    extra_volume_mounts: list[dict[str, Any]] = Field(default_factory=lambda: [api_token.mount()])


class Volumes(Values):
    keda: ExtraVolumes = ExtraVolumes()
    metrics_api_server: ExtraVolumes = ExtraVolumes()
    webhooks: ExtraVolumes = ExtraVolumes()


class Rbac(Values):
    # Only Deployments are scaled (apps/*/scale, which the chart always grants); the custom kinds'
    # default would grant `*/scale` and `*` on every API group.
    enabled_custom_scaled_ref_kinds: bool = False


class Replicas(Values):
    replica_count: int


class Webhooks(Values):
    enabled: bool = True
    # The chart's default Ignore would let a malformed ScaledObject through when the webhook is down.
    failure_policy: str = "Fail"
    replica_count: int


class Spread(Values):
    operator: list[dict[str, Any]]
    metrics_server: list[dict[str, Any]]
    webhooks: list[dict[str, Any]]


class PerPod(Values):
    keda: dict[str, str]  # the operator's pods


class KedaValues(Values):
    image: Images
    certificates: Certificates
    permissions: Permissions = Permissions()
    rbac: Rbac = Rbac()
    service_account: Accounts = Accounts()
    volumes: Volumes = Volumes()
    operator: Replicas
    metrics_server: Replicas
    webhooks: Webhooks
    security_context: PerComponent
    pod_security_context: PerComponent
    resources: PerComponent
    node_selector: dict[str, str] = SYSTEM_NODES
    topology_spread_constraints: Spread | None = None
    pod_disruption_budget: PerComponent | None = None
    pod_labels: PerPod | None = None
    pod_annotations: PerPod | None = None


def each(value: Any) -> PerComponent:
    """The same block for the three components (each its own copy)."""
    return PerComponent(
        operator=copy.deepcopy(value), metric_server=copy.deepcopy(value), webhooks=copy.deepcopy(value)
    )


def keda_values(ctx: ChartContext, *, issuer: str, ambient_operator: bool = False) -> KedaValues:
    """Prod: two replicas of each (one operator leads; the others take over), spread over zones, with
    a PodDisruptionBudget each; dev: one of each."""
    n = 2 if ctx.prod else 1
    small = limits("100m", "128Mi", cpu_limit="1", memory_limit="512Mi")
    apps = {
        "operator": OPERATOR,
        "metric_server": "keda-operator-metrics-apiserver",
        "webhooks": "keda-admission-webhooks",
    }
    return KedaValues(
        image=Images(
            keda=Image.of(ctx.images["keda"]),
            metrics_api_server=Image.of(ctx.images["keda-metrics-apiserver"]),
            webhooks=Image.of(ctx.images["keda-admission-webhooks"]),
        ),
        certificates=Certificates(cert_manager=CertManager(issuer=Issuer(name=issuer))),
        operator=Replicas(replica_count=n),
        metrics_server=Replicas(replica_count=n),
        webhooks=Webhooks(replica_count=n),
        security_context=each(CONTAINER_SECURITY),
        pod_security_context=each(POD_SECURITY),
        resources=each(small),
        topology_spread_constraints=Spread(
            operator=zone_spread({"app": apps["operator"]}),
            metrics_server=zone_spread({"app": apps["metric_server"]}),
            webhooks=zone_spread({"app": apps["webhooks"]}),
        )
        if ctx.prod
        else None,
        pod_disruption_budget=each({"minAvailable": 1}) if ctx.prod else None,
        # The operator reads Prometheus (the model servers' queues) as a mesh identity: ztunnel carries its
        # calls out with its identity and leaves its inbound alone (Istio 1.24+), where the metrics API
        # server calls it over KEDA's own mutual TLS from outside the mesh, which STRICT would refuse.
        pod_labels=PerPod(keda={"istio.io/dataplane-mode": "ambient"}) if ambient_operator else None,
        pod_annotations=PerPod(keda={"ambient.istio.io/bypass-inbound-capture": "true"}) if ambient_operator else None,
    )

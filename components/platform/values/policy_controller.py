"""Values for Sigstore policy-controller (chart 0.10.6, app v0.13.1): the admission-time cosign verifier.

Hooks: the chart's only hook objects are in templates/webhook/cleanup-leases.yaml (a post-delete Job
running `cgr.dev/chainguard/kubectl:latest-dev`, with its ServiceAccount, Role and RoleBinding) that
deletes the controller's leader-election Leases after `helm uninstall`. Chart v4 drops hook objects,
so none of them is installed; after a destroy the Leases go with the `cosign-system` namespace.
Its webhook certificate needs no hook either: the controller (knative's certificate reconciler)
fills the chart's empty `webhook-certs` Secret and the webhook configurations' caBundle itself.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.kube.values import (
    CONTAINER_SECURITY,
    SYSTEM_NODES,
    ChartContext,
    PinnedImage,
    Values,
    resources,
)
from stacks.charts import chart_images

NAMESPACE = "cosign-system"
RELEASE = "policy-controller"
# Set explicitly (the chart's default is "<fullname>-webhook") so the Workload Identity binding and
# the chart agree on one constant.
SERVICE_ACCOUNT = "policy-controller-webhook"
GSA_ACCOUNT_ID = "{env}-policy-controller"
INCLUDE_LABEL = "policy.sigstore.dev/include"

IMAGES = chart_images("policy-controller")  # the images this chart runs, declared with the pins

# An image that matches no ClusterImagePolicy is admitted with a warning. "deny" (the controller's
# own default) would refuse every image from the pull-through caches in a verified namespace (the
# Cloud SQL proxy, the mesh's proxies), which no key of ours can sign; "allow" would hide them.
# Binary Authorization is the deny-by-default layer for the whole cluster: it admits cache images
# only by explicit, justified patterns. Key and values are read by pkg/config/store.go
# (`no-match-policy`: allow | warn | deny) from the chart's config-policy-controller ConfigMap.
NO_MATCH_POLICY = "warn"


class ImageValues(Values):
    repository: str
    # templates/_helpers.tpl `policy-controller.image`: a version starting with "sha256:" renders
    # "<repository>@<version>", so the digest alone pins the image.
    version: str | pulumi.Output[str]
    pull_policy: str = "IfNotPresent"


class ServiceAccountValues(Values):
    create: bool = True
    name: str = SERVICE_ACCOUNT
    annotations: dict[str, str]


class PdbValues(Values):
    enabled: bool
    min_available: int | None = None


class WebhookValues(Values):
    image: ImageValues
    replica_count: int
    # The chart names these the other way round: `podSecurityContext` is the container's
    # securityContext, `securityContext` the pod's (templates/webhook/deployment_webhook.yaml).
    pod_security_context: dict[str, Any]
    security_context: dict[str, Any]
    resources: dict[str, Any]
    namespace_selector: dict[str, Any]
    config_data: dict[str, str]
    service_account: ServiceAccountValues
    pod_disruption_budget: PdbValues
    failure_policy: str = "Fail"
    extra_args: dict[str, str] | None = None
    affinity: dict[str, Any] | None = None


class PolicyControllerValues(Values):
    # No `installCRDs`: the chart declares it but no template reads it. Its CRDs are ordinary
    # templates (templates/crds/), always rendered, so `skip_crds` does not apply to them either.
    webhook: WebhookValues
    common_node_selector: dict[str, str]
    loglevel: str = "info"


def webhook_gsa(ctx: ChartContext) -> str:
    """The account id of the webhook's Google service account (reads the signing key's public half)."""
    return GSA_ACCOUNT_ID.format(env=ctx.environment)


def policy_controller_values(ctx: ChartContext) -> PolicyControllerValues:
    image: PinnedImage = ctx.images["policy-controller"]
    replicas = 2 if ctx.prod else 1
    return PolicyControllerValues(
        common_node_selector=dict(SYSTEM_NODES),
        webhook=WebhookValues(
            image=ImageValues(repository=image.repository, version=image.digest),
            replica_count=replicas,
            pod_security_context={"enabled": True, **CONTAINER_SECURITY, "runAsUser": 65532, "runAsGroup": 65532},
            security_context={
                "enabled": True,
                "runAsNonRoot": True,
                "runAsUser": 65532,
                "runAsGroup": 65532,
                "fsGroup": 65532,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            resources=resources("100m", "256Mi", cpu_limit="500m"),
            # The upstream default, set here so it cannot drift: only namespaces labelled
            # policy.sigstore.dev/include=true (the application namespaces) are verified.
            namespace_selector={"matchExpressions": [{"key": INCLUDE_LABEL, "operator": "In", "values": ["true"]}]},
            config_data={"no-match-policy": NO_MATCH_POLICY},
            # At start the controller fetches Sigstore's public TUF root (tuf-repo-cdn.sigstore.dev)
            # and panics when it cannot (cmd/webhook/main.go). Only keyless and Rekor checks use that
            # root; ours is a KMS key without a transparency log, so the webhook needs no internet.
            # Rendered as `-disable-tuf=true` (deployment_webhook.yaml, `range .Values.webhook.extraArgs`).
            extra_args={"disable-tuf": "true"},
            service_account=ServiceAccountValues(
                annotations={"iam.gke.io/gcp-service-account": ctx.gsa_email(webhook_gsa(ctx))}
            ),
            pod_disruption_budget=PdbValues(enabled=ctx.prod, min_available=1 if ctx.prod else None),
            affinity=_zone_anti_affinity() if ctx.prod else None,
        ),
    )


def _zone_anti_affinity() -> dict[str, Any]:
    """Replaces the chart's preferred node anti-affinity (it takes no topologySpreadConstraints): in
    prod each replica sits in its own zone, so a zone's loss never stops admission."""
    return {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"control-plane": f"{RELEASE}-webhook"}},
                    "topologyKey": "topology.kubernetes.io/zone",
                }
            ]
        }
    }

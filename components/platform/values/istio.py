"""Values for the Istio control plane charts (`base`, `istiod`) in ambient mode, and the images
every Istio chart runs. The node agents are in `istio_nodes`, the ingress gateway in `istio_gateway`.

Every Istio 1.30 chart nests its defaults under `_internal_defaults_do_not_set` and merges the
user's values over them in `templates/zzz_profile.yaml`: users set keys at the top level (as
here), never under that key. `profile` and `global.platform` select files/profile-*.yaml.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pydantic import Field

from components.kube.authz import TRUST_DOMAIN, principal
from components.kube.values import (
    SYSTEM_NODES,
    ChartContext,
    PinnedImage,
    Values,
    resources,
    zone_spread,
)
from stacks.charts import chart_images
from stacks.config_mesh import MeshConfig
from stacks.config_telemetry import OTLP_GRPC_PORT, TRACING_PROVIDER

ISTIO_TAG = "1.30.3-distroless"  # the ambient profile's variant: no shell, no package manager

# key -> upstream image and the tag chart 1.30.3 runs; the Registry resolves each to a digest.
IMAGES = chart_images("istio-")  # the images this chart runs, declared with the pins

SYSTEM_NAMESPACE = "istio-system"
INGRESS_NAMESPACE = "istio-ingress"
INGRESS_RELEASE = "istio-ingressgateway"  # the pack's allowedGateways names istio-ingress/istio-ingressgateway
INGRESS_SELECTOR = {"istio": "ingressgateway"}  # gateway chart: `istio` label = release name minus "istio-"
PLATFORM = "gke"  # GKE keeps CNI binaries in /home/kubernetes/bin and needs the critical-pod quota
PROXY_UID = 1337  # the uid the gateway injection template runs istio-proxy as


def image_ref(image: PinnedImage) -> pulumi.Input[str]:
    """`repository@sha256:...`: plain data when the digest is (the invoke's result in a test), else an Output."""
    if isinstance(image.digest, str):
        return f"{image.repository}@{image.digest}"
    return image.ref


def hub(image: PinnedImage) -> str:
    """The registry path Istio would join image names to (our pull-through cache of docker.io/istio)."""
    return image.repository.rsplit("/", 1)[0]


INGRESS_PRINCIPAL = principal(INGRESS_NAMESPACE, INGRESS_RELEASE)  # gateway chart: SA named after the release

# Pod security of the ingress gateway, set twice because two templates write it: the gateway
# chart's Deployment and istiod's gateway injection template (`gateways.securityContext`).
GATEWAY_POD_SECURITY: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": PROXY_UID,
    "runAsGroup": PROXY_UID,
    "fsGroup": PROXY_UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}


# Both charts render `failurePolicy: Ignore` on a fresh install (`if not .Release.IsUpgrade`) and
# istiod flips it to Fail once ready; Chart v4 always renders as an install, so every later apply
# would fight istiod's field manager over the field (istio#45204, pulumi-kubernetes#2210). Both
# templates read `base.validationFailurePolicy` (istio PRs 59367 and 59488): render Fail from the start.
VALIDATION = {"validationFailurePolicy": "Fail"}


class BaseValues(Values):
    default_revision: str  # renders the istiod-default-validator webhook for the default revision
    global_: dict[str, Any] = Field(alias="global")
    base: dict[str, Any]


# The istio-reader ClusterRole (read `*` in every API group) only serves multicluster remote
# secrets; one cluster needs none of it (base and istiod both render it behind this flag).
NO_READER_RBAC = {"enableReaderRBAC": False}


def base_values(_ctx: ChartContext) -> BaseValues:
    return BaseValues(
        default_revision="default",
        global_={"istioNamespace": SYSTEM_NAMESPACE, **NO_READER_RBAC},
        base=dict(VALIDATION),
    )


class IstiodValues(Values):
    profile: str
    global_: dict[str, Any] = Field(alias="global")
    image: str | pulumi.Output[str]
    autoscale_enabled: bool
    autoscale_min: int
    autoscale_max: int
    replica_count: int
    resources: dict[str, Any]
    seccomp_profile: dict[str, Any]
    node_selector: dict[str, str]
    topology_spread_constraints: list[dict[str, Any]] | None = None
    pdb: dict[str, Any]
    mesh_config: dict[str, Any]
    gateways: dict[str, Any]
    base: dict[str, Any]


# What the gateway asks the sign-in service with, and passes on: oauth2-proxy answers 200 (its
# `static://200` upstream) with the user's headers, or a redirect to Google with its cookie.
EXT_AUTHZ_CHECKED = ["cookie", "authorization", "accept", "x-forwarded-proto", "x-forwarded-for"]
EXT_AUTHZ_UPSTREAM = [
    "x-auth-request-user",
    "x-auth-request-email",
    "x-auth-request-preferred-username",
    "x-auth-request-groups",
]


def ext_authz_provider(name: str, service: str, port: int) -> dict[str, Any]:
    return {
        "name": name,
        "envoyExtAuthzHttp": {
            "service": service,
            "port": port,
            "timeout": "5s",
            "includeRequestHeadersInCheck": EXT_AUTHZ_CHECKED,
            "headersToUpstreamOnAllow": EXT_AUTHZ_UPSTREAM,
            "headersToDownstreamOnAllow": ["set-cookie"],
            "headersToDownstreamOnDeny": ["set-cookie", "content-type"],
        },
    }


def istiod_values(
    ctx: ChartContext,
    cfg: MeshConfig,
    *,
    tracing: str | None = None,
    sign_in: tuple[str, str, int] | None = None,
) -> IstiodValues:
    """`tracing`: the collector host the proxies (the ingress gateway, waypoints) send spans to over
    OTLP/gRPC; ztunnel sends none. Sampling is a Telemetry resource's (the observability layer).
    `sign_in`: the external authorization provider (name, host, port) the gateway's CUSTOM policies
    name; it fails closed (403) when the service cannot answer."""
    pilot, proxy = ctx.images["istio-pilot"], ctx.images["istio-proxyv2"]
    mesh: dict[str, Any] = {"trustDomain": TRUST_DOMAIN, "enablePrometheusMerge": True}
    providers: list[dict[str, Any]] = []
    if tracing:
        providers.append({"name": TRACING_PROVIDER, "opentelemetry": {"service": tracing, "port": OTLP_GRPC_PORT}})
    if sign_in:
        providers.append(ext_authz_provider(*sign_in))
    if providers:
        mesh["extensionProviders"] = providers
    if cfg.access_log:
        mesh |= {"accessLogFile": "/dev/stdout", "accessLogEncoding": "JSON"}
    # No outboundTrafficPolicy: ztunnel does not enforce REGISTRY_ONLY (only sidecars and
    # waypoints do), so setting it would promise an egress control the mesh does not give;
    # egress is closed by the namespaces' default-deny NetworkPolicies instead.
    return IstiodValues(
        profile="ambient",
        global_={
            "platform": PLATFORM,
            "istioNamespace": SYSTEM_NAMESPACE,
            # deployment.yaml: `{{- if contains "/" .Values.image }} image: "{{ .Values.image }}"`; the
            # gateway injection template: `{{- if contains "/" (... .Values.global.proxy.image) }}
            # image: "{{ ... .Values.global.proxy.image }}"`: a full reference is used verbatim.
            "proxy": {"image": image_ref(proxy), "privileged": False},
            "proxy_init": {"image": image_ref(proxy)},
            # What istiod joins image names to where no full reference is taken (waypoints later).
            "hub": hub(proxy),
            "tag": proxy.tag,
            "logAsJson": True,
            "defaultPodDisruptionBudget": {"enabled": True},
            **NO_READER_RBAC,
        },
        image=image_ref(pilot),
        autoscale_enabled=ctx.prod,
        autoscale_min=cfg.istiod.min_replicas,
        autoscale_max=cfg.istiod.max_replicas,
        replica_count=cfg.istiod.min_replicas,
        resources=resources("500m", "1Gi", cpu_limit="2", memory_limit="2Gi")
        if ctx.prod
        else resources("200m", "512Mi", cpu_limit="1", memory_limit="1Gi"),
        # The container's other hardening (non-root, read-only root, drop ALL, no escalation) is fixed in the chart.
        seccomp_profile={"type": "RuntimeDefault"},
        node_selector=dict(SYSTEM_NODES),
        topology_spread_constraints=zone_spread({"app": "istiod"}) if ctx.prod else None,
        pdb={"minAvailable": 1},
        mesh_config=mesh,
        # The waypoint template reads the container's seccomp profile from `gateways.seccompProfile`
        # only (the pod's comes with securityContext): waypoints must pass Pod Security restricted.
        gateways={"securityContext": GATEWAY_POD_SECURITY, "seccompProfile": {"type": "RuntimeDefault"}},
        base=dict(VALIDATION),
    )

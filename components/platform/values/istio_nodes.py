"""Values for Istio's node agents in ambient mode: the CNI agent and ztunnel (DaemonSets).

Both need more than Pod Security "restricted" allows, by design: they enter every meshed pod's
network namespace on the node to redirect its traffic into ztunnel. The chart fixes those
settings; what the values can harden, they do. The exact exemptions are listed in the report.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pydantic import Field

from components.kube.values import ChartContext, Values, resources
from components.platform.values.istio import PLATFORM, image_ref

# GKE admits system-node-critical pods only in a namespace holding a ResourceQuota scoped to that
# PriorityClass; with `global.platform: gke` both charts render one (templates/resourcequota.yaml).
CRITICAL_POD_QUOTA = 1000
# Where GKE's nodes keep CNI plugins. The chart detects GKE from `-gke` in the server version
# (templates/daemonset.yaml), which an offline render cannot see, and any non-empty `cniBinDir`
# wins over the detection. Set under `cni:`: templates/zzy_descope_legacy.yaml copies `.cni` over
# the top level after the profiles, so a top-level value loses to the default `/opt/cni/bin` once
# `global.platform: gke` selects a profile. Pinned, the rendered DaemonSet is what GKE gets.
GKE_CNI_BIN_DIR = "/home/kubernetes/bin"


class CniValues(Values):
    profile: str
    global_: dict[str, Any] = Field(alias="global")
    image: str | pulumi.Output[str]
    resources: dict[str, Any]
    seccomp_profile: dict[str, Any]
    use_app_armor_annotation: bool
    resource_quotas: dict[str, Any]
    cni: dict[str, Any]


def cni_values(ctx: ChartContext) -> CniValues:
    return CniValues(
        profile="ambient",
        global_={"platform": PLATFORM, "logAsJson": True},
        # daemonset.yaml: `{{- if contains "/" .Values.image }} image: "{{ .Values.image }}"` (verbatim).
        image=image_ref(ctx.images["istio-install-cni"]),
        resources=resources("100m", "128Mi", cpu_limit="500m", memory_limit="256Mi"),
        # The chart leaves seccomp unset unless asked; RuntimeDefault still allows setns with SYS_ADMIN.
        seccomp_profile={"type": "RuntimeDefault"},
        # GKE runs Kubernetes >= 1.30: securityContext.appArmorProfile instead of the beta annotation.
        use_app_armor_annotation=False,
        resource_quotas={"enabled": True, "pods": CRITICAL_POD_QUOTA},
        cni={"cniBinDir": GKE_CNI_BIN_DIR},
    )


class ZtunnelValues(Values):
    profile: str
    global_: dict[str, Any] = Field(alias="global")
    image: str | pulumi.Output[str]
    resources: dict[str, Any]
    log_as_json: bool
    resource_quotas: dict[str, Any]


def ztunnel_values(ctx: ChartContext) -> ZtunnelValues:
    # Default tolerations (every NoSchedule/NoExecute taint) are kept: a node without ztunnel
    # cannot run meshed pods, and the GPU and spot pools are tainted.
    return ZtunnelValues(
        profile="ambient",
        global_={"platform": PLATFORM},
        # daemonset.yaml: `{{- if contains "/" .Values.image }} image: "{{ .Values.image }}"` (verbatim).
        image=image_ref(ctx.images["istio-ztunnel"]),
        resources=resources("200m", "512Mi", cpu_limit="1", memory_limit="1Gi")
        if ctx.prod
        else resources("100m", "256Mi", cpu_limit="500m", memory_limit="512Mi"),
        log_as_json=True,
        resource_quotas={"enabled": True, "pods": CRITICAL_POD_QUOTA},
    )

"""Values for kube-prometheus-stack 88.5.3 (Prometheus Operator v0.93.1, Prometheus 3.14,
Alertmanager 0.34): images from our caches by digest, nothing left to the chart's hooks, and only
the components a GKE cluster has.

- The operator's admission webhook gets its certificate from the estate's internal CA through
  cert-manager (`certManager`), the patch Job is off, and `failurePolicy: Fail` (the chart would
  render `Ignore` with the patch Job): a rule the operator would refuse never gets in.
- GKE does not expose the controller manager, scheduler or etcd; Dataplane V2 has no kube-proxy;
  the cluster runs kube-dns, not CoreDNS: those are off, so their bundled rules never page.
- Rules, ServiceMonitors, PodMonitors, Probes and ScrapeConfigs the program (or a later layer)
  creates are selected wherever they are (`...SelectorNilUsesHelmValues: false`).
- Grafana comes from its subchart (components.observability.grafana); the node exporter from its
  subchart, in the node agents' namespace (components.observability.agents).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pydantic import Field

from components.kube.values import (
    CONTAINER_SECURITY,
    SSD_STORAGE_CLASS,
    SYSTEM_NODES,
    ChartContext,
    PinnedImage,
    Values,
    image_parts,
    resources,
)
from components.observability.alerting import CONFIG_SECRET
from stacks.config_observability import PROMETHEUS_SERVICE_ACCOUNT, ObservabilityConfig

RELEASE = "kube-prometheus-stack"
FULLNAME = "kps"  # fullnameOverride: kps-operator, kps-prometheus, kps-alertmanager, kps-admission
POOL_LABEL = "cloud.google.com/gke-nodepool"
ZONE_LABEL = "topology.kubernetes.io/zone"
PROMETHEUS_PORT = 9090
# Rule groups of components this cluster does not have (templates gate them on these switches too).
OFF_RULES = ("etcd", "kubeControllerManager", "kubeSchedulerAlerting", "kubeSchedulerRecording", "kubeProxy", "windows")


def prometheus_replica_urls(namespace: str, replicas: int) -> list[str]:
    """Each Prometheus server's own address: the operator's StatefulSet `prometheus-<CR name>` behind
    its governing headless Service `prometheus-operated` (the Service `kps-prometheus` would pick one
    replica per request, and an HA pair does not share what it ingests)."""
    return [
        f"http://prometheus-{FULLNAME}-prometheus-{i}.prometheus-operated.{namespace}.svc:{PROMETHEUS_PORT}"
        for i in range(replicas)
    ]


def image(pinned: PinnedImage, *, sha: bool = True) -> dict[str, Any]:
    """`registry`/`repository` split out of our cache's path; the digest as `sha` (bare hex, the chart
    adds `@sha256:`) or, for kube-state-metrics, whole (`sha256:...`)."""
    parts = image_parts(pinned)
    digest = pulumi.Output.from_input(parts.pop("digest"))
    return {**parts, "sha": digest.apply(lambda d: d.removeprefix("sha256:") if sha else d)}


class KubePrometheusStackValues(Values):
    fullname_override: str
    crds: dict[str, Any]
    windows_monitoring: dict[str, Any]
    kube_controller_manager: dict[str, Any]
    kube_scheduler: dict[str, Any]
    kube_etcd: dict[str, Any]
    kube_proxy: dict[str, Any]
    core_dns: dict[str, Any]
    kube_dns: dict[str, Any]
    node_exporter: dict[str, Any]
    default_rules: dict[str, Any]
    grafana: dict[str, Any]
    kube_state_metrics: dict[str, Any] = Field(alias="kube-state-metrics")
    node_exporter_chart: dict[str, Any] | None = Field(None, alias="prometheus-node-exporter")
    prometheus_operator: dict[str, Any]
    prometheus: dict[str, Any]
    alertmanager: dict[str, Any]


def _storage(gb: int) -> dict[str, Any]:
    spec = {
        "storageClassName": SSD_STORAGE_CLASS,
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{gb}Gi"}},
    }
    return {"volumeClaimTemplate": {"spec": spec}}


def _spread(prod: bool, name: str) -> list[dict[str, Any]]:
    if not prod:
        return []
    return [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
        }
    ]


NODE_EXPORTER_PORT = 9100  # on the nodes' addresses (host network)


def node_exporter(ctx: ChartContext, namespace: str) -> dict[str, Any]:
    """The node exporter (subchart prometheus-node-exporter 4.56.1) in the node agents' namespace:
    the host's network and process namespaces and its root filesystem read-only, as the chart runs
    it (nothing else measures a node's disks, filesystems and network), non-root (65534), no
    capability, no privilege escalation."""
    pinned = ctx.images["prometheus-node-exporter"]
    parts = image_parts(pinned)
    return {
        "namespaceOverride": namespace,
        "fullnameOverride": "node-exporter",
        # The pinned tag carries `-distroless` already; the chart appends it when asked.
        "image": {**{k: parts[k] for k in ("registry", "repository", "tag", "digest")}, "distroless": False},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "runAsGroup": 65534,
            "fsGroup": 65534,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containerSecurityContext": {
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": resources("50m", "64Mi", cpu_limit="250m", memory_limit="128Mi"),
        # Every node, whatever its taints (GPU, spot).
        "tolerations": [{"operator": "Exists"}],
    }


def kps_values(
    ctx: ChartContext,
    cfg: ObservabilityConfig,
    *,
    internal_issuer: str,
    grafana: dict[str, Any],
    node_agents: str | None = None,
) -> KubePrometheusStackValues:
    """`node_agents`: the node agents' namespace, where the node exporter runs (None: no exporter)."""
    prod, imgs = ctx.prod, ctx.images
    p, am = cfg.prometheus, cfg.alertmanager
    return KubePrometheusStackValues(
        fullname_override=FULLNAME,
        crds={"enabled": True, "upgradeJob": {"enabled": False}},
        windows_monitoring={"enabled": False},
        kube_controller_manager={"enabled": False},
        kube_scheduler={"enabled": False},
        kube_etcd={"enabled": False},
        kube_proxy={"enabled": False},
        core_dns={"enabled": False},
        kube_dns={"enabled": True},
        node_exporter={"enabled": node_agents is not None},
        node_exporter_chart=node_exporter(ctx, node_agents) if node_agents else None,
        default_rules={"rules": dict.fromkeys(OFF_RULES, False)},
        grafana=grafana,
        kube_state_metrics={
            "image": image(imgs["prometheus-ksm"], sha=False),
            # Its secrets collector needs list/watch on every Secret of the cluster (RBAC cannot grant
            # metadata only); no alert or dashboard of the estate uses kube_secret_*.
            "collectorsExclude": ["secrets"],
            # Each node's pool and zone as labels of kube_node_labels: a pool's maximum is per zone.
            "metricLabelsAllowlist": [f"nodes=[{POOL_LABEL},{ZONE_LABEL}]"],
            "resources": resources("100m", "256Mi", cpu_limit="500m"),
            "nodeSelector": dict(SYSTEM_NODES),
        },
        prometheus_operator={
            "image": image(imgs["prometheus-operator"]),
            "prometheusConfigReloader": {"image": image(imgs["prometheus-config-reloader"])},
            "admissionWebhooks": {
                "failurePolicy": "Fail",
                "patch": {"enabled": False},
                "certManager": {
                    "enabled": True,
                    "issuerRef": {"name": internal_issuer, "kind": "ClusterIssuer", "group": "cert-manager.io"},
                },
            },
            "resources": resources("100m", "256Mi", cpu_limit="500m"),
            "nodeSelector": dict(SYSTEM_NODES),
            "containerSecurityContext": dict(CONTAINER_SECURITY),
        },
        prometheus={
            "serviceAccount": {"name": PROMETHEUS_SERVICE_ACCOUNT},
            "podDisruptionBudget": {"enabled": prod},
            "prometheusSpec": {
                "image": image(imgs["prometheus"]),
                "replicas": p.replicas,
                "retention": f"{p.retention_days}d",
                # Leaves headroom on the volume: the TSDB's write-ahead log and compactions.
                "retentionSize": f"{int(p.storage_gb * 0.85)}GB",
                "storageSpec": _storage(p.storage_gb),
                # The collectors push metrics over OTLP to each replica (the observability issue).
                "enableOTLPReceiver": True,
                "tsdb": {"outOfOrderTimeWindow": "30m"},
                "resources": resources(p.cpu, p.memory),
                "nodeSelector": dict(SYSTEM_NODES),
                "podAntiAffinity": "hard" if prod else "soft",
                "topologySpreadConstraints": _spread(prod, "prometheus"),
                "ruleSelectorNilUsesHelmValues": False,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "probeSelectorNilUsesHelmValues": False,
                "scrapeConfigSelectorNilUsesHelmValues": False,
            },
        },
        alertmanager={
            "podDisruptionBudget": {"enabled": prod},
            "alertmanagerSpec": {
                "image": image(imgs["prometheus-alertmanager"]),
                "replicas": am.replicas,
                # The configuration and its credentials come from one Secret External Secrets writes.
                "useExistingSecret": True,
                "configSecret": CONFIG_SECRET,
                # AlertmanagerConfigs only from its own namespace: no namespace reroutes the pager.
                "alertmanagerConfigNamespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": cfg.namespace}},
                "storage": _storage(5),
                "resources": resources("100m", "256Mi"),
                "nodeSelector": dict(SYSTEM_NODES),
                "topologySpreadConstraints": _spread(prod, "alertmanager"),
                "automountServiceAccountToken": False,
            },
        },
    )

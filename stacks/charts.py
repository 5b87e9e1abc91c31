"""The charts the estate installs: repository and exact version, pinned in code.

A stack may override a pin under `ai-estate:charts` (version and/or repository), so an
upgrade reaches dev first and prod in a later change. Pure data; the platform layer installs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ChartPin:
    repository: str  # an HTTP(S) Helm repository, or "oci://host/path" the chart name is appended to
    chart: str
    version: str  # exact: an upgrade is a reviewed change
    # The container ports the chart's admission webhooks and aggregated API servers serve (after
    # the Service's port -> targetPort), as this estate's values configure them. The control plane
    # calls them on the nodes, and a private cluster's firewall admits only these from it
    # (components/cloud/control_plane.py); tests/test_webhook_ports.py compares them with the
    # rendered charts wherever the chart cache is filled.
    control_plane_ports: tuple[int, ...] = ()


# key -> pin (keyword form, which renovate.json reads to propose updates): the newest releases
# that `../shared/k8s-upstream/SOURCES.json` describes.
PINS: dict[str, ChartPin] = {
    "cert-manager": ChartPin(
        repository="https://charts.jetstack.io", chart="cert-manager", version="v1.21.1", control_plane_ports=(10250,)
    ),
    "external-secrets": ChartPin(
        repository="https://charts.external-secrets.io",
        chart="external-secrets",
        version="2.9.0",
        control_plane_ports=(10250,),
    ),
    "istio-base": ChartPin(
        repository="https://istio-release.storage.googleapis.com/charts",
        chart="base",
        version="1.30.3",
        control_plane_ports=(15017,),  # its default validator calls istiod
    ),
    "istiod": ChartPin(
        repository="https://istio-release.storage.googleapis.com/charts",
        chart="istiod",
        version="1.30.3",
        control_plane_ports=(15017,),
    ),
    "istio-cni": ChartPin(
        repository="https://istio-release.storage.googleapis.com/charts", chart="cni", version="1.30.3"
    ),
    "ztunnel": ChartPin(
        repository="https://istio-release.storage.googleapis.com/charts", chart="ztunnel", version="1.30.3"
    ),
    "istio-gateway": ChartPin(
        repository="https://istio-release.storage.googleapis.com/charts", chart="gateway", version="1.30.3"
    ),
    "policy-controller": ChartPin(
        repository="https://sigstore.github.io/helm-charts",
        chart="policy-controller",
        version="0.10.6",
        control_plane_ports=(8443,),
    ),
    # The data layer (components/data): no webhooks, no aggregated APIs.
    "strimzi-kafka-operator": ChartPin(
        repository="oci://quay.io/strimzi-helm", chart="strimzi-kafka-operator", version="1.2.0"
    ),
    "strimzi-access-operator": ChartPin(
        repository="oci://quay.io/strimzi-helm", chart="strimzi-access-operator", version="0.3.0"
    ),
    # Harbor 2.15.1; no webhooks.
    "harbor": ChartPin(repository="https://helm.goharbor.io", chart="harbor", version="1.19.1"),
    # The observability layer (components/observability): the operator serves its admission webhook
    # on 10250 (`prometheusOperator.tls.internalPort`).
    "kube-prometheus-stack": ChartPin(
        repository="https://prometheus-community.github.io/helm-charts",
        chart="kube-prometheus-stack",
        version="88.5.3",
        control_plane_ports=(10250,),
    ),
    # Logs, traces and their collectors (no webhooks).
    "loki": ChartPin(repository="https://grafana-community.github.io/helm-charts", chart="loki", version="18.11.0"),
    "tempo-distributed": ChartPin(
        repository="https://grafana-community.github.io/helm-charts", chart="tempo-distributed", version="2.26.2"
    ),
    "opentelemetry-collector": ChartPin(
        repository="https://open-telemetry.github.io/opentelemetry-helm-charts",
        chart="opentelemetry-collector",
        version="0.170.0",
    ),
    # KEDA, the platform's event-driven autoscaling (components/platform/keda.py): its metrics API
    # server (an aggregated API) serves on 6443, its admission webhooks on 9443.
    "keda": ChartPin(
        repository="https://kedacore.github.io/charts", chart="keda", version="2.20.2", control_plane_ports=(6443, 9443)
    ),
    # Flagger, the cells' releases (components/platform/flagger.py): no webhooks.
    "flagger": ChartPin(repository="https://flagger.app", chart="flagger", version="1.44.0"),
    # Windmill, the workflow platform (components/automation/windmill.py): no webhooks.
    "windmill": ChartPin(
        repository="https://windmill-labs.github.io/windmill-helm-charts", chart="windmill", version="4.0.246"
    ),
    # n8n's own chart (n8n-io/n8n-hosting), published as an OCI artifact (components/automation/n8n.py).
    "n8n": ChartPin(repository="oci://ghcr.io/n8n-io/n8n-helm-chart", chart="n8n", version="1.11.0"),
}

# Pins kept on an older major line on purpose, with why; the upgrade is a reviewed change of both.
HELD_BACK: dict[str, str] = {
    "tempo-distributed": "its 3.x line (Tempo 3) writes spans through Kafka, and Tempo 3.0 reaches Kafka only "
    "without TLS (its TLS settings are unreleased), while the estate's Kafka listener is mutual TLS only: "
    "the 2.x line (Tempo 2.10, ingesters) until a Tempo 3 release speaks TLS to Kafka",
}

# SemVer 2.0 with Helm's optional leading "v"; no ranges, wildcards or "latest".
EXACT_VERSION = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
REPOSITORY = re.compile(r"^(https://|oci://)[^\s]+$")


def resolve_pins(overrides: Mapping[str, Mapping[str, str | None]]) -> dict[str, ChartPin]:
    """The code's pins with a stack's overrides applied."""
    out = dict(PINS)
    for key, override in overrides.items():
        pin = out[key]
        out[key] = replace(
            pin,
            version=override.get("version") or pin.version,
            repository=override.get("repository") or pin.repository,
        )
    return out


# The images each pinned chart runs, at the tags its version uses (one line each, so an update
# bot can propose them); the Registry resolves every one to a digest in our pull-through caches.
# Overriding a chart's version in a stack means overriding these tags in `registry.images` too.
CHART_IMAGES: dict[str, dict[str, str]] = {
    "cert-manager-controller": {"image": "quay.io/jetstack/cert-manager-controller", "tag": "v1.21.1"},
    "cert-manager-webhook": {"image": "quay.io/jetstack/cert-manager-webhook", "tag": "v1.21.1"},
    "cert-manager-cainjector": {"image": "quay.io/jetstack/cert-manager-cainjector", "tag": "v1.21.1"},
    "cert-manager-acmesolver": {"image": "quay.io/jetstack/cert-manager-acmesolver", "tag": "v1.21.1"},
    "external-secrets": {"image": "ghcr.io/external-secrets/external-secrets", "tag": "v2.9.0"},
    "istio-pilot": {"image": "docker.io/istio/pilot", "tag": "1.30.3-distroless"},
    "istio-proxyv2": {"image": "docker.io/istio/proxyv2", "tag": "1.30.3-distroless"},
    "istio-install-cni": {"image": "docker.io/istio/install-cni", "tag": "1.30.3-distroless"},
    "istio-ztunnel": {"image": "docker.io/istio/ztunnel", "tag": "1.30.3-distroless"},
    "policy-controller": {"image": "ghcr.io/sigstore/policy-controller/policy-controller", "tag": "v0.13.1"},
    # One operator image runs the cluster operator, the entity operator and the broker init container.
    "strimzi-operator": {"image": "quay.io/strimzi/operator", "tag": "1.2.0"},
    "strimzi-kafka": {"image": "quay.io/strimzi/kafka", "tag": "1.2.0-kafka-4.3.1"},
    "strimzi-access-operator": {"image": "quay.io/strimzi/access-operator", "tag": "0.3.0"},
    # Harbor (chart 1.19.1): one release tag for all its images.
    "flagger": {"image": "ghcr.io/fluxcd/flagger", "tag": "1.44.0"},
    # KEDA (chart 2.20.2): one release tag for its three images.
    "keda": {"image": "ghcr.io/kedacore/keda", "tag": "2.20.2"},
    "keda-metrics-apiserver": {"image": "ghcr.io/kedacore/keda-metrics-apiserver", "tag": "2.20.2"},
    "keda-admission-webhooks": {"image": "ghcr.io/kedacore/keda-admission-webhooks", "tag": "2.20.2"},
    # Windmill (chart 4.0.246): its Community Edition image, one for the server and the workers.
    "windmill": {"image": "ghcr.io/windmill-labs/windmill", "tag": "1.794.0"},
    # n8n (chart 1.11.0, whose default tag is the moving `stable`): pinned, from Docker Hub.
    "n8n": {"image": "docker.io/n8nio/n8n", "tag": "2.29.1"},
    "harbor-core": {"image": "docker.io/goharbor/harbor-core", "tag": "v2.15.1"},
    "harbor-portal": {"image": "docker.io/goharbor/harbor-portal", "tag": "v2.15.1"},
    "harbor-jobservice": {"image": "docker.io/goharbor/harbor-jobservice", "tag": "v2.15.1"},
    "harbor-registry": {"image": "docker.io/goharbor/registry-photon", "tag": "v2.15.1"},
    "harbor-registryctl": {"image": "docker.io/goharbor/harbor-registryctl", "tag": "v2.15.1"},
    "harbor-trivy": {"image": "docker.io/goharbor/trivy-adapter-photon", "tag": "v2.15.1"},
    "harbor-exporter": {"image": "docker.io/goharbor/harbor-exporter", "tag": "v2.15.1"},
    "harbor-nginx": {"image": "docker.io/goharbor/nginx-photon", "tag": "v2.15.1"},
    "harbor-redis": {"image": "docker.io/goharbor/redis-photon", "tag": "v2.15.1"},
    # kube-prometheus-stack 88.5.3 (operator v0.93.1) and its kube-state-metrics subchart (8.4.0).
    "prometheus-operator": {"image": "quay.io/prometheus-operator/prometheus-operator", "tag": "v0.93.1"},
    "prometheus-config-reloader": {"image": "quay.io/prometheus-operator/prometheus-config-reloader", "tag": "v0.93.1"},
    "prometheus": {"image": "quay.io/prometheus/prometheus", "tag": "v3.14.0-distroless"},
    "prometheus-alertmanager": {"image": "quay.io/prometheus/alertmanager", "tag": "v0.34.0"},
    "prometheus-ksm": {"image": "registry.k8s.io/kube-state-metrics/kube-state-metrics", "tag": "v2.20.0"},
    "prometheus-node-exporter": {"image": "quay.io/prometheus/node-exporter", "tag": "v1.12.1-distroless"},
    # Its grafana subchart (12.11.1): Grafana and the sidecar that loads dashboards and datasources.
    "grafana": {"image": "docker.io/grafana/grafana", "tag": "13.2.0"},
    "grafana-sidecar": {"image": "quay.io/kiwigrid/k8s-sidecar", "tag": "2.10.1"},
    # loki 18.11.0 (Loki 3.7.6) and memcached for its caches and Tempo's; tempo-distributed 2.26.2
    # (Tempo 2.10.7).
    "loki": {"image": "docker.io/grafana/loki", "tag": "3.7.6"},
    "memcached": {"image": "docker.io/library/memcached", "tag": "1.6.45-alpine"},
    "tempo": {"image": "docker.io/grafana/tempo", "tag": "2.10.7"},
    # opentelemetry-collector 0.170.0: the Kubernetes distribution of the collector.
    "otel-collector": {"image": "docker.io/otel/opentelemetry-collector-k8s", "tag": "0.158.0"},
}


def control_plane_ports(pins: Mapping[str, ChartPin]) -> tuple[int, ...]:
    """Every port the control plane must reach on the nodes for these charts' webhooks and APIs."""
    return tuple(sorted({port for pin in pins.values() for port in pin.control_plane_ports}))


def chart_images(prefix: str) -> dict[str, dict[str, str]]:
    """The chart images whose key starts with `prefix` (one chart's, or one family's)."""
    return {k: v for k, v in CHART_IMAGES.items() if k.startswith(prefix)}

"""How the estate installs upstream software: a pinned Helm chart through `helm.v4.Chart`.

Chart v4 registers every rendered object as a child resource, so preview, CrossGuard and
destroy all see them. Pins are exact versions from the charts' own repositories; a stack can
override one under `ai-estate:charts` so an upgrade reaches dev before prod.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import pulumi
import pulumi_kubernetes as k8s

from components.platform.values.base import Values


@dataclass(frozen=True)
class ChartPin:
    repository: str  # an HTTP(S) Helm repository, or "oci://host/path" with the chart name appended
    chart: str
    version: str  # exact: an upgrade is a reviewed change


JETSTACK = "https://charts.jetstack.io"
EXTERNAL_SECRETS = "https://charts.external-secrets.io"
ISTIO = "https://istio-release.storage.googleapis.com/charts"
SIGSTORE = "https://sigstore.github.io/helm-charts"

# key -> pin. The newest releases `../shared/k8s-upstream/SOURCES.json` describes.
PINS: dict[str, ChartPin] = {
    "cert-manager": ChartPin(JETSTACK, "cert-manager", "v1.21.1"),
    "external-secrets": ChartPin(EXTERNAL_SECRETS, "external-secrets", "2.9.0"),
    "istio-base": ChartPin(ISTIO, "base", "1.30.3"),
    "istiod": ChartPin(ISTIO, "istiod", "1.30.3"),
    "istio-cni": ChartPin(ISTIO, "cni", "1.30.3"),
    "ztunnel": ChartPin(ISTIO, "ztunnel", "1.30.3"),
    "istio-gateway": ChartPin(ISTIO, "gateway", "1.30.3"),
    "policy-controller": ChartPin(SIGSTORE, "policy-controller", "0.10.6"),
}


def resolve_pins(overrides: Mapping[str, Mapping[str, str | None]]) -> dict[str, ChartPin]:
    """The code's pins with a stack's `ai-estate:charts` overrides (version and/or repository) applied."""
    out = dict(PINS)
    for key, override in overrides.items():
        pin = out[key]
        out[key] = replace(
            pin, version=override.get("version") or pin.version, repository=override.get("repository") or pin.repository
        )
    return out


@dataclass(frozen=True)
class Release:
    """One chart installation: which pin, where, with which typed values."""

    pin: ChartPin
    namespace: str
    values: Values
    release_name: str | None = None  # Helm's release name; the chart key when absent
    skip_crds: bool = False


def install(
    parent: pulumi.Resource,
    name: str,
    release: Release,
    *,
    provider: pulumi.ProviderResource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.helm.v4.Chart:
    """A `helm.v4.Chart` child of `parent`, from the pinned repository, with values known at preview."""
    pin = release.pin
    oci = pin.repository.startswith("oci://")
    return k8s.helm.v4.Chart(
        name,
        k8s.helm.v4.ChartArgs(
            chart=f"{pin.repository.rstrip('/')}/{pin.chart}" if oci else pin.chart,
            version=pin.version,
            repository_opts=None if oci else k8s.helm.v4.RepositoryOptsArgs(repo=pin.repository),
            name=release.release_name or pin.chart,
            namespace=release.namespace,
            values=release.values.dump(),
            skip_crds=release.skip_crds,
        ),
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on)),
    )

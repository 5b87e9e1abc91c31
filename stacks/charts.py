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


JETSTACK = "https://charts.jetstack.io"
EXTERNAL_SECRETS = "https://charts.external-secrets.io"
ISTIO = "https://istio-release.storage.googleapis.com/charts"
SIGSTORE = "https://sigstore.github.io/helm-charts"

# key -> pin: the newest releases `../shared/k8s-upstream/SOURCES.json` describes.
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

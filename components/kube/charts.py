"""How every layer installs upstream software: a pinned Helm chart through `helm.v4.Chart`.

Chart v4 registers every rendered object as a child resource, so preview, CrossGuard and
destroy all see them. Pins are exact versions from the charts' own repositories; a stack can
override one under `ai-estate:charts` so an upgrade reaches dev before prod.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kube.values import Values
from components.kube.webhooks import await_ca_bundle
from stacks.charts import PINS, ChartPin, resolve_pins

__all__ = ["PINS", "ChartPin", "Release", "install", "resolve_pins"]


@dataclass(frozen=True)
class Release:
    """One chart installation: which pin, where, with which typed values."""

    pin: ChartPin
    namespace: str
    values: Values
    release_name: str | None = None  # Helm's release name; the chart key when absent
    skip_crds: bool = False
    # Wait for each webhook configuration's injected CA (components.kube.webhooks). Off only where
    # the CA comes from a later chart (that chart's own wait then covers it): say why.
    await_webhook_ca: bool = True
    # Further transforms on the rendered children (components.kube.transforms), each a module-level
    # function the plan can record by name.
    transforms: tuple[Callable[[pulumi.ResourceTransformArgs], pulumi.ResourceTransformResult | None], ...] = ()


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
        opts=pulumi.ResourceOptions(
            parent=parent,
            provider=provider,
            depends_on=list(depends_on),
            transforms=[*([await_ca_bundle] if release.await_webhook_ca else []), *release.transforms] or None,
        ),
    )

"""The observability layer: metrics, alert rules and paging, on the cluster and mesh the layers
below built."""

from components.observability.build import ObservabilityLayer, build_observability

__all__ = ["ObservabilityLayer", "build_observability"]

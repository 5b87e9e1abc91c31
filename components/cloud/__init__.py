"""The Google Cloud layer: APIs, keys, network, registry, cluster and pools, storage, identities,
database and cache, and the Kubernetes provider for the layers above."""

from components.cloud.build import CloudLayer, build_cloud

__all__ = ["CloudLayer", "build_cloud"]

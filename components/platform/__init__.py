"""The Kubernetes platform layer: namespaces, secrets sync, certificates, the mesh, signature
verification, backups, and the database schema, on the cluster the cloud layer built."""

from components.platform.build import PlatformLayer, build_platform

__all__ = ["PlatformLayer", "build_platform"]

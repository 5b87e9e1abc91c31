"""The Kubernetes platform layer: namespaces, secrets sync, certificates, the mesh, signature
verification, backups, and the database schema, on the cluster the cloud layer built."""

from components.platform.admission import WEBHOOK_KEY_ROLES as KEY_VERIFIER_ROLES
from components.platform.build import PlatformLayer, build_platform

__all__ = ["KEY_VERIFIER_ROLES", "PlatformLayer", "build_platform"]

"""The ai-estate policies, by area. `ALL_POLICIES` is what the pack serves."""

from estate_policies import data, gke, images, tls, workloads

ALL_POLICIES = [*workloads.POLICIES, *images.POLICIES, *tls.POLICIES, *gke.POLICIES, *data.POLICIES]

__all__ = ["ALL_POLICIES"]

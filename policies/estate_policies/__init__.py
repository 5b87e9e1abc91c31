"""The ai-estate policies, by area. `ALL_POLICIES` is what the pack serves."""

from estate_policies import (
    admission,
    charts,
    data,
    gateway_api,
    gke,
    images,
    mesh,
    network,
    rbac,
    secrets,
    tls,
    workloads,
)

ALL_POLICIES = [
    *workloads.POLICIES,
    *admission.POLICIES,
    *images.POLICIES,
    *mesh.POLICIES,
    *tls.POLICIES,
    *gateway_api.POLICIES,
    *network.POLICIES,
    *rbac.POLICIES,
    *secrets.POLICIES,
    *charts.POLICIES,
    *gke.POLICIES,
    *data.POLICIES,
]

__all__ = ["ALL_POLICIES"]

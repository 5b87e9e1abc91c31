"""Names several layers derive from the config: pure functions, so no layer imports another's
internals to know them."""

from __future__ import annotations

from collections.abc import Sequence


def cluster_name(prefix: str) -> str:
    return f"{prefix}-gke"


def cluster_location(region: str, regional: bool, zones: Sequence[str]) -> str:
    """A regional cluster lives in the region; a zonal one in its single zone."""
    return region if regional else zones[0]


def bucket_name(project: str, key: str) -> str:
    """A storage.buckets entry's bucket: prefixed with the project, bucket names being global."""
    return f"{project}-{key}"


def workload_account_id(environment: str, key: str) -> str:
    """The Google service account id of `identity.workloads.<key>` (Workload Identity's target),
    known from config so chart values can name it during preview."""
    return f"{environment}-wl-{key}"

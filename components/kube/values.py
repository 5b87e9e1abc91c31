"""What every chart's values model shares: strict models, pinned images, hardening blocks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Values(BaseModel):
    """A chart values model: camelCase keys, unknown keys refused, Outputs allowed (image digests)."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True, arbitrary_types_allowed=True
    )

    def dump(self) -> dict[str, Any]:
        """The values as the Chart takes them: aliases, unset fields left to the chart's defaults."""
        return self.model_dump(by_alias=True, exclude_none=True)


class Toggle(Values):
    """A chart feature the estate turns off (it does the thing itself, or not at all)."""

    enabled: bool = False


class Account(Values):
    """The chart's service account, which the program makes instead (bound to a Google account)."""

    create: bool = False
    name: str


@dataclass(frozen=True)
class PinnedImage:
    """An image in our registry by digest. The repository is known from config; the digest comes
    from the registry lookup (an invoke, so it is known during preview too)."""

    repository: str
    digest: pulumi.Input[str]
    tag: str

    @property
    def ref(self) -> pulumi.Output[str]:
        return pulumi.Output.concat(self.repository, "@", self.digest)


Images = Mapping[str, PinnedImage]


def tag_at_digest(pinned: PinnedImage) -> str | pulumi.Output[str]:
    """`<tag>@<digest>`: for charts that print `<repository>:<tag>` and have no digest key, an image
    reference the runtime pulls by digest."""
    digest = pinned.digest
    return f"{pinned.tag}@{digest}" if isinstance(digest, str) else pulumi.Output.concat(pinned.tag, "@", digest)


def image_parts(pinned: PinnedImage) -> dict[str, Any]:
    """`registry`, `repository` (our cache's path split at the host), `tag` and the whole `digest`
    (`sha256:...`): the keys most charts compose an image reference from."""
    registry, _, repository = pinned.repository.partition("/")
    return {"registry": registry, "repository": repository, "tag": pinned.tag, "digest": pinned.digest}


@dataclass(frozen=True)
class ChartContext:
    """What value builders may read: plain data from the validated config, never resource outputs
    (an unknown input makes Chart v4 register no children during preview)."""

    environment: str
    project: str
    region: str
    cluster_name: str
    cluster_location: str
    images: Images

    @property
    def prod(self) -> bool:
        return self.environment == "prod"

    def gsa_email(self, account_id: str) -> str:
        """A Google service account's email, derived from its id instead of read from the resource."""
        return f"{account_id}@{self.project}.iam.gserviceaccount.com"


# Hardening every chart container gets where the chart lets us set it (Pod Security "restricted").
CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
POD_SECURITY: dict[str, Any] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def resources(
    cpu: str, memory: str, *, cpu_limit: str | None = None, memory_limit: str | None = None
) -> dict[str, Any]:
    """Requests and limits; limits default to the requests (Guaranteed memory, no noisy neighbours)."""
    return {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu_limit or cpu, "memory": memory_limit or memory},
    }


def zone_spread(labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """Spread replicas over zones (and nodes) so one zone's loss leaves the controller running."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "DoNotSchedule" if key == "topology.kubernetes.io/zone" else "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(labels)},
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


SYSTEM_NODES = {"workload-class": "system"}
SSD_STORAGE_CLASS = "premium-rwo"  # GKE's pd-ssd class (Persistent Disk CSI), volume expansion on

"""Cloud Quotas preferences for the GPUs the node pools need (sized in stacks.quota).

A preference is a request: `up` files it and moves on, and pools scale once Google grants
it (the granted value is in the preference's state). The API has no delete, so destroy
leaves the preference (and any granted quota) in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.common import child
from stacks.quota import QUOTA_SERVICE, QuotaRequest

cq = gcp.cloudquota


@dataclass(frozen=True)
class GpuQuotaArgs:
    project: str
    requests: Sequence[QuotaRequest]
    contact_email: str | None
    depends_on: Sequence[pulumi.Resource] = field(default=())


class GpuQuota(pulumi.ComponentResource):
    preferences: dict[str, cq.SQuotaPreference]

    def __init__(self, name: str, args: GpuQuotaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:project:GpuQuota", name, None, opts)
        self.preferences = {}
        for req in args.requests:
            key = req.quota_id.lower() + (f"-{req.region}" if req.region else "")
            self.preferences[key] = cq.SQuotaPreference(
                f"{name}-{key}",
                cq.SQuotaPreferenceArgs(
                    parent=f"projects/{args.project}",
                    service=QUOTA_SERVICE,
                    quota_id=req.quota_id,
                    dimensions={"region": req.region} if req.region else None,
                    quota_config=cq.SQuotaPreferenceQuotaConfigArgs(preferred_value=str(req.value)),
                    contact_email=args.contact_email,
                    justification="GKE GPU node pools of the ai-estate platform: sized from the pools' maxima",
                ),
                opts=child(self, depends_on=args.depends_on),
            )
        self.register_outputs({})

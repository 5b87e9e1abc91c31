"""A bounded wait after an IAM grant, for the services known to check it before it propagates.

Google documents that IAM changes usually take effect within a minute and may take up to
seven. Cloud SQL, Memorystore, GKE and Backup for GKE check their service agent's use of the
CMEK key once, at creation, and fail rather than retry. The wait is the ecosystem's time
provider (`pulumiverse-time` `Sleep`, Terraform's `time_sleep`): it waits when created and
again when what it follows changes (its `triggers`), never on a plain `up` or at destroy.

A provider plugin rather than a dynamic resource: a dynamic provider is pickled by reference to
its module, so moving the module breaks `diff` and `delete` of the ones already in state
(pulumi/pulumi#7453).
"""

from __future__ import annotations

import pulumi
import pulumiverse_time as time

IAM_PROPAGATION_SECONDS = 90
SLEEP_TYPE = "time:index/sleep:Sleep"


def pause(name: str, after: pulumi.Input[str], seconds: int, opts: pulumi.ResourceOptions) -> time.Sleep:
    """Waits `seconds` once `after` (an id of what it follows) is known, and again when it changes."""
    return time.Sleep(name, time.SleepArgs(create_duration=f"{seconds}s", triggers={"after": after}), opts=opts)

"""Buckets from the config map: private, versioned, CMEK, access-logged, lifecycle-managed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.common import child
from stacks.model import Bucket
from stacks.naming import bucket_name

st = gcp.storage
SOFT_DELETE_SECONDS = 7 * 24 * 3600
# Cloud Storage writes usage logs as this group; with uniform access it needs objectCreator.
ANALYTICS_WRITER = "group:cloud-storage-analytics@google.com"


def lifecycle_rules(bucket: Bucket) -> list[st.BucketLifecycleRuleArgs]:
    lc = bucket.lifecycle
    rules = [
        st.BucketLifecycleRuleArgs(
            action=st.BucketLifecycleRuleActionArgs(type="Delete"),
            condition=st.BucketLifecycleRuleConditionArgs(
                num_newer_versions=lc.noncurrent_versions_kept, with_state="ARCHIVED"
            ),
        ),
        st.BucketLifecycleRuleArgs(
            action=st.BucketLifecycleRuleActionArgs(type="Delete"),
            condition=st.BucketLifecycleRuleConditionArgs(days_since_noncurrent_time=lc.noncurrent_delete_after_days),
        ),
        st.BucketLifecycleRuleArgs(
            action=st.BucketLifecycleRuleActionArgs(type="AbortIncompleteMultipartUpload"),
            condition=st.BucketLifecycleRuleConditionArgs(age=7),
        ),
    ]
    for days, target in ((lc.nearline_after_days, "NEARLINE"), (lc.coldline_after_days, "COLDLINE")):
        if days is not None:
            rules.append(
                st.BucketLifecycleRuleArgs(
                    action=st.BucketLifecycleRuleActionArgs(type="SetStorageClass", storage_class=target),
                    condition=st.BucketLifecycleRuleConditionArgs(age=days, with_state="LIVE"),
                )
            )
    if lc.delete_after_days is not None:
        rules.append(
            st.BucketLifecycleRuleArgs(
                action=st.BucketLifecycleRuleActionArgs(type="Delete"),
                condition=st.BucketLifecycleRuleConditionArgs(age=lc.delete_after_days, with_state="LIVE"),
            )
        )
    return rules


@dataclass(frozen=True)
class BucketsArgs:
    project: str
    location: str
    buckets: Mapping[str, Bucket]
    access_log_bucket: str
    kms_key_id: pulumi.Input[str]
    labels: dict[str, str]
    protect: bool
    # Outside prod only (a config rule refuses it in prod): destroy empties versioned buckets.
    force_destroy: bool = False
    depends_on: Sequence[pulumi.Resource] = field(default=())


class Buckets(pulumi.ComponentResource):
    names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: BucketsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:storage:Buckets", name, None, opts)
        # The log sink first: every other bucket names it.
        order = [args.access_log_bucket, *sorted(b for b in args.buckets if b != args.access_log_bucket)]
        created: dict[str, st.Bucket] = {}
        for key in order:
            spec = args.buckets[key]
            logging = (
                None
                if key == args.access_log_bucket
                else st.BucketLoggingArgs(log_bucket=created[args.access_log_bucket].name, log_object_prefix=f"{key}/")
            )
            created[key] = st.Bucket(
                f"{name}-{key}",
                st.BucketArgs(
                    name=bucket_name(args.project, key),
                    location=args.location,
                    storage_class=spec.storage_class,
                    uniform_bucket_level_access=True,
                    public_access_prevention="enforced",
                    versioning=st.BucketVersioningArgs(enabled=True),
                    lifecycle_rules=lifecycle_rules(spec),
                    encryption=st.BucketEncryptionArgs(default_kms_key_name=args.kms_key_id),
                    soft_delete_policy=st.BucketSoftDeletePolicyArgs(retention_duration_seconds=SOFT_DELETE_SECONDS),
                    retention_policy=st.BucketRetentionPolicyArgs(retention_period=str(spec.retention_days * 86400))
                    if spec.retention_days
                    else None,
                    logging=logging,
                    force_destroy=args.force_destroy,
                    labels={**args.labels, "bucket": key},
                ),
                opts=child(self, depends_on=args.depends_on, protect=args.protect),
            )
        st.BucketIAMMember(
            f"{name}-{args.access_log_bucket}-analytics-writer",
            st.BucketIAMMemberArgs(
                bucket=created[args.access_log_bucket].name, role="roles/storage.objectCreator", member=ANALYTICS_WRITER
            ),
            opts=child(self, depends_on=args.depends_on),
        )
        self.names = {key: bucket.name for key, bucket in created.items()}
        self.register_outputs({"names": self.names})

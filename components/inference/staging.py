"""Staging: a model's weights (or a LoRA adapter's) copied from the Hugging Face Hub at an exact
commit into the `models` bucket, by a Job that writes through the Cloud Storage FUSE CSI driver.

The Job is named after the revision: a Job's pod template cannot change, so a new revision is a new
Job (Pulumi replaces it), and an unchanged one is left alone on every `up` — staging runs again only
when the revision changes. Pulumi waits for the Job to complete before the server that reads the
weights is created. The download skips files already there, so a retried Job resumes.

It runs the vLLM image (Python and `huggingface_hub` are in it), on the server's own pool: the node a
cold server needs anyway, which then has that image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.common import K8S_LABELS, child
from components.inference.gpu_pods import HOME, POOL_LABEL, UID, bucket_volume, fuse_annotations, gpu_tolerations
from components.kube.pods import PodArgs, container_security, pod_spec, resources
from stacks import secret_keys as keys
from stacks import serving
from stacks.config_inference import ServerConfig
from stacks.model import Taint

core, batch, meta = k8s.core.v1, k8s.batch.v1, k8s.meta.v1

TARGET = "/staged"
STAGING_LABEL = "estate.io/staging"
# snapshot_download's signature is the same across huggingface_hub 0.x and 1.x; `allow_patterns`
# keeps a GGUF repository's other quantisations out.
SCRIPT = """
import os
from huggingface_hub import snapshot_download
path = snapshot_download(
    repo_id=os.environ["REPOSITORY"],
    revision=os.environ["REVISION"],
    local_dir=os.environ["TARGET"],
    allow_patterns=[os.environ["FILE"]] if os.environ.get("FILE") else None,
    token=os.environ.get("HF_TOKEN") or None,
)
print("staged", os.environ["REPOSITORY"], "at", os.environ["REVISION"], "into", path, flush=True)
""".strip()


@dataclass(frozen=True)
class Staged:
    """One thing to stage: where from (repository, revision, optional file), where to (bucket prefix)."""

    job: str
    repository: str
    revision: str
    prefix: str
    size_gb: float
    file: str | None = None
    gated: bool = False


@dataclass(frozen=True)
class StagingArgs:
    server: str
    items: Sequence[Staged]
    namespace: str
    image: pulumi.Input[str]  # vLLM's, by digest
    service_account: str  # identity.workloads.model-staging: writes the bucket
    bucket: pulumi.Input[str]
    pool: str
    taints: Mapping[str, Taint]
    provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource]


def staging_jobs(parent: pulumi.Resource, name: str, args: StagingArgs) -> list[batch.Job]:
    """The Jobs that stage a server's weights, children of the server's component (which waits for them)."""
    jobs = []
    for item in args.items:
        labels = {**K8S_LABELS, "app.kubernetes.io/name": "model-staging", STAGING_LABEL: args.server}
        env = {
            "REPOSITORY": item.repository,
            "REVISION": item.revision,
            "TARGET": TARGET,
            "HOME": HOME,
            "USER": "staging",
            "HF_HOME": f"{HOME}/.cache/huggingface",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            **({"FILE": item.file} if item.file else {}),
        }
        env_args = [core.EnvVarArgs(name=k, value=v) for k, v in sorted(env.items())]
        if item.gated:
            env_args.append(
                core.EnvVarArgs(
                    name="HF_TOKEN",
                    value_from=core.EnvVarSourceArgs(
                        secret_key_ref=core.SecretKeySelectorArgs(name=keys.HF_TOKEN, key=keys.SECRET_VALUE_KEY)
                    ),
                )
            )
        container = core.ContainerArgs(
            name="stage",
            image=args.image,
            command=["python3", "-c", SCRIPT],
            env=env_args,
            volume_mounts=[
                core.VolumeMountArgs(name="bucket", mount_path=TARGET),
                core.VolumeMountArgs(name="home", mount_path=HOME),
                core.VolumeMountArgs(name="tmp", mount_path="/tmp"),
            ],
            security_context=container_security(UID),
            resources=resources("1", "2Gi"),
        )
        pod = PodArgs(
            containers=[container],
            service_account=args.service_account,
            fs_group=UID,
            volumes=[
                bucket_volume("bucket", args.bucket, serving.mount_options(item.prefix, UID, UID), read_only=False),
                core.VolumeArgs(name="home", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="2Gi")),
                core.VolumeArgs(name="tmp", empty_dir=core.EmptyDirVolumeSourceArgs(size_limit="2Gi")),
            ],
            node_selector={POOL_LABEL: args.pool},
            tolerations=gpu_tolerations(args.taints),
            restart_policy="Never",
        )
        # The FUSE sidecar uploads what the Job writes: its own temp space holds a file until it
        # is closed, so it gets room for the largest file staged (the whole model, at most).
        storage = serving.gib(int((item.size_gb + 1) * 1e9))
        job = batch.Job(
            f"{name}-{item.job}",
            batch.JobInitArgs(
                metadata=meta.ObjectMetaArgs(name=item.job, namespace=args.namespace, labels=labels),
                spec=batch.JobSpecArgs(
                    backoff_limit=4,
                    # A download that has not finished in 3 hours is stuck (a 15 GB model takes minutes).
                    active_deadline_seconds=3 * 3600,
                    template=core.PodTemplateSpecArgs(
                        metadata=meta.ObjectMetaArgs(
                            labels=labels, annotations=fuse_annotations("250m", "1", "1Gi", storage)
                        ),
                        spec=pod_spec(pod),
                    ),
                ),
            ),
            opts=child(
                parent,
                provider=args.provider,
                depends_on=list(args.depends_on),
                custom_timeouts=pulumi.CustomTimeouts(create="3h", update="3h"),
            ),
        )
        jobs.append(job)
    return jobs


def staged(server: str, config: ServerConfig) -> list[Staged]:
    """What a server needs in the bucket: its model, and each adapter."""
    model = config.model
    out = [
        Staged(
            job=serving.stage_name(server, model),
            repository=model.repository,
            revision=model.revision,
            prefix=serving.model_prefix(model),
            size_gb=model.size_gb,
            file=model.file,
            gated=model.gated,
        )
    ]
    for adapter, spec in sorted(config.adapters.items()):
        out.append(
            Staged(
                job=serving.stage_name(server, spec, f"lora-{adapter}"),
                repository=spec.repository,
                revision=spec.revision,
                prefix=serving.model_prefix(spec, "adapters"),
                size_gb=spec.size_gb,
            )
        )
    return out

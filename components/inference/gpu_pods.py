"""What the model servers' pods and their staging Jobs' pods share: the user they run as, the
Cloud Storage FUSE volume and its sidecar's annotations, and the GPU pools' tolerations."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from stacks.model import Taint

core = k8s.core.v1

UID = 2000  # vLLM's image's `vllm` user; llama.cpp's server runs as any user
GPU = "nvidia.com/gpu"
GCSFUSE = "gcsfuse.csi.storage.gke.io"
# A volume of this name is the FUSE sidecar's file cache instead of its default on the node's disk.
FUSE_CACHE = "gke-gcsfuse-cache"
HOME = "/home/server"
POOL_LABEL = "estate.io/pool"  # components.cloud.nodepools: each node's pool


def fuse_annotations(cpu_request: str, cpu_limit: str, memory: str, storage: str) -> dict[str, str]:
    """The FUSE sidecar's injection and resources (GKE reads them from the pod's annotations)."""
    return {
        "gke-gcsfuse/volumes": "true",
        "gke-gcsfuse/cpu-request": cpu_request,
        "gke-gcsfuse/cpu-limit": cpu_limit,
        "gke-gcsfuse/memory-request": memory,
        "gke-gcsfuse/memory-limit": memory,
        "gke-gcsfuse/ephemeral-storage-request": storage,
        "gke-gcsfuse/ephemeral-storage-limit": storage,
    }


def bucket_volume(name: str, bucket: pulumi.Input[str], options: str, *, read_only: bool) -> core.VolumeArgs:
    return core.VolumeArgs(
        name=name,
        csi=core.CSIVolumeSourceArgs(
            driver=GCSFUSE,
            read_only=read_only,
            volume_attributes={
                "bucketName": bucket,
                "mountOptions": options,
                # The pod's identity may list objects, not read the bucket's metadata; and the
                # check spends Security Token Service quota on every mount.
                "skipCSIBucketAccessCheck": "true",
                **({"gcsfuseMetadataPrefetchOnMount": "true"} if read_only else {}),
            },
        ),
    )


def memory_dir(name: str, size: str) -> core.VolumeArgs:
    return core.VolumeArgs(name=name, empty_dir=core.EmptyDirVolumeSourceArgs(medium="Memory", size_limit=size))


def gpu_tolerations(taints: Mapping[str, Taint]) -> list[core.TolerationArgs]:
    """GKE's own GPU taint, and the pool's taints."""
    out = [core.TolerationArgs(key=GPU, operator="Exists", effect="NoSchedule")]
    out += [
        core.TolerationArgs(key=k, operator="Equal", value=t.value, effect=t.effect) for k, t in sorted(taints.items())
    ]
    return out

"""The Kubernetes API credentials a controller needs, mounted explicitly instead of automounted.

Controllers (cert-manager, External Secrets) call the API server, so they need a token. The
estate turns `automountServiceAccountToken` off everywhere and projects the same three files the
kubelet would (token, cluster CA, namespace) where a container really needs them: the mount is
visible in the pod spec, bounded to one hour and rotated by the kubelet, and client-go's in-cluster
config reads it from the usual path. It grants exactly what automounting grants, no more and no
less: the point is that API access is declared per container instead of being everyone's default.
"""

from __future__ import annotations

from typing import Any

import pulumi_kubernetes as k8s

VOLUME = "kube-api-access"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
EXPIRATION_SECONDS = 3607  # what the kubelet itself uses for automounted tokens


def volume() -> dict[str, Any]:
    return {
        "name": VOLUME,
        "projected": {
            "defaultMode": 0o444,
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": EXPIRATION_SECONDS}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}
                        ]
                    }
                },
            ],
        },
    }


def mount() -> dict[str, Any]:
    return {"name": VOLUME, "mountPath": MOUNT_PATH, "readOnly": True}


def volume_args() -> k8s.core.v1.VolumeArgs:
    """`volume()` as the provider's typed args, for pods the program writes itself."""
    core = k8s.core.v1
    return core.VolumeArgs(
        name=VOLUME,
        projected=core.ProjectedVolumeSourceArgs(
            default_mode=0o444,
            sources=[
                core.VolumeProjectionArgs(
                    service_account_token=core.ServiceAccountTokenProjectionArgs(
                        path="token", expiration_seconds=EXPIRATION_SECONDS
                    )
                ),
                core.VolumeProjectionArgs(
                    config_map=core.ConfigMapProjectionArgs(
                        name="kube-root-ca.crt", items=[core.KeyToPathArgs(key="ca.crt", path="ca.crt")]
                    )
                ),
                core.VolumeProjectionArgs(
                    downward_api=core.DownwardAPIProjectionArgs(
                        items=[
                            core.DownwardAPIVolumeFileArgs(
                                path="namespace",
                                field_ref=core.ObjectFieldSelectorArgs(
                                    api_version="v1", field_path="metadata.namespace"
                                ),
                            )
                        ]
                    )
                ),
            ],
        ),
    )


def mount_args() -> k8s.core.v1.VolumeMountArgs:
    return k8s.core.v1.VolumeMountArgs(name=VOLUME, mount_path=MOUNT_PATH, read_only=True)

"""What the automation platforms' pods share to reach their databases: the Cloud SQL Auth Proxy as a
native sidecar in their charts' values, and the ConfigMap it reads the instance's name from. The
name is a resource output; the values stay known at preview, the ConfigMap carries it."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.common import K8S_LABELS
from components.kube.values import CONTAINER_SECURITY, PinnedImage
from components.kube.values import resources as limits

INSTANCE_CONFIGMAP = "cloud-sql-instance"  # key `connection-name`
PROXY_PORT = 5432  # where the platforms connect, on localhost
HEALTH_PORT = 9090
PROXY_UID = 65532  # distroless "nonroot" in the proxy's image


def proxy_sidecar(image: PinnedImage) -> dict[str, Any]:
    """The proxy as a native sidecar (chart values): private IP, the instance from the ConfigMap
    (`CSQL_PROXY_INSTANCE_CONNECTION_NAME`), its health on its own port."""
    health = {"path": "/", "port": HEALTH_PORT}
    return {
        "name": "cloud-sql-proxy",
        "image": image.ref,
        "restartPolicy": "Always",
        "args": [
            "--private-ip",
            "--structured-logs",
            "--health-check",
            "--http-address=0.0.0.0",
            f"--http-port={HEALTH_PORT}",
            f"--port={PROXY_PORT}",
        ],
        "env": [
            {
                "name": "CSQL_PROXY_INSTANCE_CONNECTION_NAME",
                "valueFrom": {"configMapKeyRef": {"name": INSTANCE_CONFIGMAP, "key": "connection-name"}},
            }
        ],
        "startupProbe": {"httpGet": {**health, "path": "/startup"}, "periodSeconds": 2, "failureThreshold": 60},
        "livenessProbe": {"httpGet": {**health, "path": "/liveness"}, "periodSeconds": 10},
        "readinessProbe": {"httpGet": {**health, "path": "/readiness"}, "periodSeconds": 5},
        "securityContext": {**CONTAINER_SECURITY, "runAsUser": PROXY_UID, "runAsGroup": PROXY_UID},
        "resources": limits("100m", "128Mi", cpu_limit="500m"),
    }


def instance_configmap(namespace: str, connection_name: pulumi.Input[str]) -> k8s.core.v1.ConfigMapInitArgs:
    return k8s.core.v1.ConfigMapInitArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(name=INSTANCE_CONFIGMAP, namespace=namespace, labels=K8S_LABELS),
        data={"connection-name": connection_name},
    )

"""The hardened pod builder every workload the program writes itself uses (jobs, proxies, cells):
the security context is written once, here, and passes Pod Security "restricted" and the pack.

Charts get the same settings through their values (components.kube.values); these are the
provider's typed args for the objects the program renders itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

core = k8s.core.v1

PROXY_UID = 65532  # distroless "nonroot" in the Cloud SQL Auth Proxy image
PROXY_HEALTH_PORT = 9090
SYSTEM_NODES = {"workload-class": "system"}


def container_security(uid: int) -> core.SecurityContextArgs:
    """Non-root as `uid`, no privilege escalation, no capabilities, read-only root, RuntimeDefault."""
    return core.SecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        allow_privilege_escalation=False,
        privileged=False,
        read_only_root_filesystem=True,
        capabilities=core.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
    )


def pod_security(fs_group: int) -> core.PodSecurityContextArgs:
    return core.PodSecurityContextArgs(
        run_as_non_root=True,
        fs_group=fs_group,
        seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
    )


def resources(cpu: str, memory: str) -> core.ResourceRequirementsArgs:
    """Requests = limits: the pod is Guaranteed and never throttled into an eviction surprise."""
    return core.ResourceRequirementsArgs(requests={"cpu": cpu, "memory": memory}, limits={"cpu": cpu, "memory": memory})


def scratch(name: str = "tmp", size: str = "16Mi") -> core.VolumeArgs:
    """A small memory-backed scratch directory for a read-only root filesystem."""
    return core.VolumeArgs(name=name, empty_dir=core.EmptyDirVolumeSourceArgs(medium="Memory", size_limit=size))


def cloud_sql_proxy(
    image: pulumi.Input[str],
    connection_name: pulumi.Input[str],
    *,
    port: int = 5432,
    listen_all: bool = False,
    sidecar: bool = False,
    extra_args: Sequence[str] = (),
    cpu: str = "250m",
    memory: str = "256Mi",
) -> core.ContainerArgs:
    """The Cloud SQL Auth Proxy: mTLS and IAM authorization to the instance's private IP. Clients
    reach it in plain text (`sslmode=disable`): locally as a native sidecar, or over the mesh when
    it runs as its own Deployment (`listen_all`)."""
    args = [
        "--private-ip",
        "--structured-logs",
        "--health-check",
        "--http-address=0.0.0.0",
        f"--http-port={PROXY_HEALTH_PORT}",
        f"--port={port}",
        # A shared proxy (its own Deployment) also serves its connection metrics on /metrics.
        *(["--address=0.0.0.0", "--prometheus"] if listen_all else []),
        *extra_args,
        connection_name,
    ]
    ports = [core.ContainerPortArgs(name="health", container_port=PROXY_HEALTH_PORT)]
    if listen_all:
        ports.append(core.ContainerPortArgs(name="postgres", container_port=port))
    return core.ContainerArgs(
        name="cloud-sql-proxy",
        image=image,
        # A native sidecar starts first and ends when the pod's main container ends.
        restart_policy="Always" if sidecar else None,
        args=args,
        ports=ports,
        startup_probe=core.ProbeArgs(
            http_get=core.HTTPGetActionArgs(path="/startup", port=PROXY_HEALTH_PORT),
            period_seconds=2,
            failure_threshold=60,
        ),
        liveness_probe=core.ProbeArgs(
            http_get=core.HTTPGetActionArgs(path="/liveness", port=PROXY_HEALTH_PORT), period_seconds=10
        ),
        readiness_probe=core.ProbeArgs(
            http_get=core.HTTPGetActionArgs(path="/readiness", port=PROXY_HEALTH_PORT), period_seconds=5
        ),
        security_context=container_security(PROXY_UID),
        resources=resources(cpu, memory),
    )

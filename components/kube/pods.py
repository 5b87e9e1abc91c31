"""The hardened pod builder every workload the program writes itself uses (jobs, proxies, cells):
the security context is written once, here, and passes Pod Security "restricted" and the pack.

Charts get the same settings through their values (components.kube.values); these are the
provider's typed args for the objects the program renders itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp
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


def quota(pods: int, **totals: str) -> dict[str, str]:
    """A ResourceQuota's `hard`: each resource's requests and limits capped at the same total
    (`cpu`, `memory`, `ephemeral_storage`), and the pod count."""
    out = {"pods": str(pods)}
    for resource, total in totals.items():
        key = resource.replace("_", "-")
        out[f"requests.{key}"] = total
        out[f"limits.{key}"] = total
    return out


def limited(cpu: str, cpu_limit: str, memory: str, memory_limit: str | None = None) -> core.ResourceRequirementsArgs:
    """A CPU request below its limit (bursts are cheap); memory's limit is its request unless said."""
    return core.ResourceRequirementsArgs(
        requests={"cpu": cpu, "memory": memory}, limits={"cpu": cpu_limit, "memory": memory_limit or memory}
    )


def http_probe(path: str, port: int | str, *, period: int, failures: int = 3) -> core.ProbeArgs:
    return core.ProbeArgs(
        http_get=core.HTTPGetActionArgs(path=path, port=port), period_seconds=period, failure_threshold=failures
    )


ZONE = "topology.kubernetes.io/zone"
WORKLOAD_IDENTITY = "iam.gke.io/gcp-service-account"  # the Google account a Kubernetes one acts as


def workload_identity(
    service_account_id: pulumi.Input[str], workload_pool: str, namespace: str, account: str
) -> gcp.serviceaccount.IAMMemberArgs:
    """The Google account (`projects/<p>/serviceAccounts/<email>`, or its resource's name) accepts the
    Kubernetes account `namespace/account` of the cluster's Workload Identity pool."""
    return gcp.serviceaccount.IAMMemberArgs(
        service_account_id=service_account_id,
        role="roles/iam.workloadIdentityUser",
        member=f"serviceAccount:{workload_pool}[{namespace}/{account}]",
    )


def service_account(
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    gsa: pulumi.Input[str] | None = None,
    *,
    api_token: bool = False,
) -> core.ServiceAccountInitArgs:
    """A workload's own service account: bound to `gsa` by Workload Identity when given, and no
    token mounted unless the workload calls the Kubernetes API."""
    return core.ServiceAccountInitArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=namespace, labels=dict(labels), annotations={WORKLOAD_IDENTITY: gsa} if gsa else None
        ),
        automount_service_account_token=api_token,
    )


def cluster_service(
    name: str, namespace: str, labels: Mapping[str, str], selector: Mapping[str, str], port_name: str, port: int
) -> core.ServiceInitArgs:
    """The ClusterIP Service in front of a workload's pods: one port, to the container port of that name."""
    return core.ServiceInitArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=dict(labels)),
        spec=core.ServiceSpecArgs(
            type="ClusterIP",
            selector=dict(selector),
            ports=[core.ServicePortArgs(name=port_name, port=port, target_port=port_name)],
        ),
    )


def disruption_budget(
    name: str, namespace: str, labels: Mapping[str, str], selector: Mapping[str, str]
) -> k8s.policy.v1.PodDisruptionBudgetInitArgs:
    """One pod at a time may go in a drain; a pod that never became ready may always be evicted, so a
    drain is not held up by a broken release."""
    pdb = k8s.policy.v1
    return pdb.PodDisruptionBudgetInitArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=dict(labels)),
        spec=pdb.PodDisruptionBudgetSpecArgs(
            max_unavailable=1,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(selector)),
            unhealthy_pod_eviction_policy="AlwaysAllow",
        ),
    )


@dataclass(frozen=True)
class PodArgs:
    """What varies between the estate's own pods; everything else is the same hardened spec."""

    containers: Sequence[core.ContainerArgs]
    service_account: pulumi.Input[str]
    fs_group: int
    # Native sidecars (restartPolicy: Always) and init steps, in order.
    init_containers: Sequence[core.ContainerArgs] = ()
    volumes: Sequence[core.VolumeArgs] = ()
    node_selector: Mapping[str, str] | None = field(default_factory=lambda: dict(SYSTEM_NODES))
    tolerations: Sequence[core.TolerationArgs] = ()
    # The pod's own labels: spread its replicas over the zones (at most one more in any zone).
    spread: Mapping[str, str] | None = None
    api_token: bool = False  # only a pod that calls the Kubernetes API mounts a token
    grace_seconds: int | None = None
    restart_policy: str | None = None  # a Job's pods: Never or OnFailure
    image_pull_secrets: Sequence[str] = ()  # docker-registry Secrets for a private registry (Harbor)


def pod_spec(args: PodArgs) -> core.PodSpecArgs:
    spread = (
        [
            core.TopologySpreadConstraintArgs(
                max_skew=1,
                topology_key=ZONE,
                when_unsatisfiable="DoNotSchedule",
                label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(args.spread)),
            )
        ]
        if args.spread
        else None
    )
    return core.PodSpecArgs(
        service_account_name=args.service_account,
        automount_service_account_token=args.api_token,
        node_selector=dict(args.node_selector) if args.node_selector else None,
        tolerations=list(args.tolerations) or None,
        security_context=pod_security(args.fs_group),
        init_containers=list(args.init_containers) or None,
        containers=list(args.containers),
        volumes=list(args.volumes) or None,
        topology_spread_constraints=spread,
        termination_grace_period_seconds=args.grace_seconds,
        restart_policy=args.restart_policy,
        image_pull_secrets=[core.LocalObjectReferenceArgs(name=n) for n in args.image_pull_secrets] or None,
        enable_service_links=False,
    )


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

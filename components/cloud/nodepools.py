"""Node pools from the config map: one least-privilege service account per pool."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components.cloud.cluster import CLOUD_PLATFORM, GPU_POOL_TIMEOUT, NODE_ROLE
from components.cloud.control_plane import webhook_firewall
from components.common import child
from stacks.gpu import pool_zones
from stacks.model import NodePool

ct = gcp.container
_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}
POOL_LABEL = "estate.io/pool"


def pool_labels(name: str, pool: NodePool) -> dict[str, str]:
    return {**pool.labels, POOL_LABEL: name}


def taints(pool: NodePool) -> list[ct.NodePoolNodeConfigTaintArgs]:
    # GKE taints GPU nodes with nvidia.com/gpu itself; the provider reports drift only on
    # keys we manage, so leaving that key out keeps `up` free of a diff on every run.
    return [
        ct.NodePoolNodeConfigTaintArgs(key=k, value=t.value, effect=_EFFECTS[t.effect])
        for k, t in sorted(pool.taints.items())
    ]


def accelerators(pool: NodePool) -> list[ct.NodePoolNodeConfigGuestAcceleratorArgs] | None:
    if pool.gpu is None:
        return None
    sharing = pool.gpu.sharing
    return [
        ct.NodePoolNodeConfigGuestAcceleratorArgs(
            type=pool.gpu.type,
            count=pool.gpu.count,
            gpu_driver_installation_config=ct.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
                gpu_driver_version=pool.gpu.driver_version
            ),
            gpu_sharing_config=ct.NodePoolNodeConfigGuestAcceleratorGpuSharingConfigArgs(
                gpu_sharing_strategy=sharing.strategy, max_shared_clients_per_gpu=sharing.max_shared_clients_per_gpu
            )
            if sharing
            else None,
        )
    ]


@dataclass(frozen=True)
class NodePoolsArgs:
    project: str
    environment: str
    pools: Mapping[str, NodePool]
    cluster_id: pulumi.Input[str]
    location: pulumi.Input[str]
    zones: Sequence[str]
    repositories: Mapping[str, gcp.artifactregistry.Repository]
    labels: dict[str, str]
    # The control plane -> nodes rule for the charts' webhooks (components.cloud.control_plane).
    network_id: pulumi.Input[str]
    control_plane_sources: pulumi.Input[Sequence[str]]
    control_plane_ports: Sequence[int]
    firewall_rule_name: str
    firewall_log_metadata: str | None
    firewall_depends_on: Sequence[pulumi.Resource] = ()
    depends_on: Sequence[pulumi.Resource] = ()


class NodePools(pulumi.ComponentResource):
    pools: dict[str, ct.NodePool]
    service_accounts: dict[str, pulumi.Output[str]]
    webhook_firewall: gcp.compute.Firewall | None

    def __init__(self, name: str, args: NodePoolsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:cluster:NodePools", name, None, opts)
        self.pools = {}
        self.service_accounts = {}
        for pool_name, pool in args.pools.items():
            sa = gcp.serviceaccount.Account(
                f"{name}-{pool_name}-sa",
                gcp.serviceaccount.AccountArgs(
                    account_id=f"{args.environment}-np-{pool_name}", display_name=f"GKE nodes of pool {pool_name}"
                ),
                opts=child(self, depends_on=args.depends_on),
            )
            grants: list[pulumi.Resource] = [
                gcp.projects.IAMMember(
                    f"{name}-{pool_name}-node-role",
                    gcp.projects.IAMMemberArgs(project=args.project, role=NODE_ROLE, member=sa.member),
                    opts=child(self, depends_on=args.depends_on),
                )
            ]
            for repo_id, repo in args.repositories.items():
                grants.append(
                    gcp.artifactregistry.RepositoryIamMember(
                        f"{name}-{pool_name}-pull-{repo_id}",
                        gcp.artifactregistry.RepositoryIamMemberArgs(
                            project=repo.project,
                            location=repo.location,
                            repository=repo.name,
                            role="roles/artifactregistry.reader",
                            member=sa.member,
                        ),
                        opts=child(self, depends_on=args.depends_on),
                    )
                )
            zones = pool_zones(pool.zones, pool.gpu.type if pool.gpu else None, args.zones)
            self.pools[pool_name] = ct.NodePool(
                f"{name}-{pool_name}",
                ct.NodePoolArgs(
                    name=pool_name,
                    cluster=args.cluster_id,
                    location=args.location,
                    node_locations=list(zones),
                    # Nodes from the start (the default pool is gone by then); the
                    # autoscaler owns the count afterwards, hence ignore_changes below.
                    initial_node_count=pool.min_nodes,
                    autoscaling=ct.NodePoolAutoscalingArgs(
                        min_node_count=pool.min_nodes,
                        max_node_count=pool.max_nodes,
                        # Spot and GPU capacity is scarce: take it in whichever zone has it.
                        location_policy="ANY" if pool.spot or pool.gpu else "BALANCED",
                    ),
                    management=ct.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
                    upgrade_settings=ct.NodePoolUpgradeSettingsArgs(
                        strategy="SURGE", max_surge=pool.max_surge, max_unavailable=pool.max_unavailable
                    ),
                    node_config=ct.NodePoolNodeConfigArgs(
                        machine_type=pool.machine_type,
                        spot=pool.spot,
                        disk_size_gb=pool.disk_size_gb,
                        disk_type=pool.disk_type,
                        image_type="COS_CONTAINERD",
                        service_account=sa.email,
                        oauth_scopes=[CLOUD_PLATFORM],
                        shielded_instance_config=ct.NodePoolNodeConfigShieldedInstanceConfigArgs(
                            enable_secure_boot=True, enable_integrity_monitoring=True
                        ),
                        workload_metadata_config=ct.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
                        gvnic=ct.NodePoolNodeConfigGvnicArgs(enabled=True),
                        metadata={"disable-legacy-endpoints": "true"},
                        labels=pool_labels(pool_name, pool),
                        resource_labels={**args.labels, "pool": pool_name},
                        taints=taints(pool),
                        guest_accelerators=accelerators(pool),
                        # Image streaming: a GPU pool's serving images (vLLM's is tens of GB) start
                        # from what the container reads first instead of a full pull; the Container
                        # File System API is enabled before any pool.
                        gcfs_config=ct.NodePoolNodeConfigGcfsConfigArgs(enabled=True) if pool.gpu else None,
                        # gVisor: GKE adds the sandbox.gke.io/runtime=gvisor:NoSchedule taint itself.
                        sandbox_config=ct.NodePoolNodeConfigSandboxConfigArgs(type="GVISOR") if pool.sandbox else None,
                    ),
                ),
                opts=child(
                    self,
                    depends_on=[*args.depends_on, *grants],
                    custom_timeouts=pulumi.CustomTimeouts(
                        create=GPU_POOL_TIMEOUT, update=GPU_POOL_TIMEOUT, delete="45m"
                    ),
                    ignore_changes=["initialNodeCount"],
                ),
            )
            self.service_accounts[pool_name] = sa.email
        # A child of the pools, so whatever waits for the nodes (every chart) waits for it too.
        self.webhook_firewall = webhook_firewall(
            self,
            f"{name}-control-plane-webhooks",
            rule_name=args.firewall_rule_name,
            network_id=args.network_id,
            sources=args.control_plane_sources,
            ports=args.control_plane_ports,
            node_service_accounts=[self.service_accounts[p] for p in sorted(self.service_accounts)],
            log_metadata=args.firewall_log_metadata,
            depends_on=args.firewall_depends_on,
        )
        self.register_outputs({"serviceAccounts": self.service_accounts})

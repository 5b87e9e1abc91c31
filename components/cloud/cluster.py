"""The GKE control plane: private nodes, DNS endpoint, Workload Identity, Binary Authorization."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.cloud.control_plane import control_plane_ranges
from components.cloud.network import PODS_RANGE, SERVICES_RANGE
from components.common import child
from stacks.naming import cluster_location, cluster_name

ct = gcp.container
NODE_ROLE = "roles/container.defaultNodeServiceAccount"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
GPU_POOL_TIMEOUT = "60m"
# Workload metrics go through Managed Prometheus (GKE's own WORKLOADS monitoring component is
# deprecated); these add the control plane, kube-state (pods, controllers, HPA, volumes), the
# kubelet/cAdvisor and the GPU (DCGM) packages the alerting in seed 004 is written against.
MONITORING_COMPONENTS = (
    "SYSTEM_COMPONENTS",
    "APISERVER",
    "SCHEDULER",
    "CONTROLLER_MANAGER",
    "STORAGE",
    "HPA",
    "POD",
    "DAEMONSET",
    "DEPLOYMENT",
    "STATEFULSET",
    "KUBELET",
    "CADVISOR",
    "DCGM",
)


def shielded() -> ct.ClusterNodeConfigShieldedInstanceConfigArgs:
    return ct.ClusterNodeConfigShieldedInstanceConfigArgs(enable_secure_boot=True, enable_integrity_monitoring=True)


def _dns_endpoint(config: ct.outputs.ClusterControlPlaneEndpointsConfig | None) -> str:
    dns = config.dns_endpoint_config if config else None
    return (dns.endpoint if dns else None) or ""


@dataclass(frozen=True)
class ClusterArgs:
    project: str
    region: str
    prefix: str
    zones: Sequence[str]
    regional: bool
    release_channel: str
    deletion_protection: bool
    authorized_networks: Mapping[str, str]
    network_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    secrets_key_id: pulumi.Input[str]
    labels: dict[str, str]
    protect: bool
    depends_on: Sequence[pulumi.Resource] = field(default=())
    key_grant: Sequence[pulumi.Resource] = field(default=())  # the gke key's agent grant (and its wait)


class Cluster(pulumi.ComponentResource):
    cluster: ct.Cluster
    name: pulumi.Output[str]
    location: pulumi.Output[str]
    dns_endpoint: pulumi.Output[str]
    # Where the control plane connects to nodes from (webhook firewall, NetworkPolicies).
    control_plane_ranges: pulumi.Output[list[str]]
    workload_pool: str

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:cluster:Cluster", name, None, opts)
        # The default pool lives only until the first apply finishes, but even then it
        # must not run as the default compute service account.
        bootstrap_sa = gcp.serviceaccount.Account(
            f"{name}-bootstrap-nodes",
            gcp.serviceaccount.AccountArgs(
                account_id=f"{args.prefix}-gke-bootstrap", display_name="GKE default pool (removed at creation)"
            ),
            opts=child(self, depends_on=args.depends_on),
        )
        bootstrap_role = gcp.projects.IAMMember(
            f"{name}-bootstrap-nodes-role",
            gcp.projects.IAMMemberArgs(project=args.project, role=NODE_ROLE, member=bootstrap_sa.member),
            opts=child(self, depends_on=args.depends_on),
        )
        self.workload_pool = f"{args.project}.svc.id.goog"
        location = cluster_location(args.region, args.regional, args.zones)
        self.cluster = ct.Cluster(
            f"{name}-gke",
            ct.ClusterArgs(
                name=cluster_name(args.prefix),
                location=location,
                node_locations=list(args.zones) if args.regional else None,
                deletion_protection=args.deletion_protection,
                remove_default_node_pool=True,
                initial_node_count=1,
                node_config=ct.ClusterNodeConfigArgs(
                    service_account=bootstrap_sa.email,
                    oauth_scopes=[CLOUD_PLATFORM],
                    image_type="COS_CONTAINERD",
                    shielded_instance_config=shielded(),
                    workload_metadata_config=ct.ClusterNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
                ),
                network=args.network_id,
                subnetwork=args.subnet_id,
                networking_mode="VPC_NATIVE",
                ip_allocation_policy=ct.ClusterIpAllocationPolicyArgs(
                    cluster_secondary_range_name=PODS_RANGE, services_secondary_range_name=SERVICES_RANGE
                ),
                datapath_provider="ADVANCED_DATAPATH",
                private_cluster_config=ct.ClusterPrivateClusterConfigArgs(
                    enable_private_nodes=True, enable_private_endpoint=True
                ),
                control_plane_endpoints_config=ct.ClusterControlPlaneEndpointsConfigArgs(
                    dns_endpoint_config=ct.ClusterControlPlaneEndpointsConfigDnsEndpointConfigArgs(
                        allow_external_traffic=True
                    ),
                    ip_endpoints_config=ct.ClusterControlPlaneEndpointsConfigIpEndpointsConfigArgs(enabled=True),
                ),
                master_authorized_networks_config=ct.ClusterMasterAuthorizedNetworksConfigArgs(
                    cidr_blocks=[
                        ct.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(cidr_block=cidr, display_name=n)
                        for n, cidr in sorted(args.authorized_networks.items())
                    ],
                    gcp_public_cidrs_access_enabled=False,
                    private_endpoint_enforcement_enabled=True,
                ),
                master_auth=ct.ClusterMasterAuthArgs(
                    client_certificate_config=ct.ClusterMasterAuthClientCertificateConfigArgs(
                        issue_client_certificate=False
                    )
                ),
                enable_legacy_abac=False,
                enable_shielded_nodes=True,
                enable_intranode_visibility=True,
                release_channel=ct.ClusterReleaseChannelArgs(channel=args.release_channel),
                workload_identity_config=ct.ClusterWorkloadIdentityConfigArgs(workload_pool=self.workload_pool),
                binary_authorization=ct.ClusterBinaryAuthorizationArgs(
                    evaluation_mode="PROJECT_SINGLETON_POLICY_ENFORCE"
                ),
                database_encryption=ct.ClusterDatabaseEncryptionArgs(state="ENCRYPTED", key_name=args.secrets_key_id),
                logging_config=ct.ClusterLoggingConfigArgs(enable_components=["SYSTEM_COMPONENTS", "WORKLOADS"]),
                monitoring_config=ct.ClusterMonitoringConfigArgs(
                    enable_components=list(MONITORING_COMPONENTS),
                    managed_prometheus=ct.ClusterMonitoringConfigManagedPrometheusArgs(enabled=True),
                ),
                addons_config=ct.ClusterAddonsConfigArgs(
                    gcs_fuse_csi_driver_config=ct.ClusterAddonsConfigGcsFuseCsiDriverConfigArgs(enabled=True),
                    gce_persistent_disk_csi_driver_config=ct.ClusterAddonsConfigGcePersistentDiskCsiDriverConfigArgs(
                        enabled=True
                    ),
                    http_load_balancing=ct.ClusterAddonsConfigHttpLoadBalancingArgs(disabled=False),
                    horizontal_pod_autoscaling=ct.ClusterAddonsConfigHorizontalPodAutoscalingArgs(disabled=False),
                    # Backup for GKE's agent: the platform's backup plan runs through it.
                    gke_backup_agent_config=ct.ClusterAddonsConfigGkeBackupAgentConfigArgs(enabled=True),
                ),
                vertical_pod_autoscaling=ct.ClusterVerticalPodAutoscalingArgs(enabled=True),
                cluster_autoscaling=ct.ClusterClusterAutoscalingArgs(autoscaling_profile="OPTIMIZE_UTILIZATION"),
                maintenance_policy=ct.ClusterMaintenancePolicyArgs(
                    recurring_window=ct.ClusterMaintenancePolicyRecurringWindowArgs(
                        start_time="2025-01-04T02:00:00Z",
                        end_time="2025-01-04T08:00:00Z",
                        recurrence="FREQ=WEEKLY;BYDAY=SA,SU",
                    )
                ),
                resource_labels=args.labels,
            ),
            opts=child(
                self,
                # The control plane encrypts Secrets with the gke key from its first moment: only the
                # cluster waits for that grant to propagate, not the bootstrap account beside it.
                depends_on=[*args.depends_on, *args.key_grant, bootstrap_role],
                protect=args.protect,
                custom_timeouts=pulumi.CustomTimeouts(create="45m", update="60m", delete="45m"),
                # With the default pool removed, GKE reports the first remaining pool's
                # node_config here; without this every `up` would plan a replacement.
                ignore_changes=["nodeConfig", "initialNodeCount"],
            ),
        )
        self.name = self.cluster.name
        self.location = self.cluster.location
        self.dns_endpoint = self.cluster.control_plane_endpoints_config.apply(_dns_endpoint)
        self.control_plane_ranges = self.cluster.private_cluster_config.apply(control_plane_ranges)
        self.register_outputs({"name": self.name, "location": self.location, "dnsEndpoint": self.dns_endpoint})

"""The VPC: one regional subnet (VPC-native), NAT for private nodes, Private Service Access."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.common import child
from stacks.cidr import HEALTH_CHECK_RANGES, CidrPlan

PODS_RANGE = "pods"
SERVICES_RANGE = "services"


@dataclass(frozen=True)
class NetworkArgs:
    region: str
    prefix: str
    plan: CidrPlan
    flow_log_sampling: float
    flow_log_metadata: str
    firewall_log_metadata: str | None  # None: firewall logging off
    health_check_ports: Sequence[str]
    nat_log_filter: str
    labels: dict[str, str]
    # True outside prod: destroy removes the peering so the network can go too.
    remove_peering_on_destroy: bool
    depends_on: Sequence[pulumi.Resource] = field(default=())


class Network(pulumi.ComponentResource):
    network_id: pulumi.Output[str]
    subnet_id: pulumi.Output[str]
    private_services: gcp.servicenetworking.Connection

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:network:Network", name, None, opts)
        plan = args.plan
        deps = list(args.depends_on)
        vpc = gcp.compute.Network(
            f"{name}-vpc",
            gcp.compute.NetworkArgs(name=f"{args.prefix}-vpc", auto_create_subnetworks=False, routing_mode="REGIONAL"),
            opts=child(self, depends_on=deps),
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-nodes",
            gcp.compute.SubnetworkArgs(
                name=f"{args.prefix}-nodes",
                region=args.region,
                network=vpc.id,
                ip_cidr_range=plan.nodes,
                private_ip_google_access=True,
                secondary_ip_ranges=[
                    gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=PODS_RANGE, ip_cidr_range=plan.pods),
                    gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=SERVICES_RANGE, ip_cidr_range=plan.services),
                ],
                log_config=gcp.compute.SubnetworkLogConfigArgs(
                    aggregation_interval="INTERVAL_5_SEC",
                    flow_sampling=args.flow_log_sampling,
                    metadata=args.flow_log_metadata,
                ),
            ),
            opts=child(self, depends_on=deps),
        )
        router = gcp.compute.Router(
            f"{name}-router",
            gcp.compute.RouterArgs(name=f"{args.prefix}-router", region=args.region, network=vpc.id),
            opts=child(self, depends_on=deps),
        )
        gcp.compute.RouterNat(
            f"{name}-nat",
            gcp.compute.RouterNatArgs(
                name=f"{args.prefix}-nat",
                router=router.name,
                region=args.region,
                nat_ip_allocate_option="AUTO_ONLY",
                source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
                subnetworks=[
                    gcp.compute.RouterNatSubnetworkArgs(name=subnet.id, source_ip_ranges_to_nats=["ALL_IP_RANGES"])
                ],
                log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter=args.nat_log_filter),
            ),
            opts=child(self, depends_on=deps),
        )
        psa_net = ipaddress.ip_network(plan.private_services)
        psa_range = gcp.compute.GlobalAddress(
            f"{name}-psa-range",
            gcp.compute.GlobalAddressArgs(
                name=f"{args.prefix}-psa",
                purpose="VPC_PEERING",
                address_type="INTERNAL",
                address=str(psa_net.network_address),
                prefix_length=psa_net.prefixlen,
                network=vpc.id,
                labels=args.labels,
            ),
            opts=child(self, depends_on=deps),
        )
        # Deleting the connection fails while Cloud SQL or Memorystore still hold addresses in
        # the range (and for some days after they are deleted). REMOVE_PEERING then removes
        # the VPC peering itself so the network can be deleted; ABANDON would leave the peering
        # and wedge the network's deletion. Prod never deletes its network in a destroy: it
        # keeps the connection (ABANDON) and the README lists the manual steps.
        self.private_services = gcp.servicenetworking.Connection(
            f"{name}-psa",
            gcp.servicenetworking.ConnectionArgs(
                network=vpc.id,
                service="servicenetworking.googleapis.com",
                reserved_peering_ranges=[psa_range.name],
                deletion_policy="REMOVE_PEERING" if args.remove_peering_on_destroy else "ABANDON",
            ),
            opts=child(self, depends_on=deps),
        )
        fw_log = (
            gcp.compute.FirewallLogConfigArgs(metadata=args.firewall_log_metadata)
            if args.firewall_log_metadata
            else None
        )
        gcp.compute.Firewall(
            f"{name}-allow-internal",
            gcp.compute.FirewallArgs(
                name=f"{args.prefix}-allow-internal",
                network=vpc.id,
                direction="INGRESS",
                priority=1000,
                source_ranges=[plan.nodes, plan.pods],
                allows=[gcp.compute.FirewallAllowArgs(protocol=p) for p in ("tcp", "udp", "icmp")],
                log_config=fw_log,
            ),
            opts=child(self, depends_on=deps),
        )
        gcp.compute.Firewall(
            f"{name}-allow-health-checks",
            gcp.compute.FirewallArgs(
                name=f"{args.prefix}-allow-health-checks",
                network=vpc.id,
                direction="INGRESS",
                priority=1000,
                source_ranges=list(HEALTH_CHECK_RANGES),
                allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=list(args.health_check_ports))],
                log_config=fw_log,
            ),
            opts=child(self, depends_on=deps),
        )
        self.network_id = vpc.id
        self.subnet_id = subnet.id
        self.register_outputs({"networkId": self.network_id, "subnetId": self.subnet_id})

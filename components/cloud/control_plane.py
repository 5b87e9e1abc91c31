"""What the control plane may reach on the nodes beyond GKE's own rule: the ports the installed
charts' admission webhooks and aggregated API servers serve.

GKE's generated `gke-<cluster>-<id>-master` rule admits the control plane on TCP 443 and 10250
only. A webhook on another port (istiod 15017, policy-controller 8443, KEDA 9443 and 6443) then
times out, and with `failurePolicy: Fail` every object it guards is refused. The ports come from
the chart pins (`stacks.charts.ChartPin.control_plane_ports`), so a layer that adds a chart adds
its ports there; tests/test_webhook_ports.py holds them against the rendered charts.

Where the control plane connects from depends on the cluster's control-plane mode. This cluster
sets no `masterIpv4CidrBlock`, so GKE builds it on Private Service Connect: the control plane's
internal endpoint is an address in the node subnet (`privateClusterConfig.privateEndpoint`), and
that address is the source the nodes see. A VPC-peering cluster (a `/28` master range) would use
that range instead; both are handled. README "The first `up`" says how to compare the rule with
GKE's generated one after the first `up`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from components.common import child

ct = gcp.container


def control_plane_ranges(config: ct.outputs.ClusterPrivateClusterConfig | None) -> list[str]:
    """The control plane's source ranges: its private endpoint (PSC clusters) and its /28 (peering)."""
    if config is None:
        return []
    out = []
    if config.private_endpoint:
        out.append(f"{config.private_endpoint}/32")
    if config.master_ipv4_cidr_block:
        out.append(config.master_ipv4_cidr_block)
    return out


def webhook_firewall(
    parent: pulumi.Resource,
    name: str,
    *,
    rule_name: str,
    network_id: pulumi.Input[str],
    sources: pulumi.Input[Sequence[str]],
    ports: Sequence[int],
    node_service_accounts: Sequence[pulumi.Input[str]],
    log_metadata: str | None,
    depends_on: Sequence[pulumi.Resource],
) -> gcp.compute.Firewall | None:
    """One INGRESS rule: the control plane to the pools' nodes (by service account) on `ports`."""
    if not ports or not node_service_accounts:
        return None
    return gcp.compute.Firewall(
        name,
        gcp.compute.FirewallArgs(
            name=rule_name,
            network=network_id,
            direction="INGRESS",
            priority=1000,
            description="Control plane to admission webhooks and aggregated APIs of the installed charts",
            source_ranges=sources,
            target_service_accounts=list(node_service_accounts),
            allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=[str(p) for p in sorted(set(ports))])],
            log_config=gcp.compute.FirewallLogConfigArgs(metadata=log_metadata) if log_metadata else None,
        ),
        opts=child(parent, depends_on=depends_on),
    )

"""GKE control plane and node hardening, per the CIS GKE Benchmark."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import Severity

from estate_policies.common import get, items, of_types, resource_policy, rules

CIS = "CIS GKE Benchmark"
CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
is_cluster = of_types(CLUSTER)


def _private_nodes(_t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if (
        get(p, "privateClusterConfig", "enablePrivateNodes") is not True
        and get(p, "networkConfig", "enablePrivateNodes") is not True
    ):
        yield "nodes must be private: privateClusterConfig.enablePrivateNodes: true"


def _authorized_networks(_t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    man = get(p, "masterAuthorizedNetworksConfig")
    if not man:
        yield "masterAuthorizedNetworksConfig is missing: the IP endpoint must be restricted"
        return
    if man.get("gcpPublicCidrsAccessEnabled") is True:
        yield "gcpPublicCidrsAccessEnabled opens the control plane to all of Google Cloud's public IPs"
    for block in items(man.get("cidrBlocks")):
        cidr = str(block.get("cidrBlock", ""))
        try:
            if ipaddress.ip_network(cidr, strict=False).prefixlen == 0:
                yield f"authorized network {cidr} ({block.get('displayName')}) opens the control plane to everyone"
        except ValueError:
            yield f"authorized network {cidr!r} is not a CIDR block"


def _workload_identity(_t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if not get(p, "workloadIdentityConfig", "workloadPool"):
        yield "workloadIdentityConfig.workloadPool is not set"


def _shielded(_t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if p.get("enableShieldedNodes") is False:
        yield "enableShieldedNodes is false"


def _release_channel(_t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    channel = get(p, "releaseChannel", "channel")
    if channel not in ("RAPID", "REGULAR", "STABLE", "EXTENDED"):
        yield f"releaseChannel.channel is {channel!r}; enrol the cluster in a release channel"


def _legacy_auth(_t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if p.get("enableLegacyAbac") is True:
        yield "enableLegacyAbac must be false"
    if get(p, "masterAuth", "clientCertificateConfig", "issueClientCertificate") is True:
        yield "client certificates must not be issued (masterAuth.clientCertificateConfig)"


def _network_policy(_t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if p.get("datapathProvider") != "ADVANCED_DATAPATH" and get(p, "networkPolicy", "enabled") is not True:
        yield "enforce NetworkPolicy: datapathProvider ADVANCED_DATAPATH (Dataplane V2) or networkPolicy.enabled"


def _secrets_encryption(_t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if get(p, "databaseEncryption", "state") != "ENCRYPTED" or not get(p, "databaseEncryption", "keyName"):
        yield "databaseEncryption must be ENCRYPTED with a Cloud KMS keyName"


def _node_configs(type_: str, p: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    if type_ == NODE_POOL:
        return [(f"pool {p.get('name')!r}", get(p, "nodeConfig", default={}) or {})]
    configs = []
    if get(p, "nodeConfig"):
        configs.append(("default pool", p["nodeConfig"]))
    configs += [(f"pool {np.get('name')!r}", np.get("nodeConfig") or {}) for np in items(p.get("nodePools"))]
    return configs


def _node_sa(type_: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for where, node in _node_configs(type_, p):
        sa = str(node.get("serviceAccount") or "")
        if not sa or sa == "default" or sa.endswith("-compute@developer.gserviceaccount.com"):
            yield f"{where}: runs as the default compute service account; give it its own least-privilege account"


def _node_hardening(type_: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for where, node in _node_configs(type_, p):
        if str(node.get("imageType", "")).upper() != "COS_CONTAINERD":
            yield f"{where}: imageType {node.get('imageType')!r}; use COS_CONTAINERD"
        shielded = node.get("shieldedInstanceConfig") or {}
        if shielded.get("enableSecureBoot") is not True:
            yield f"{where}: shieldedInstanceConfig.enableSecureBoot must be true"
        if shielded.get("enableIntegrityMonitoring") is False:
            yield f"{where}: shieldedInstanceConfig.enableIntegrityMonitoring must be true"
        if get(node, "workloadMetadataConfig", "mode") != "GKE_METADATA":
            yield f"{where}: workloadMetadataConfig.mode must be GKE_METADATA"


def _node_management(type_: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    pools = [p] if type_ == NODE_POOL else items(p.get("nodePools"))
    for pool in pools:
        mgmt = pool.get("management") or {}
        for key in ("autoRepair", "autoUpgrade"):
            if mgmt.get(key) is not True:
                yield f"pool {pool.get('name')!r}: management.{key} must be true"


_r = rules("estate-gke-", f"{CIS}: ")

is_gke = of_types(CLUSTER, NODE_POOL)
POLICIES = [
    resource_policy(
        _r(
            "private-nodes",
            "GKE nodes have no public IPs.",
            Severity.HIGH,
            "5.6.5 (private nodes)",
            "privateClusterConfig.enablePrivateNodes: true; egress through Cloud NAT.",
        ),
        is_cluster,
        _private_nodes,
    ),
    resource_policy(
        _r(
            "authorized-networks",
            "The control plane's IP endpoint is restricted, never to 0.0.0.0/0.",
            Severity.CRITICAL,
            "5.6.3 (control plane authorized networks)",
            "List the private ranges that may reach the IP endpoint; use the DNS endpoint from CI.",
        ),
        is_cluster,
        _authorized_networks,
    ),
    resource_policy(
        _r(
            "workload-identity",
            "Workload Identity is enabled.",
            Severity.HIGH,
            "5.2.2 (dedicated service accounts and Workload Identity)",
            "workloadIdentityConfig.workloadPool: <project>.svc.id.goog.",
        ),
        is_cluster,
        _workload_identity,
    ),
    resource_policy(
        _r(
            "shielded-nodes",
            "Shielded GKE nodes are enabled.",
            Severity.MEDIUM,
            "5.5.5 (Shielded GKE Nodes)",
            "enableShieldedNodes: true.",
        ),
        is_cluster,
        _shielded,
    ),
    resource_policy(
        _r(
            "release-channel",
            "The cluster is enrolled in a release channel.",
            Severity.MEDIUM,
            "5.5.4 (release channels)",
            "releaseChannel.channel: REGULAR or STABLE.",
        ),
        is_cluster,
        _release_channel,
    ),
    resource_policy(
        _r(
            "legacy-auth",
            "Legacy ABAC and client certificates are off.",
            Severity.HIGH,
            "5.8.1, 5.8.4 (client certificates, legacy ABAC)",
            "enableLegacyAbac: false; masterAuth.clientCertificateConfig.issueClientCertificate: false.",
        ),
        is_cluster,
        _legacy_auth,
    ),
    resource_policy(
        _r(
            "network-policy",
            "NetworkPolicy is enforced.",
            Severity.MEDIUM,
            "5.6.7 (network policy)",
            "datapathProvider: ADVANCED_DATAPATH.",
        ),
        is_cluster,
        _network_policy,
    ),
    resource_policy(
        _r(
            "secrets-encryption",
            "Kubernetes Secrets are encrypted with a Cloud KMS key.",
            Severity.HIGH,
            "5.3.1 (secrets encrypted with Cloud KMS)",
            "databaseEncryption: {state: ENCRYPTED, keyName: <key>}.",
        ),
        is_cluster,
        _secrets_encryption,
    ),
    resource_policy(
        _r(
            "node-service-account",
            "Nodes never run as the default compute service account.",
            Severity.HIGH,
            "5.2.1 (default service account)",
            "Create a service account per pool with roles/container.defaultNodeServiceAccount.",
        ),
        is_gke,
        _node_sa,
    ),
    resource_policy(
        _r(
            "node-hardening",
            "Nodes use COS_CONTAINERD, secure boot, integrity monitoring, GKE_METADATA.",
            Severity.HIGH,
            "5.5.1, 5.5.6, 5.5.7, 5.4.2 (node image, Shielded VM, metadata server)",
            "imageType COS_CONTAINERD; shieldedInstanceConfig both true; workloadMetadataConfig GKE_METADATA.",
        ),
        is_gke,
        _node_hardening,
    ),
    resource_policy(
        _r(
            "node-management",
            "Node pools auto-repair and auto-upgrade.",
            Severity.MEDIUM,
            "5.5.2, 5.5.3 (auto-repair, auto-upgrade)",
            "management: {autoRepair: true, autoUpgrade: true}.",
        ),
        is_gke,
        _node_management,
    ),
]

"""Price rules by resource type, over the dated table in `tools/data/prices-<region>.json`.

Each rule turns one planned resource into a monthly (idle, peak, what) or raises NotPricedError
with the reason; types known to cost nothing by themselves, or to be billed only by usage the
plan cannot know, are listed here too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tools.planfile import PlanFile

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_REGION = "europe-west4"

# Types that are billed nothing by themselves (their cost, if any, is in what runs on them).
# Harbor's projects and robots are rows in its database: their cost is Harbor's (its pods, Cloud SQL).
FREE_PREFIXES = ("kubernetes:", "random:", "time:", "pulumi:providers:", "tls:", "command:", "harbor:")
FREE_TYPES = {
    "gcp:compute/network:Network",
    "gcp:compute/subnetwork:Subnetwork",
    "gcp:compute/firewall:Firewall",
    "gcp:compute/router:Router",
    "gcp:kms/keyRing:KeyRing",
    "gcp:projects/service:Service",
    "gcp:projects/serviceIdentity:ServiceIdentity",
    "gcp:servicenetworking/connection:Connection",
    "gcp:serviceaccount/account:Account",
    "gcp:secretmanager/secret:Secret",
    "gcp:sql/database:Database",
    "gcp:sql/user:User",
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool",
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
    "gcp:projects/iAMCustomRole:IAMCustomRole",
    "gcp:cloudquota/sQuotaPreference:SQuotaPreference",
    "gcp:binaryauthorization/attestor:Attestor",
    "gcp:binaryauthorization/policy:Policy",
    "gcp:containeranalysis/note:Note",
    "gcp:dns/recordSet:RecordSet",
    "gcp:pubsub/schema:Schema",
}
FREE_SUFFIXES = ("IAMMember", "IAMBinding", "IAMPolicy", "IamMember", "IamBinding", "IamPolicy")
# Billed by volume or traffic the plan cannot know.
USAGE_TYPES = {
    "gcp:storage/bucket:Bucket": "stored GB-month by storage class",
    "gcp:artifactregistry/repository:Repository": "stored GB-month (first 0.5 GB free)",
    "gcp:dns/managedZone:ManagedZone": "per zone-month (a few tens of cents) plus queries",
    "gcp:gkebackup/backupPlan:BackupPlan": "per protected pod-month plus backup storage",
    "gcp:pubsub/topic:Topic": "per TiB published (first 10 GiB a month free) plus retained messages per GiB-month",
    "gcp:pubsub/subscription:Subscription": "per TiB delivered plus retained acknowledged messages per GiB-month",
}


def load_prices(region: str = DEFAULT_REGION) -> dict[str, Any]:
    path = DATA / f"prices-{region}.json"
    if not path.exists():
        raise SystemExit(f"no price table for region {region} (expected {path.name} in tools/data/)")
    prices: dict[str, Any] = json.loads(path.read_text())
    return prices


def _month(prices: dict[str, Any], hourly: float) -> float:
    return hourly * float(prices["hoursPerMonth"])


class Pricer:
    """One method per priced type; each returns (idle, peak, what) per month or raises NotPricedError."""

    def __init__(self, plan: PlanFile, prices: dict[str, Any]) -> None:
        self.plan = plan
        self.p = prices
        self.nodes = self._node_counts()
        self.handlers: dict[str, Callable[[dict[str, Any]], tuple[float, float, str]]] = {
            "gcp:container/nodePool:NodePool": self.node_pool,
            "gcp:container/cluster:Cluster": self.cluster,
            "gcp:sql/databaseInstance:DatabaseInstance": self.sql,
            "gcp:redis/instance:Instance": self.redis,
            "gcp:compute/routerNat:RouterNat": self.nat,
            "gcp:compute/address:Address": self.address,
            "gcp:compute/globalAddress:GlobalAddress": self.address,
            "gcp:compute/forwardingRule:ForwardingRule": self.forwarding_rule,
            "gcp:compute/globalForwardingRule:GlobalForwardingRule": self.forwarding_rule,
            "gcp:compute/disk:Disk": self.disk,
            "gcp:compute/regionDisk:RegionDisk": self.disk,
            "gcp:kms/cryptoKey:CryptoKey": self.kms_key,
            "gcp:secretmanager/secretVersion:SecretVersion": self.secret_version,
        }

    # -- node pools and what follows from their size
    def _pool_shape(self, res: dict[str, Any]) -> tuple[int, int, int]:
        inputs = res["inputs"]
        zones = len(inputs.get("nodeLocations") or []) or 1
        auto = inputs.get("autoscaling") or {}
        if auto:
            lo = int(auto.get("minNodeCount", auto.get("totalMinNodeCount", 0)) or 0)
            hi = int(auto.get("maxNodeCount", auto.get("totalMaxNodeCount", lo)) or lo)
            if "totalMinNodeCount" in auto or "totalMaxNodeCount" in auto:
                zones = 1  # totals already cover every zone
        else:
            lo = hi = int(inputs.get("nodeCount") or inputs.get("initialNodeCount") or 1)
        return zones, lo, hi

    def _node_counts(self) -> tuple[int, int]:
        idle = peak = 0
        for res in self.plan.resources:
            if res["type"] == "gcp:container/nodePool:NodePool":
                zones, lo, hi = self._pool_shape(res)
                idle, peak = idle + zones * lo, peak + zones * hi
        return idle, peak

    def node_pool(self, res: dict[str, Any]) -> tuple[float, float, str]:
        cfg = res["inputs"].get("nodeConfig") or {}
        machine = cfg.get("machineType") or "e2-medium"
        spot = bool(cfg.get("spot") or cfg.get("preemptible"))
        kind = "spotHour" if spot else "hour"
        known = self.p["machines"].get(machine)
        if known is None:
            raise NotPricedError(f"machine type {machine} not in the price table")
        hourly = float(known[kind])
        parts = [f"{machine}{' spot' if spot else ''}"]
        for acc in cfg.get("guestAccelerators") or []:
            gpu = self.p["gpus"].get(acc.get("type"))
            if gpu is None:
                raise NotPricedError(f"GPU {acc.get('type')} not in the price table")
            count = int(acc.get("count") or 1)
            hourly += count * float(gpu[kind])
            parts.append(f"{count}x {acc['type']}{' spot' if spot else ''}")
        disk_type = cfg.get("diskType") or "pd-balanced"
        disk_gb = float(cfg.get("diskSizeGb") or 100)
        disk_rate = self.p["disksGbMonth"].get(disk_type)
        if disk_rate is None:
            raise NotPricedError(f"disk type {disk_type} not in the price table")
        per_node = _month(self.p, hourly) + disk_gb * float(disk_rate)
        zones, lo, hi = self._pool_shape(res)
        what = f"{' + '.join(parts)} + {disk_gb:g} GB {disk_type}; {lo}-{hi} nodes x {zones} zone(s)"
        return per_node * lo * zones, per_node * hi * zones, what

    def cluster(self, res: dict[str, Any]) -> tuple[float, float, str]:
        fee = _month(self.p, float(self.p["gkeClusterHour"]))
        return fee, fee, "GKE cluster management fee (the free-tier credit is not deducted)"

    def sql(self, res: dict[str, Any]) -> tuple[float, float, str]:
        settings = res["inputs"].get("settings") or {}
        tier = str(settings.get("tier", ""))
        edition = str(settings.get("edition") or "ENTERPRISE")
        rates = self.p["cloudsql"].get(edition)
        match = re.fullmatch(r"db-custom-(\d+)-(\d+)", tier)
        if rates is None or match is None:
            raise NotPricedError(f"Cloud SQL {edition} tier {tier!r} not in the price table")
        vcpu, mem_gb = int(match[1]), int(match[2]) / 1024
        ha = settings.get("availabilityType") == "REGIONAL"
        factor = float(self.p["cloudsql"]["haMultiplier"]) if ha else 1.0
        disk_gb = float(settings.get("diskSize") or 10)
        disk_rate = rates["hddGbMonth"] if settings.get("diskType") == "PD_HDD" else rates["ssdGbMonth"]
        hourly = vcpu * rates["vcpuHour"] + mem_gb * rates["memGbHour"]
        month = factor * (_month(self.p, hourly) + disk_gb * disk_rate)
        avail = "REGIONAL (HA, x2)" if ha else "ZONAL"
        return month, month, f"{tier} {edition} {avail}, {disk_gb:g} GB (autoresize growth not included)"

    def redis(self, res: dict[str, Any]) -> tuple[float, float, str]:
        inputs = res["inputs"]
        tier = str(inputs.get("tier") or "BASIC")
        size = float(inputs.get("memorySizeGb") or 1)
        bands = self.p["redisGbHour"].get(tier)
        if bands is None:
            raise NotPricedError(f"Memorystore tier {tier} not in the price table")
        rate = next((float(r) for upto, r in bands if size <= upto), None)
        if rate is None:
            raise NotPricedError(f"Memorystore size {size:g} GB beyond the table")
        replicas = int(inputs.get("replicaCount") or (1 if tier == "STANDARD_HA" else 0))
        # The Standard rate covers a primary and one replica; each further read replica is
        # billed as another node at half that pair's rate.
        nodes = max(1.0, (1 + replicas) / 2) if tier == "STANDARD_HA" else 1.0
        month = _month(self.p, size * rate * nodes)
        return month, month, f"{tier} {size:g} GB, {replicas} replica(s)"

    def nat(self, res: dict[str, Any]) -> tuple[float, float, str]:
        def gateway(vms: int) -> float:
            return _month(self.p, min(vms * float(self.p["natVmHour"]), float(self.p["natGatewayMaxHour"])))

        idle, peak = self.nodes
        return gateway(idle), gateway(peak), f"{idle}-{peak} VMs behind the gateway; data processing is usage-based"

    def address(self, res: dict[str, Any]) -> tuple[float, float, str]:
        inputs = res["inputs"]
        internal = inputs.get("purpose") in ("VPC_PEERING", "PRIVATE_SERVICE_CONNECT")
        if inputs.get("addressType") == "INTERNAL" or internal:
            return 0.0, 0.0, "internal range: no charge"
        hourly = float(self.p["externalIpHour"]) + float(self.p["forwardingRuleHour"])
        month = _month(self.p, hourly)
        return month, month, "external IP in use + the load balancer's forwarding rule"

    def forwarding_rule(self, res: dict[str, Any]) -> tuple[float, float, str]:
        month = _month(self.p, float(self.p["forwardingRuleHour"]))
        return month, month, "forwarding rule (data processed is usage-based)"

    def disk(self, res: dict[str, Any]) -> tuple[float, float, str]:
        inputs = res["inputs"]
        kind = str(inputs.get("type") or "pd-standard").rsplit("/", 1)[-1]
        rate = self.p["disksGbMonth"].get(kind)
        if rate is None:
            raise NotPricedError(f"disk type {kind} not in the price table")
        size = float(inputs.get("size") or 10)
        replicas = 2 if res["type"].endswith("RegionDisk") else 1
        month = size * float(rate) * replicas
        return month, month, f"{size:g} GB {kind}"

    def kms_key(self, res: dict[str, Any]) -> tuple[float, float, str]:
        month = float(self.p["kmsKeyVersionMonth"])
        return month, month, "one active software key version (each rotation adds one)"

    def secret_version(self, res: dict[str, Any]) -> tuple[float, float, str]:
        month = float(self.p["secretVersionMonth"])
        return month, month, "one active secret version"


class NotPricedError(Exception):
    pass


def is_free(type_: str) -> bool:
    return type_ in FREE_TYPES or type_.startswith(FREE_PREFIXES) or type_.endswith(FREE_SUFFIXES)

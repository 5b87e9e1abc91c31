"""Monthly cost estimate of a stack from its offline plan, at idle and at peak.

    python -m tools.cost --stack dev [--markdown]

Idle is every autoscaler at its minimum, peak at its maximum. Prices come from the dated
table `tools/data/prices-<region>.json`; every resource type the plan holds is either priced,
known to cost nothing by itself, priced by usage the plan cannot know (shown with its rate,
not in the totals), or listed as "not priced". Nothing is dropped silently.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.planfile import PlanFile, get_path, short_type

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_REGION = "europe-west4"

# Types that are billed nothing by themselves (their cost, if any, is in what runs on them).
FREE_PREFIXES = ("kubernetes:", "random:", "pulumi:providers:", "tls:", "command:")
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
}
FREE_SUFFIXES = ("IAMMember", "IAMBinding", "IAMPolicy", "IamMember", "IamBinding", "IamPolicy")
# Billed by volume or traffic the plan cannot know.
USAGE_TYPES = {
    "gcp:storage/bucket:Bucket": "stored GB-month by storage class",
    "gcp:artifactregistry/repository:Repository": "stored GB-month (first 0.5 GB free)",
}


@dataclass(frozen=True)
class Item:
    component: str
    resource: str
    what: str
    idle: float  # USD per month
    peak: float


@dataclass
class Estimate:
    stack: str
    prices: dict[str, Any]
    items: list[Item] = field(default_factory=list)
    usage: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    not_priced: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    free: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def total(self, which: str) -> float:
        return sum(getattr(i, which) for i in self.items)

    def by_component(self) -> dict[str, tuple[float, float]]:
        out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for i in self.items:
            out[i.component][0] += i.idle
            out[i.component][1] += i.peak
        return {k: (v[0], v[1]) for k, v in sorted(out.items())}


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


def _is_free(type_: str) -> bool:
    return type_ in FREE_TYPES or type_.startswith(FREE_PREFIXES) or type_.endswith(FREE_SUFFIXES)


def estimate(plan: PlanFile, prices: dict[str, Any]) -> Estimate:
    pricer = Pricer(plan, prices)
    est = Estimate(stack=plan.stack, prices=prices)
    # Remote components (a Helm chart) show no children in the offline plan: price them as one.
    opaque = [r for r in plan.components() if not r["type"].startswith("estate:") and not plan.children.get(r["urn"])]
    for res in [*plan.custom(), *opaque]:
        comp = plan.component_of(res)
        comp_name = f"{comp['type']} {comp['name']}" if comp else "(stack)"
        handler = pricer.handlers.get(res["type"])
        if handler is not None:
            try:
                idle, peak, what = handler(res)
            except NotPricedError as exc:
                est.not_priced[res["type"]].append(f"{res['name']}: {exc}")
                continue
            est.items.append(Item(comp_name, res["name"], what, idle, peak))
        elif res["type"] in USAGE_TYPES:
            est.usage[res["type"]].append(res["name"])
        elif _is_free(res["type"]):
            est.free[res["type"]] += 1
        else:
            est.not_priced[res["type"]].append(f"{res['name']}: no price rule for this type")
    return est


def _usd(x: float) -> str:
    return f"${x:,.2f}" if 0 < x < 10 else f"${x:,.0f}"


def _usage_note(type_: str, prices: dict[str, Any]) -> str:
    if type_ == "gcp:storage/bucket:Bucket":
        rates = ", ".join(f"{k} ${v}/GB" for k, v in prices["storageGbMonth"].items())
        return f"{USAGE_TYPES[type_]} ({rates})"
    return USAGE_TYPES[type_]


def summary_table(est: Estimate) -> str:
    """The per-component Markdown table (the README embeds it)."""
    lines = ["| component | idle / month | peak / month |", "| --- | ---: | ---: |"]
    for comp, (idle, peak) in est.by_component().items():
        lines.append(f"| `{comp}` | {_usd(idle)} | {_usd(peak)} |")
    lines.append(f"| **total** | **{_usd(est.total('idle'))}** | **{_usd(est.total('peak'))}** |")
    return "\n".join(lines)


def render(est: Estimate, markdown: bool = False) -> str:
    p = est.prices
    head = (
        f"Monthly cost estimate for stack {est.stack} ({p['region']}, {p['currency']}, "
        f"{p['hoursPerMonth']} h/month), prices taken {p['taken']}: an estimate, list prices, no discounts."
    )
    out = [f"### {head}" if markdown else head, ""]
    if markdown:
        out.append(summary_table(est))
    else:
        for comp, (idle, peak) in est.by_component().items():
            out.append(f"  {_usd(idle):>9} idle  {_usd(peak):>9} peak  {comp}")
        out.append(f"  {_usd(est.total('idle')):>9} idle  {_usd(est.total('peak')):>9} peak  TOTAL")
    out += ["", "line items:"]
    for i in sorted(est.items, key=lambda i: (-i.peak, i.resource)):
        out.append(f"  - {i.resource}: {_usd(i.idle)} idle / {_usd(i.peak)} peak ({i.what})")
    if est.usage:
        out += ["", "priced by usage the plan cannot know (not in the totals):"]
        for t, names in sorted(est.usage.items()):
            out.append(f"  - {len(names)} x {short_type(t)}: {_usage_note(t, p)}")
    if est.not_priced:
        out += ["", "NOT PRICED (not in the totals):"]
        for t, why in sorted(est.not_priced.items()):
            out.append(f"  - {len(why)} x {t}: {why[0]}{' ...' if len(why) > 1 else ''}")
    out += ["", f"no charge by themselves: {sum(est.free.values())} resources of {len(est.free)} types"]
    out.append("sources: " + "; ".join(f"{k}: {v}" for k, v in p["sources"].items()))
    return "\n".join(out)


README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- cost-table:start -->", "<!-- cost-table:end -->"


def readme_tables(stacks: tuple[str, ...] = ("dev", "prod")) -> str:
    """The README's cost section body: one table per stack, from the current plans."""
    parts = []
    for stack in stacks:
        plan = PlanFile.for_stack(stack, rebuild=True)
        est = estimate(plan, load_prices(DEFAULT_REGION))
        parts += [f"**{stack}** (prices taken {est.prices['taken']}):", "", summary_table(est), ""]
    return "\n".join(parts)


def update_readme() -> bool:
    text = README.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    new = f"{head}{START}\n{readme_tables()}{END}{tail}"
    README.write_text(new)
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--plan", type=Path, help="plan file (default: build/plan-<stack>.json, built if missing)")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--update-readme", action="store_true", help="rewrite the README's dev and prod tables")
    args = parser.parse_args(argv)
    if args.update_readme:
        print("README cost tables " + ("updated" if update_readme() else "already current"))
        return 0
    plan = PlanFile.load(args.plan) if args.plan else PlanFile.for_stack(args.stack)
    region = next(
        (str(get_path(r, "inputs.region")) for r in plan.resources if get_path(r, "inputs.region")), DEFAULT_REGION
    )
    print(render(estimate(plan, load_prices(region)), markdown=args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The VPC's address plan: a pure function, so it is tested without Pulumi.

Ranges the stack pins explicitly are kept as given; the rest are carved out of the
supernet largest first, each aligned to its own size, skipping anything already taken.
Adding a range never moves the others, because pinned and earlier ranges are fixed first.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network

Net = IPv4Network

RANGE_ROLES = ("nodes", "pods", "services", "privateServices")


class CidrPlanError(ValueError):
    def __init__(self, role: str, message: str) -> None:
        super().__init__(message)
        self.role = role


@dataclass(frozen=True)
class CidrPlan:
    nodes: str
    pods: str
    services: str
    private_services: str

    def as_dict(self) -> dict[str, str]:
        return {
            "nodes": self.nodes,
            "pods": self.pods,
            "services": self.services,
            "privateServices": self.private_services,
        }


def overlaps(ranges: Mapping[str, str]) -> list[tuple[str, str]]:
    """Every pair of named ranges that share addresses, in a stable order."""
    items = sorted((name, ipaddress.ip_network(cidr)) for name, cidr in ranges.items())
    return [(a, b) for i, (a, na) in enumerate(items) for b, nb in items[i + 1 :] if na.overlaps(nb)]


def plan_cidrs(supernet: str, prefixes: Mapping[str, int], pinned: Mapping[str, str]) -> CidrPlan:
    """Allocate one range per role in RANGE_ROLES.

    `prefixes` gives the prefix length wanted for each role that is not pinned.
    Raises CidrPlanError naming the role that does not fit or collides.
    """
    space = IPv4Network(supernet)
    taken: list[Net] = []
    result: dict[str, Net] = {}
    for role, cidr in pinned.items():
        net = IPv4Network(cidr)
        for other_role, other in result.items():
            if net.overlaps(other):
                raise CidrPlanError(role, f"{cidr} overlaps {other_role} ({other})")
        result[role] = net
        taken.append(net)

    todo = sorted((r for r in RANGE_ROLES if r not in pinned), key=lambda r: (prefixes[r], RANGE_ROLES.index(r)))
    for role in todo:
        prefix = prefixes[role]
        if prefix < space.prefixlen:
            raise CidrPlanError(role, f"a /{prefix} does not fit in the supernet {supernet}")
        chosen = next((c for c in space.subnets(new_prefix=prefix) if not any(c.overlaps(t) for t in taken)), None)
        if chosen is None:
            raise CidrPlanError(role, f"no free /{prefix} left in the supernet {supernet}")
        result[role] = chosen
        taken.append(chosen)

    return CidrPlan(
        nodes=str(result["nodes"]),
        pods=str(result["pods"]),
        services=str(result["services"]),
        private_services=str(result["privateServices"]),
    )


# Google Cloud load balancers' health checkers (documented source ranges), for firewall rules and
# the ingress gateway's NetworkPolicy.
HEALTH_CHECK_RANGES = ("35.191.0.0/16", "130.211.0.0/22")

"""The critical path of a first `pulumi up`, through the plan's dependency graph.

    python -m tools.deploy_time --stack prod

Every resource takes its type's typical creation time (`tools/data/create-times.json`, dated;
types not in the table take its default and are listed as such). A resource starts when all
it waits for are done: its `dependencies` (a component there stands for everything under it),
and its provider. The longest chain sets the time of a first `up`. Each link says whether the
data needs it (an input uses the other's output: `propertyDependencies`, or the provider) or
only the program's ordering (`depends_on`). An order-only link is required when the cloud or the
cluster needs it and no input can say so (`required_order`: an API on before its first call, an
IAM grant propagated before its first use, CRDs and webhooks before their objects, nodes before
pods); any other order-only link on the critical chain is flagged as avoidable, with the time the
chain would take without the order-only links.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from tools.planfile import PlanFile, short_type

TIMES = Path(__file__).resolve().parent / "data" / "create-times.json"


def load_times() -> dict[str, Any]:
    times: dict[str, Any] = json.loads(TIMES.read_text())
    return times


def _provider_urn(ref: str | None) -> str | None:
    return ref.rsplit("::", 1)[0] if ref else None


@dataclass
class Graph:
    plan: PlanFile
    times: dict[str, Any]
    defaulted: dict[str, int] = field(default_factory=dict)

    @cached_property
    def nodes(self) -> dict[str, dict[str, Any]]:
        """Custom resources, plus opaque components (remote ones, e.g. a Helm chart, with no children here)."""
        return {
            r["urn"]: r
            for r in self.plan.resources
            if r["custom"] or (not r["type"].startswith("estate:") and not self.plan.children.get(r["urn"]))
        }

    def _expand(self, urns: list[str]) -> set[str]:
        out: set[str] = set()
        for urn in urns:
            if urn in self.nodes:
                out.add(urn)
            elif urn in self.plan.by_urn:
                out.update(d["urn"] for d in self.plan.descendants(urn) if d["urn"] in self.nodes)
        return out

    @cached_property
    def edges(self) -> dict[str, dict[str, str]]:
        """urn -> {dependency urn: "data" | "order"}."""
        out: dict[str, dict[str, str]] = {}
        for urn, res in self.nodes.items():
            data = self._expand([u for us in res["propertyDependencies"].values() for u in us])
            provider = _provider_urn(res.get("provider"))
            if provider in self.nodes:
                data.add(provider)
            deps = {d: "data" for d in data}
            for d in self._expand(res["dependencies"]) - data:
                deps[d] = "order"
            deps.pop(urn, None)
            out[urn] = deps
        return out

    @cached_property
    def durations(self) -> dict[str, float]:
        return {urn: self._type_time(res["type"]) for urn, res in self.nodes.items()}

    def duration(self, res: dict[str, Any]) -> float:
        return self.durations[res["urn"]]

    def _type_time(self, t: str) -> float:
        table = self.times["types"]
        if t in table:
            return float(table[t])
        for suffix, secs in self.times["suffixes"].items():
            if t.endswith(suffix):
                return float(secs)
        self.defaulted[t] = self.defaulted.get(t, 0) + 1
        return float(self.times["default"])

    def finish_times(self, *, order_edges: bool = True) -> tuple[dict[str, float], dict[str, str | None]]:
        finish: dict[str, float] = {}
        via: dict[str, str | None] = {}
        visiting: set[str] = set()

        def visit(urn: str) -> float:
            if urn in finish:
                return finish[urn]
            if urn in visiting:
                raise ValueError(f"dependency cycle through {urn}")
            visiting.add(urn)
            best, best_dep = 0.0, None
            for dep, kind in sorted(self.edges[urn].items()):
                if kind == "order" and not order_edges:
                    continue
                t = visit(dep)
                if t > best:
                    best, best_dep = t, dep
            visiting.discard(urn)
            finish[urn] = best + self.duration(self.nodes[urn])
            via[urn] = best_dep
            return finish[urn]

        for urn in self.nodes:
            visit(urn)
        return finish, via


CHART = "kubernetes:helm.sh/v4:Chart"
# Predecessor types whose order-only links the cloud or the cluster requires, and why.
_REQUIRED_AFTER = {
    "gcp:projects/service:Service": "the API is on before its first call",
    "time:index/sleep:Sleep": "the IAM grant has propagated before its first use",
    "gcp:projects/serviceIdentity:ServiceIdentity": "the service agent exists before its grant",
    "gcp:container/nodePool:NodePool": "pods need nodes",
    "kubernetes:core/v1:Namespace": "the namespace exists first",
    # Topics and users: the cluster's entity operator reconciles them and removes their finalizers.
    "kubernetes:kafka.strimzi.io/v1:Kafka": "the cluster's entity operator reconciles it and outlives it",
}
# (predecessor, successor) pairs the software requires although no input names the predecessor.
_REQUIRED_PAIRS = {
    # A chart's pods start with what they mount and connect to (Harbor: its Secrets, certificates,
    # service accounts and the database proxy); Chart v4 waits for them to be Ready.
    ("kubernetes:external-secrets.io/v1:ExternalSecret", CHART): "its pods mount the Secret External Secrets writes",
    ("kubernetes:cert-manager.io/v1:Certificate", CHART): "its pods mount the certificate's Secret",
    ("kubernetes:core/v1:ServiceAccount", CHART): "its pods run as the account",
    ("kubernetes:apps/v1:Deployment", CHART): "its pods connect to it at start-up",
    # Harbor's API is served once its chart is Ready and reached through the gateway on its name.
    (CHART, "harbor:index/project:Project"): "the provider calls the deployed Harbor",
    ("kubernetes:cert-manager.io/v1:Certificate", "harbor:index/project:Project"): "Harbor serves that certificate",
    ("gcp:dns/recordSet:RecordSet", "harbor:index/project:Project"): "the provider reaches Harbor by that name",
    ("harbor:index/project:Project", "harbor:index/robotAccount:RobotAccount"): "its permissions name the project",
}


def required_order(before: str, after: str) -> str | None:
    """Why `after` must wait for `before` although no input of it names `before`; None: it need not."""
    if before in _REQUIRED_AFTER:
        return _REQUIRED_AFTER[before]
    if (before, after) in _REQUIRED_PAIRS:
        return _REQUIRED_PAIRS[(before, after)]
    if before.endswith(("IAMMember", "IamMember", "IAMBinding", "IamBinding")):
        return "the grant exists before its first use"
    if before == CHART and (after == CHART or (after.startswith("kubernetes:") and after.count(":") == 2)):
        return "the earlier chart's CRDs and webhooks serve it"
    return None


@dataclass(frozen=True)
class Link:
    urn: str
    type: str
    name: str
    seconds: float
    ends_at: float
    waits_by: str | None  # how this link waits for the previous one: "data", "order" or None (first)
    required: str | None = None  # for an order-only link: why the platform needs it (None: avoidable)


@dataclass
class Report:
    stack: str
    total: float
    chain: list[Link]
    total_without_order: float
    order_edges: int
    defaulted: dict[str, int]
    times: dict[str, Any]

    @property
    def flagged(self) -> list[Link]:
        """Avoidable order-only links on the critical chain."""
        return [link for link in self.chain if link.waits_by == "order" and link.required is None]


def critical_path(plan: PlanFile, times: dict[str, Any]) -> Report:
    graph = Graph(plan, times)
    if not graph.nodes:
        return Report(plan.stack, 0.0, [], 0.0, 0, {}, times)
    finish, via = graph.finish_times()
    end = max(finish, key=lambda u: (finish[u], u))
    urns: list[str] = []
    cur: str | None = end
    while cur is not None:
        urns.append(cur)
        cur = via[cur]
    urns.reverse()
    chain = []
    for i, urn in enumerate(urns):
        res = graph.nodes[urn]
        kind = graph.edges[urn][urns[i - 1]] if i else None
        why = required_order(graph.nodes[urns[i - 1]]["type"], res["type"]) if kind == "order" else None
        chain.append(Link(urn, res["type"], res["name"], graph.duration(res), finish[urn], kind, why))
    without, _ = graph.finish_times(order_edges=False)
    order_edges = sum(kind == "order" for deps in graph.edges.values() for kind in deps.values())
    defaulted = {t: n for t, n in graph.defaulted.items()}
    return Report(plan.stack, finish[end], chain, max(without.values()), order_edges, defaulted, times)


def _mmss(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m}m{s:02d}s"


def render(rep: Report) -> str:
    out = [
        f"First `pulumi up` of stack {rep.stack}: about {_mmss(rep.total)} along the critical path "
        f"(typical creation times taken {rep.times['taken']}: an estimate).",
        "",
        "the chain that sets it:",
    ]
    for link in rep.chain:
        mark = {"data": "uses", "order": "ORDER ONLY", None: "start"}[link.waits_by]
        if link.waits_by == "order" and link.required:
            mark = "required"
        line = (
            f"  {_mmss(link.ends_at):>7}  +{_mmss(link.seconds):>6}  [{mark:>10}]  {short_type(link.type)} {link.name}"
        )
        out.append(line + (f"  ({link.required})" if link.required else ""))
    if rep.flagged:
        out += ["", "FLAG: ordering the program adds that neither the data nor the platform needs, on the chain:"]
        for link in rep.flagged:
            out.append(f"  - {short_type(link.type)} {link.name} waits for its predecessor only through depends_on")
        out.append(
            f"  without order-only links the first up would take about {_mmss(rep.total_without_order)} "
            f"(a depends_on may still be right, e.g. APIs before their resources: review, do not just drop)"
        )
    out.append(f"order-only links in the whole plan: {rep.order_edges}")
    if rep.defaulted:
        out += ["", f"default time ({rep.times['default']} s) for types not in the table:"]
        out += [f"  - {n} x {t}" for t, n in sorted(rep.defaulted.items())]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--plan", type=Path, help="plan file (default: build/plan-<stack>.json, built if missing)")
    args = parser.parse_args(argv)
    plan = PlanFile.load(args.plan) if args.plan else PlanFile.for_stack(args.stack)
    print(render(critical_path(plan, load_times())))
    return 0


if __name__ == "__main__":
    sys.exit(main())

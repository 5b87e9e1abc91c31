"""Monthly cost estimate of a stack from its offline plan, at idle and at peak.

    python -m tools.cost --stack dev [--markdown]

Idle is every autoscaler at its minimum, peak at its maximum. Prices come from the dated
table `tools/data/prices-<region>.json`; every resource type the plan holds is either priced,
known to cost nothing by itself, priced by usage the plan cannot know (shown with its rate,
not in the totals), or listed as "not priced". Nothing is dropped silently.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.planfile import PlanFile, get_path, short_type
from tools.pricing import (
    DEFAULT_REGION,
    USAGE_TYPES,
    NotPricedError,
    Pricer,
    is_free,
    load_prices,
)


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
        elif is_free(res["type"]):
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
    for caveat in p.get("caveats", []):
        out.append(f"caveat: {caveat}")
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

"""A picture of the estate from its offline plan: layers, components and their dependencies.

    python -m tools.graph --stack prod        # build/estate-prod.{dot,svg,png}

Drawn top-down, one row (cluster) per layer in build order: cloud, platform, then any later
layer. One box per component (a `estate:<module>:<Type>` ComponentResource) with the number
of resources it holds (a Helm chart inside it counts as a chart); no box per resource. One
arrow per pair of components: A -> B says that resources of A wait for something in B (an
input uses B's output, or B's provider; dashed when only the program's ordering asks for it).
The arrow's number (and its width) is how many of A's resources wait. A pair that also follows
from a chain of other arrows (A -> B -> C makes A -> C a transitive duplicate) is left out, so
the picture stays readable and what waits for what stays the same; `--all-edges` draws those
too, light. The PNG fits the README: at most `MAX_WIDTH_PX` wide with 12 pt text or larger.
Drawn by Graphviz's `dot` (Debian package `graphviz`).

    python -m tools.graph --stack prod --all-edges   # every pair, transitive ones light
"""

from __future__ import annotations

import argparse
import html
import math
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tools.deploy_time import Graph, load_times
from tools.planfile import ROOT, PlanFile, short_type

COMPONENTS = ROOT / "components"
# The layers in build order; layers found in the plan but not listed here come after them.
LAYER_ORDER = ("cloud", "platform", "data", "observability", "cells", "inference", "automation")
# A layer's components of one type beyond this many are drawn as one box (`Cell × 9`): a map users
# extend (cells, models) would otherwise widen the picture past the README's width.
BUNDLE_AT = 4
SHARED_PACKAGES = frozenset({"kube"})  # what every layer builds with: not a layer of its own
LAYER_COLOURS = {"cloud": "#e8f0fe", "platform": "#e6f4ea", "data": "#fef7e0", "observability": "#fce8e6"}
OTHER_COLOURS = ("#fef7e0", "#fce8e6", "#f3e8fd", "#e4f7fb")
DPI = 96  # the PNG's resolution: 12 pt text is 16 px
# The README's picture; `size` scales a wider drawing down to it. 1400 since the sixth layer (the
# sandbox's edges from the cloud and the platform run along its side).
MAX_WIDTH_PX = 1400
FONT_PT = 13  # box text (names and counts 12 pt)
_TOKEN = re.compile(r"""["'](estate:[\w./-]+:\w+)["']""")


@cache
def layer_packages() -> dict[str, str]:
    """Component type token -> the layer package (`components/<layer>/`) whose source registers it."""
    found: dict[str, str] = {}
    if not COMPONENTS.is_dir():
        return found
    for pkg in sorted(p for p in COMPONENTS.iterdir() if (p / "__init__.py").is_file()):
        for path in sorted(pkg.rglob("*.py")):
            for token in _TOKEN.findall(path.read_text(encoding="utf-8")):
                found.setdefault(token, pkg.name)
    return found


def layer_names() -> set[str]:
    if not COMPONENTS.is_dir():
        return set(LAYER_ORDER)
    packages = {p.name for p in COMPONENTS.iterdir() if (p / "__init__.py").is_file()}
    return set(LAYER_ORDER) | (packages - SHARED_PACKAGES)


def layer_of(plan: PlanFile, comp: dict[str, Any]) -> str:
    """The layer a component lives in: a module path (`estate:cloud/network:...`), the layer
    package defining the type token (`components/<layer>/`: the cloud layer's `estate:data:Database`
    is the cloud's, though a `data` layer exists), a layer component's own module
    (`estate:cloud:Layer`), else by what the component holds."""
    parts = comp["type"].split(":")
    if len(parts) == 3 and parts[0] == "estate":
        module = parts[1]
        for sep in ("/", "."):
            if sep in module:
                return module.split(sep)[0]
        if comp["type"] in layer_packages():
            package = layer_packages()[comp["type"]]
            # A component of the shared package (components/kube) belongs to the layer that made it.
            parent = plan.by_urn.get(comp.get("parent") or "")
            if package in SHARED_PACKAGES and parent is not None:
                return layer_of(plan, parent)
            if package not in SHARED_PACKAGES:
                return package
        if module in layer_names() or parts[2] == "Layer":
            return module
    kinds = {
        d["type"].split(":")[2 if d["type"].startswith("pulumi:providers:") else 0]
        for d in plan.descendants(comp["urn"])
        if d["custom"]
    }
    if not comp["type"].startswith("estate:") or kinds & {"kubernetes", "helm"}:
        return "platform"
    return "cloud" if kinds <= {"gcp", "random", "docker"} else "other"


def is_layer_component(comp: dict[str, Any]) -> bool:
    """A component standing for a whole layer (`estate:cloud:Layer`, `estate:apps:Layer`): a group, not a box.
    A component a layer package registers under a module named like a layer (the cloud layer's
    `estate:data:Database`) is an ordinary component."""
    parts = comp["type"].split(":")
    if len(parts) != 3 or parts[0] != "estate":
        return False
    return parts[2] == "Layer" or (parts[1] in layer_names() and comp["type"] not in layer_packages())


def _components_above(plan: PlanFile, res: dict[str, Any]) -> list[dict[str, Any]]:
    """The components holding `res` (itself included if it is one), outermost first."""
    chain = [] if res["custom"] else [res]
    node = plan.by_urn.get(res["parent"] or "")
    while node is not None:
        if not node["custom"]:
            chain.append(node)
        node = plan.by_urn.get(node["parent"] or "")
    return chain[::-1]


def _box_of(plan: PlanFile, res: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    chain = _components_above(plan, res)
    layer = None
    if len(chain) >= 2 and is_layer_component(chain[0]):
        layer, chain = layer_of(plan, chain[0]), chain[1:]
    if not chain:
        return None
    box = next((c for c in chain if c["type"].startswith("estate:")), chain[0])
    return box, layer or layer_of(plan, box)


def boxes(plan: PlanFile, nodes: dict[str, dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """node urn -> the component box it is counted in, and box urn -> its layer.

    The box is the outermost `estate:` component holding the node (a Helm chart or a nested
    component folds into it); under a layer component, the outermost one below it, grouped
    under that layer. A component outside any `estate:` component (a chart under the stack)
    is its own box. Every `estate:` component gets its box, holding resources or not.
    """
    owner: dict[str, str] = {}
    group: dict[str, str] = {}
    for urn, res in nodes.items():
        found = _box_of(plan, res)
        if found is not None:
            owner[urn] = found[0]["urn"]
            group[found[0]["urn"]] = found[1]
    for comp in plan.components():
        if comp["type"].startswith("estate:") and not (is_layer_component(comp) and plan.children.get(comp["urn"])):
            found = _box_of(plan, comp)
            if found is not None:
                group.setdefault(found[0]["urn"], found[1])
    return owner, group


@dataclass
class Picture:
    """The component graph drawn: boxes by layer, and one edge per (dependency, dependent) pair."""

    layers: list[str]
    members: dict[str, list[str]]  # layer -> box urns
    resources: dict[str, Counter[str]]  # box urn -> {"resources": n, "charts": n}
    bundles: dict[str, list[str]] = field(default_factory=dict)  # box urn -> the components it stands for
    edges: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (dep, user) -> info


def picture(plan: PlanFile) -> Picture:
    graph = Graph(plan, load_times())
    owner, group = boxes(plan, graph.nodes)
    bundles = bundle(plan, group)
    stands_for = {urn: box for box, urns in bundles.items() for urn in urns}
    owner = {urn: stands_for.get(box, box) for urn, box in owner.items()}
    group = {box: layer for box, layer in group.items() if stands_for.get(box, box) == box}
    counts: dict[str, Counter[str]] = {urn: Counter() for urn in group}
    for urn, box in owner.items():
        counts[box]["resources" if graph.nodes[urn]["custom"] else "charts"] += 1
    waiting: dict[tuple[str, str], set[str]] = defaultdict(set)
    kinds: dict[tuple[str, str], set[str]] = defaultdict(set)
    for urn, deps in graph.edges.items():
        user = owner.get(urn)
        for dep, kind in deps.items():
            needed = owner.get(dep)
            if user is None or needed is None or user == needed:
                continue
            waiting[(needed, user)].add(urn)
            kinds[(needed, user)].add(kind)
    index = {r["urn"]: i for i, r in enumerate(plan.resources)}
    first_seen: dict[str, int] = {}
    for box, layer in group.items():
        first_seen[layer] = min(first_seen.get(layer, len(index)), index.get(box, len(index)))
    known = [layer for layer in LAYER_ORDER if layer in first_seen]
    later = sorted((layer for layer in first_seen if layer not in LAYER_ORDER), key=lambda x: (first_seen[x], x))
    members: dict[str, list[str]] = defaultdict(list)
    for box in sorted(group, key=lambda u: (plan.by_urn[u]["type"], plan.by_urn[u]["name"])):
        members[group[box]].append(box)
    implied = implied_pairs(set(waiting))
    edges = {
        pair: {"count": len(users), "data": "data" in kinds[pair], "implied": pair in implied}
        for pair, users in sorted(waiting.items())
    }
    return Picture(known + later, dict(members), counts, edges=edges, bundles=bundles)


def bundle(plan: PlanFile, group: dict[str, str]) -> dict[str, list[str]]:
    """First box of each (layer, type) with more than BUNDLE_AT members -> every member, by name."""
    by_kind: dict[tuple[str, str], list[str]] = defaultdict(list)
    for box, layer in group.items():
        by_kind[(layer, plan.by_urn[box]["type"])].append(box)
    out = {}
    for urns in by_kind.values():
        if len(urns) > BUNDLE_AT:
            ordered = sorted(urns, key=lambda u: plan.by_urn[u]["name"])
            out[ordered[0]] = ordered
    return out


def reaches(start: str, goal: str, pairs: set[tuple[str, str]]) -> bool:
    seen: set[str] = set()
    todo = [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(b for a, b in pairs if a == node)
    return False


def implied_pairs(pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The transitive duplicates: pairs that also follow from a chain of the others. Taken out one
    at a time against what is left, so what waits for what stays the same even through cycles."""
    kept = set(pairs)
    for pair in sorted(pairs):
        rest = kept - {pair}
        if reaches(pair[0], pair[1], rest):
            kept = rest
    return pairs - kept


def _prefix(names: list[str]) -> str:
    """The naming prefix all components share (`estate-prod-`), cut at a dash."""
    if len(names) < 2:
        return ""
    split = [name.split("-") for name in names]
    shared: list[str] = []
    for words in zip(*(parts[:-1] for parts in split), strict=False):  # every name keeps its last word
        if len(set(words)) > 1:
            break
        shared.append(words[0])
    return "".join(f"{word}-" for word in shared)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _label(comp: dict[str, Any], prefix: str, counts: Counter[str], names: list[str] | None = None) -> str:
    """`names`: the components a bundled box stands for (its title says how many, its line the first and last)."""
    parts = comp["type"].split(":")
    title = parts[2] if parts[0] == "estate" and len(parts) == 3 else short_type(comp["type"])

    def short(full: str) -> str:
        return full[len(prefix) :] if full.startswith(prefix) and full != prefix else full

    name = short(comp["name"])
    if names and len(names) > 1:
        title = f"{title} × {len(names)}"
        name = f"{short(names[0])} … {short(names[-1])}"
    what = [_plural(counts["resources"], "resource")]
    if counts["charts"]:
        what.append(_plural(counts["charts"], "chart"))
    return (
        f'<<B>{html.escape(title)}</B><BR/><FONT POINT-SIZE="12" COLOR="#5f6368">{html.escape(name)}</FONT>'
        f'<BR/><FONT POINT-SIZE="12">{html.escape(" · ".join(what))}</FONT>>'
    )


def _colour(layer: str, i: int) -> str:
    return LAYER_COLOURS.get(layer, OTHER_COLOURS[i % len(OTHER_COLOURS)])


def to_dot(plan: PlanFile, *, all_edges: bool = False) -> str:
    """The DOT text: a cluster per layer, top-down in layer order, a box per component and an edge per
    pair (transitive duplicates left out unless `all_edges`, then drawn light)."""
    pic = picture(plan)
    order = [urn for layer in pic.layers for urn in pic.members[layer]]
    ids = {urn: f"c{i}" for i, urn in enumerate(order)}
    layer_index = {urn: i for i, layer in enumerate(pic.layers) for urn in pic.members[layer]}
    prefix = _prefix([plan.by_urn[u]["name"] for u in order])
    drawn = {pair: info for pair, info in pic.edges.items() if all_edges or not info["implied"]}
    components = sum(len(pic.bundles.get(u, [u])) for u in order)
    title = f"ai-estate / {plan.stack}: {sum(1 for _ in plan.custom())} resources in {components} components"
    left_out = len(pic.edges) - len(drawn)
    legend = [
        "arrow A → B: A waits for B (solid: uses B's outputs or provider; dashed: ordering only)",
        "number and width: how many of A's resources wait"
        + (f"; {left_out} of {len(pic.edges)} pairs implied by a chain of arrows left out" if left_out else ""),
    ]
    legend += [f"component names without {prefix}"] if prefix else []
    legend_html = "".join(f'<BR/><FONT POINT-SIZE="12">{html.escape(line)}</FONT>' for line in legend)
    lines = [
        "digraph estate {",
        f"  graph [label=<<B>{html.escape(title)}</B>{legend_html}>,",
        '         labelloc=t, fontname="Helvetica", fontsize=18, rankdir=TB, newrank=true,',
        f'         nodesep=0.06, ranksep=0.2, pad=0.15, size="{MAX_WIDTH_PX / DPI:g},40", outputorder=edgesfirst];',
        f'  node [shape=box, style="rounded,filled", fillcolor=white, color="#80868b", fontname="Helvetica",'
        f' fontsize={FONT_PT}, margin="0.08,0.04"];',
        '  edge [color="#5f6368", arrowsize=0.6, dir=back, fontname="Helvetica", fontsize=12, fontcolor="#5f6368"];',
    ]
    for i, layer in enumerate(pic.layers):
        urns = pic.members[layer]
        held = sum(pic.resources[u]["resources"] for u in urns)
        components = sum(len(pic.bundles.get(u, [u])) for u in urns)
        sub = f"{_plural(components, 'component')} · {_plural(held, 'resource')}"
        lines.append(f'  subgraph "cluster_{i}" {{')
        lines.append(
            f'    label=<<B>{html.escape(layer)} layer</B>  <FONT POINT-SIZE="12">{html.escape(sub)}</FONT>>;'
            f' labeljust=l; fontsize=16; style="rounded,filled"; fillcolor="{_colour(layer, i)}"; color="#dadce0";'
        )
        for urn in urns:
            comp = plan.by_urn[urn]
            names = [plan.by_urn[u]["name"] for u in pic.bundles.get(urn, [])]
            tip = html.escape(f"{comp['type']} {', '.join(names) or comp['name']}", quote=True)
            label = _label(comp, prefix, pic.resources[urn], names)
            lines.append(f'    {ids[urn]} [label={label}, tooltip="{tip}"];')
        lines.append("  }")
    # Layers top-down in order: each layer's boxes rank above an invisible gate, the next layer's below it.
    for i in range(len(pic.layers) - 1):
        gate = f"gate{i}"
        lines.append(f'  {gate} [shape=point, style=invis, width=0, height=0, label=""];')
        lines += [f"  {ids[urn]} -> {gate} [style=invis, dir=none];" for urn in pic.members[pic.layers[i]]]
        lines += [f"  {gate} -> {ids[urn]} [style=invis, dir=none];" for urn in pic.members[pic.layers[i + 1]]]
    for (needed, user), info in drawn.items():
        n = info["count"]
        tip = f"{plan.by_urn[user]['name']} waits for {plan.by_urn[needed]['name']}: {_plural(n, 'resource')}"
        attrs = [
            f"penwidth={(0.6 if info['implied'] else 1) + min(math.log2(n), 5) * 0.5:.2f}",
            f'label=<<TABLE BORDER="0" CELLPADDING="2" BGCOLOR="white"><TR><TD>{n}</TD></TR></TABLE>>',
            f'tooltip="{html.escape(tip, quote=True)}"',
        ]
        if not info["data"]:
            attrs.append("style=dashed")
        if info["implied"]:
            attrs += ['color="#bdc1c6"', "arrowsize=0.45"]
        if layer_index[needed] > layer_index[user]:
            attrs.append("constraint=false")  # against the layer order: drawn, not ranked
        # dependency -> dependent ranks the dependency above; dir=back points the arrow at it ("waits for")
        lines.append(f"  {ids[needed]} -> {ids[user]} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_text: str, out_base: Path) -> list[Path]:
    dot = shutil.which("dot")
    if dot is None:
        raise SystemExit("Graphviz's `dot` is not installed (Debian: apt-get install graphviz)")
    out_base.parent.mkdir(parents=True, exist_ok=True)
    dot_file = out_base.with_suffix(".dot")
    dot_file.write_text(dot_text)
    written = [dot_file]
    for fmt in ("svg", "png"):
        target = out_base.with_suffix(f".{fmt}")
        extra = [f"-Gdpi={DPI}"] if fmt == "png" else []
        subprocess.run([dot, f"-T{fmt}", *extra, "-o", str(target), str(dot_file)], check=True)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--plan", type=Path, help="plan file (default: build/plan-<stack>.json, built if missing)")
    parser.add_argument("--out", type=Path, help="output path without suffix (default build/estate-<stack>)")
    parser.add_argument(
        "--all-edges", action="store_true", help="also draw (light) the pairs implied by a chain of others"
    )
    args = parser.parse_args(argv)
    plan = PlanFile.load(args.plan) if args.plan else PlanFile.for_stack(args.stack)
    out = args.out or ROOT / "build" / f"estate-{args.stack}"
    for path in render(to_dot(plan, all_edges=args.all_edges), out):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

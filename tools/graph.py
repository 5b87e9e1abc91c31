"""A picture of the estate from its offline plan: layers, components and their dependencies.

    python -m tools.graph --stack prod        # build/estate-prod.{dot,svg,png}

Components are boxes with their resource counts, grouped by layer; an arrow A -> B says that
something in A waits for something in B (solid when an input uses B's output, dashed when only
the program's ordering asks for it). Drawn by Graphviz's `dot` (Debian package `graphviz`).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from tools.deploy_time import Graph, load_times
from tools.planfile import ROOT, PlanFile, short_type

LAYER_COLOURS = {"cloud": "#e8f0fe", "platform": "#e6f4ea", "other": "#fef7e0"}


# The estate's component modules (`estate:<module>:<Type>`) by the layer that builds them.
LAYERS = {
    **dict.fromkeys(("project", "security", "network", "registry", "cluster", "storage", "identity", "data"), "cloud"),
    **dict.fromkeys(("namespaces", "certs", "secrets", "mesh", "signing", "backup", "migrations"), "platform"),
}


def layer_of(plan: PlanFile, comp: dict[str, Any]) -> str:
    """The layer of an estate module (LAYERS), a module path (`estate:cloud/network:...`), else by what the
    component holds."""
    parts = comp["type"].split(":")
    if len(parts) == 3 and parts[0] == "estate" and parts[1] in LAYERS:
        return LAYERS[parts[1]]
    if len(parts) == 3 and parts[0] == "estate":
        for sep in ("/", "."):
            if sep in parts[1]:
                return parts[1].split(sep)[0]
    kinds = {
        d["type"].split(":")[2 if d["type"].startswith("pulumi:providers:") else 0]
        for d in plan.descendants(comp["urn"])
        if d["custom"]
    }
    if not comp["type"].startswith("estate:") or kinds & {"kubernetes", "helm"}:
        return "platform"
    return "cloud" if kinds <= {"gcp", "random", "docker"} else "other"


def _box(plan: PlanFile, comp: dict[str, Any]) -> str:
    counts = Counter(short_type(d["type"]) for d in plan.descendants(comp["urn"]) if d["custom"])
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))  # stable across plan orders
    top = ", ".join(f"{n} {t}" for t, n in ranked[:3])
    more = f" +{len(counts) - 3} types" if len(counts) > 3 else ""
    total = sum(counts.values())
    detail = f"\\n{total} resources: {top}{more}" if total else ""
    return f"{short_type(comp['type'])}\\n{comp['name']}{detail}"


def _components_above(plan: PlanFile, res: dict[str, Any]) -> list[dict[str, Any]]:
    """The components holding `res` (itself included if it is one), outermost first."""
    chain = [] if res["custom"] else [res]
    node = plan.by_urn.get(res["parent"] or "")
    while node is not None:
        if not node["custom"]:
            chain.append(node)
        node = plan.by_urn.get(node["parent"] or "")
    return chain[::-1]


def boxes(plan: PlanFile, nodes: dict[str, dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """node urn -> the box drawn for it, and box urn -> its group.

    A component directly under the stack is a box, grouped by `layer_of`. A component that
    holds other components (a layer component) becomes the group and its components the boxes.
    """
    owner: dict[str, str] = {}
    group: dict[str, str] = {}
    for urn, res in nodes.items():
        chain = _components_above(plan, res)
        if not chain:
            continue
        if len(chain) >= 2:
            box, grp = chain[1], f"{short_type(chain[0]['type'])} {chain[0]['name']}"
        else:
            box, grp = chain[0], f"{layer_of(plan, chain[0])} layer"
        owner[urn] = box["urn"]
        group[box["urn"]] = grp
    return owner, group


def to_dot(plan: PlanFile) -> str:
    graph = Graph(plan, load_times())
    owner, group = boxes(plan, graph.nodes)
    tops = set(group)
    edges: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for urn, deps in graph.edges.items():
        for dep, kind in deps.items():
            a, b = owner.get(urn), owner.get(dep)
            if a is not None and b is not None and a != b:
                edges[(a, b)][kind] += 1
    layers: dict[str, list[str]] = defaultdict(list)
    for urn in sorted(tops):
        layers[group[urn]].append(urn)
    ids = {urn: f"c{i}" for i, urn in enumerate(sorted(tops))}
    lines = [
        "digraph estate {",
        f'  label="ai-estate / {plan.stack}: {sum(1 for _ in plan.custom())} resources, '
        f'{len(tops)} components"; labelloc=t; fontname="Helvetica"; fontsize=18;',
        "  rankdir=TB; newrank=true; nodesep=0.25; ranksep=0.6;",
        '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica", fontsize=10];',
        '  edge [color="#5f6368", arrowsize=0.7, fontname="Helvetica", fontsize=9];',
    ]
    for i, (layer, urns) in enumerate(sorted(layers.items())):
        lines.append(f'  subgraph "cluster_{i}" {{')
        colour = next((c for key, c in LAYER_COLOURS.items() if key in layer.lower()), "#f1f3f4")
        lines.append(f'    label="{layer}"; style="rounded,filled"; fillcolor="{colour}"; color="#dadce0";')
        for urn in urns:
            lines.append(f'    {ids[urn]} [label="{_box(plan, plan.by_urn[urn])}"];')
        lines.append("  }")
    for (a, b), kinds in sorted(edges.items()):
        style = "solid" if kinds["data"] else "dashed"
        label = sum(kinds.values())
        lines.append(f'  {ids[a]} -> {ids[b]} [style={style}, label="{label}"];')
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
        extra = ["-Gdpi=110"] if fmt == "png" else []
        subprocess.run([dot, f"-T{fmt}", *extra, "-o", str(target), str(dot_file)], check=True)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--plan", type=Path, help="plan file (default: build/plan-<stack>.json, built if missing)")
    parser.add_argument("--out", type=Path, help="output path without suffix (default build/estate-<stack>)")
    args = parser.parse_args(argv)
    plan = PlanFile.load(args.plan) if args.plan else PlanFile.for_stack(args.stack)
    out = args.out or ROOT / "build" / f"estate-{args.stack}"
    for path in render(to_dot(plan), out):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

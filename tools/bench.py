"""Speed budgets, as ratios measured in one run: a fresh process per command, the commands interleaved.

    python -m tools.bench            # prints the table, exits 1 when a budget is missed

The prod plan's cost is the provider SDK classes it imports, so its budget is relative to that
floor rather than an absolute time (which says more about the machine than the program):

- **import floor**: a fresh interpreter that imports `pulumi` and exactly the SDK classes whose
  types the prod plan registers (read from the plan just written: `gcp:container/cluster:Cluster`
  -> `from pulumi_gcp.container import Cluster`, `kubernetes:apps/v1:Deployment` ->
  `from pulumi_kubernetes.apps.v1 import Deployment`, through the SDKs' own type tables), with
  the plan's process settings (garbage collector off, `gc.freeze()` before exit);
- **plan**: `python -m tools.plan --stack prod --quiet` (written to a temporary file);
- **gate with charts**: `python -m tools.gate --stack prod --require-charts` over the chart cache
  (`$ESTATE_CHART_CACHE`, else build/charts). Where the cache lacks a pinned chart, the gate is
  measured without charts and the table says so.

Budgets: plan / import floor <= 1.3; gate with charts / plan <= 3.0. Each round runs the commands
once each in a rotating order, after one warm-up round (disk cache, bytecode); the ratios are of
the medians. Also reported, not budgeted: the plan in a warm process (SDKs already loaded), the
part of the cost this program controls.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import pkgutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLAN_BUDGET = 1.3  # plan / import floor
GATE_BUDGET = 3.0  # gate with every chart rendered / plan
COMPONENT_PREFIXES = ("pulumi:pulumi:Stack",)
# Types registered through a class the SDK's type table does not list: custom resources of any
# API group go through pulumi-kubernetes' CustomResource; Python dynamic resources through pulumi.dynamic.
FALLBACK_CLASSES = {
    "kubernetes": ("pulumi_kubernetes.apiextensions", "CustomResource"),
    "pulumi-python": ("pulumi.dynamic", "Resource"),
}


# ---------------------------------------------------------------- the import floor
@cache
def sdk_type_table() -> dict[str, tuple[str, str]]:
    """Every resource type token the installed Pulumi SDKs register -> (module, class).

    Read from each SDK package's `_utilities.register(resource_modules=..., resource_packages=...)`
    call in its `__init__.py`, without importing it."""
    table: dict[str, tuple[str, str]] = {}
    for module in pkgutil.iter_modules():
        if not module.name.startswith(("pulumi_", "pulumiverse_")):
            continue
        spec = importlib.util.find_spec(module.name)
        if spec is None or spec.origin is None or not spec.origin.endswith("__init__.py"):
            continue
        source = Path(spec.origin).read_text()
        if "_utilities.register(" not in source:
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "register":
                for keyword in node.keywords:
                    if not isinstance(keyword.value, ast.Constant) or not isinstance(keyword.value.value, str):
                        continue
                    for entry in json.loads(keyword.value.value):
                        if keyword.arg == "resource_modules":
                            table.update({t: (entry["fqn"], cls) for t, cls in entry["classes"].items()})
                        elif keyword.arg == "resource_packages":
                            table[entry["token"]] = (entry["fqn"], entry["class"])
    return table


def sdk_imports(types: Iterable[str], components: Iterable[str] = ()) -> tuple[dict[str, set[str]], list[str]]:
    """module -> the classes of it the types need; and the types no SDK class stands for (the
    program's own component types, among `components`, are not expected to have one)."""
    table = sdk_type_table()
    imports: dict[str, set[str]] = {}
    missing = []
    skip = set(components)
    for type_ in sorted(set(types)):
        # An SDK's own components (Chart v4) are in its table; the program's are not.
        found = table.get(type_)
        if found is None and (type_ in skip or type_.startswith(COMPONENT_PREFIXES)):
            continue
        found = found or FALLBACK_CLASSES.get(type_.split(":", 1)[0])
        if found is None:
            missing.append(type_)
            continue
        imports.setdefault(found[0], set()).add(found[1])
    return imports, missing


def floor_script(imports: Mapping[str, set[str]]) -> str:
    lines = ["import gc", "gc.disable()", "import pulumi"]
    lines += [f"from {module} import {', '.join(sorted(classes))}" for module, classes in sorted(imports.items())]
    lines.append("gc.freeze()")
    return "\n".join(lines) + "\n"


def plan_types(plan_file: Path) -> tuple[list[str], list[str]]:
    """The plan's registered types, and those of its components (custom: false)."""
    resources = json.loads(plan_file.read_text())["resources"]
    return [r["type"] for r in resources], [r["type"] for r in resources if not r.get("custom", True)]


# ---------------------------------------------------------------- the chart cache
def charts_filled(plan_file: Path) -> tuple[bool, Path, list[str]]:
    """Whether the chart cache holds every chart the plan pins, where it is, and what it lacks."""
    from tools.charts.refs import ChartRefError, archive_path, cache_dir, chart_ref, charts_of

    cache = cache_dir()
    lacking = []
    for chart in charts_of(json.loads(plan_file.read_text())["resources"]):
        try:
            ref = chart_ref(chart["inputs"])
        except ChartRefError as exc:
            lacking.append(str(exc))
            continue
        if not archive_path(ref, cache).is_file():
            lacking.append(str(ref))
    return not lacking, cache, lacking


def charts_rendered() -> str:
    """How many charts and objects the last gate run rendered, from the plan file it recorded them in."""
    charts = json.loads((ROOT / "build" / "plan-prod.json").read_text()).get("charts", {})
    rendered = [c for c in charts.values() if "rendered" in c]
    return f"{len(rendered)} charts, {sum(len(c['rendered']) for c in rendered)} objects rendered"


# ---------------------------------------------------------------- timing
@dataclass
class Command:
    name: str
    argv: list[str]
    ok_codes: tuple[int, ...] = (0,)

    def run(self) -> float:
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        start = time.perf_counter()
        done = subprocess.run(self.argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        if done.returncode not in self.ok_codes:
            sys.stderr.write(done.stderr.decode(errors="replace")[-3000:])
            raise SystemExit(f"bench: `{' '.join(self.argv[1:])}` exited {done.returncode}: nothing to measure")
        return elapsed


def interleaved(commands: list[Command], runs: int) -> dict[str, list[float]]:
    """`runs` rounds of every command once, the order rotating each round, after a warm-up round."""
    for command in commands:
        command.run()
    samples: dict[str, list[float]] = {c.name: [] for c in commands}
    for i in range(runs):
        for command in commands[i % len(commands) :] + commands[: i % len(commands)]:
            samples[command.name].append(command.run())
    return samples


def warm_plan_seconds(runs: int) -> float:
    from tools.plan import run_plan

    run_plan("prod")  # loads the provider SDKs once

    def once() -> float:
        start = time.perf_counter()
        run_plan("prod")
        return time.perf_counter() - start

    return statistics.median(once() for _ in range(runs))


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s ({min(values):.2f}-{max(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="rounds of the interleaved commands (default 7)")
    args = parser.parse_args(argv)
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        plan_file = Path(tmp) / "plan-prod.json"
        plan = Command("plan", [py, "-m", "tools.plan", "--stack", "prod", "--quiet", "--out", str(plan_file)])
        plan.run()  # the plan the floor's imports are read from
        imports, unmapped = sdk_imports(*plan_types(plan_file))
        script = floor_script(imports)
        filled, cache, lacking = charts_filled(plan_file)
        # The gate exits 1 on a mandatory violation: its time is still the gate's time.
        if filled:
            gate_name = "gate, charts rendered"
            gate = Command(gate_name, [py, "-m", "tools.gate", "--stack", "prod", "--require-charts"], (0, 1))
        else:
            gate_name = "gate, NO charts"
            empty = Path(tmp) / "no-charts"
            gate = Command(gate_name, [py, "-m", "tools.gate", "--stack", "prod", "--charts-cache", str(empty)], (0, 1))
        floor = Command("import floor", [py, "-c", script])
        print(f"machine: {os.cpu_count()} cores; {args.runs} interleaved rounds after a warm-up; median (min-max)")
        print(
            f"import floor: pulumi + {sum(map(len, imports.values()))} classes from {len(imports)} SDK modules "
            f"({', '.join(sorted(imports))})"
        )
        if unmapped:
            print(f"  types with no SDK class found (not in the floor): {', '.join(unmapped)}")
        if not filled:
            print(
                f"  the chart cache {cache} lacks {', '.join(lacking)}: the gate is measured WITHOUT charts "
                "(fill it with `make charts`, or point ESTATE_CHART_CACHE at a filled cache)"
            )
        samples = interleaved([floor, plan, gate], args.runs)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, values in samples.items():
        note = f"  ({charts_rendered()})" if name == gate_name and filled else ""
        print(f"  {name:<24} {spread(values)}{note}")
    plan_ratio = medians["plan"] / medians["import floor"]
    gate_ratio = medians[gate_name] / medians["plan"]
    missed = 0
    for label, ratio, budget in (
        ("plan / import floor", plan_ratio, PLAN_BUDGET),
        (f"{gate_name} / plan", gate_ratio, GATE_BUDGET),
    ):
        verdict = "ok" if ratio <= budget else "MISSED"
        missed += verdict != "ok"
        print(f"  {label:<32} {ratio:5.2f}x  budget {budget:.1f}x  {verdict}")
    print(f"  {'plan prod (warm process)':<24} {warm_plan_seconds(args.runs):6.2f} s  (reported, not budgeted)")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The chart cache from the command line.

    python -m tools.charts fill [--stack dev --stack prod]   # `make charts`
    python -m tools.charts list

The pins come from the offline plans of the stacks (dev and prod unless --stack or --plan
says otherwise). The cache is $ESTATE_CHART_CACHE, else build/charts/. Exit 1 when any chart
could not be fetched (or, for `list`, is missing from the cache).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tools.charts.fetch import describe, fetch
from tools.charts.refs import ChartRef, ChartRefError, archive_path, cache_dir, chart_ref, charts_of
from tools.plan import run_plan


def plan_resources(stacks: Iterable[str], plans: Iterable[Path]) -> list[Mapping[str, Any]]:
    resources: list[Mapping[str, Any]] = []
    for stack in stacks:
        plan = run_plan(stack)
        if plan.error:
            raise SystemExit(f"error: the {stack} plan failed: {plan.error}")
        resources += plan.resources
    for path in plans:
        resources += json.loads(path.read_text())["resources"]
    return resources


def pins(resources: Iterable[Mapping[str, Any]]) -> tuple[list[ChartRef], list[str]]:
    """The distinct pins of the Charts, and the Charts whose inputs name no cacheable pin."""
    refs: set[ChartRef] = set()
    problems: list[str] = []
    for chart in charts_of(resources):
        try:
            refs.add(chart_ref(chart["inputs"]))
        except ChartRefError as exc:
            problems.append(f"{chart['name']}: {exc}")
    return sorted(refs), problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["fill", "list"])
    parser.add_argument("--stack", action="append", help="a stack whose plan pins charts (default: dev and prod)")
    parser.add_argument("--plan", action="append", type=Path, default=[], help="a plan file written by tools.plan")
    parser.add_argument("--cache", type=Path, help="the chart cache (default $ESTATE_CHART_CACHE, else build/charts)")
    args = parser.parse_args(argv)
    gc.disable()  # a short-lived process; see tools.plan
    stacks = args.stack if args.stack is not None else ([] if args.plan else ["dev", "prod"])
    refs, problems = pins(plan_resources(stacks, args.plan))
    cache = args.cache or cache_dir()
    sources = ", ".join([*stacks, *map(str, args.plan)])
    print(f"chart cache {cache}: {len(refs)} pinned charts in the plans of {sources}")
    failed = len(problems)
    for problem in problems:
        print(f"  FAILED {problem}")
    for ref in refs:
        if args.command == "list":
            present = archive_path(ref, cache).exists()
            failed += not present
            print(f"  {'cached ' if present else 'MISSING'} {describe(ref)}")
            continue
        result = fetch(ref, cache)
        failed += result.status == "failed"
        line = f"  {result.status:<10} {describe(ref)} -> {result.path}"
        print(line if result.error is None else f"  FAILED     {describe(ref)}: {result.error}")
    if failed:
        print(f"{failed} of {len(refs) + len(problems)} charts not in the cache", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    code = main()
    gc.freeze()
    sys.exit(code)

"""Speed budgets, measured the way a user meets them: a fresh process per run.

    python -m tools.bench            # prints the table, exits 1 when a budget is missed

Budgets (README, "Budgets"): the offline prod plan under 3 s, the prod policy gate under 5 s
without charts, and under 15 s rendering every chart of the plan from the chart cache (measured
only where `make charts` filled it), on a 2-core machine.
Also reported, not budgeted: the same plan in a warm process (provider SDKs already loaded),
which is the part of the cost this program controls.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Budget:
    name: str
    seconds: float
    command: list[str]
    # Exit code meaning "cannot be measured here" rather than a failure.
    unmeasurable: int | None = None
    note: Callable[[], str] | None = None


def budgets(out_dir: Path) -> list[Budget]:
    py = sys.executable
    return [
        Budget(
            "plan prod (fresh process)",
            3.0,
            [py, "-m", "tools.plan", "--stack", "prod", "--quiet", "--out", str(out_dir / "plan.json")],
        ),
        Budget(
            "gate prod (fresh process)",
            5.0,
            [py, "-m", "tools.gate", "--stack", "prod", "--charts-cache", str(out_dir / "no-charts")],
        ),
        # --require-charts exits 2 when a chart is not in the cache: nothing to time then.
        Budget(
            "gate prod, charts rendered",
            15.0,
            [py, "-m", "tools.gate", "--stack", "prod", "--require-charts"],
            unmeasurable=2,
            note=charts_rendered,
        ),
    ]


def charts_rendered() -> str:
    """How many charts the last gate run rendered, from the plan file it wrote."""
    charts = json.loads((ROOT / "build" / "plan-prod.json").read_text()).get("charts", {})
    return f"{sum('rendered' in c for c in charts.values())} charts rendered"


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_command(cmd: list[str]) -> None:
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONHASHSEED": "0"})


def warm_plan_seconds(runs: int) -> float:
    from tools.plan import run_plan

    run_plan("prod")  # loads the provider SDKs once
    return statistics.median(timed(lambda: run_plan("prod")) for _ in range(runs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores; {args.runs} runs each; median (min-max)")
    missed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for budget in budgets(Path(tmp)):
            try:
                run_command(budget.command)  # warm the disk cache and bytecode
            except subprocess.CalledProcessError as exc:
                if exc.returncode != budget.unmeasurable:
                    raise
                print(f"  {budget.name:<32}  not measured: the chart cache lacks pinned charts (make charts)")
                continue
            samples = [timed(partial(run_command, budget.command)) for _ in range(args.runs)]
            median = statistics.median(samples)
            verdict = "ok" if median <= budget.seconds else "MISSED"
            missed += verdict != "ok"
            print(
                f"  {budget.name:<32} {median:6.2f} s ({min(samples):.2f}-{max(samples):.2f})"
                f"  budget {budget.seconds:.1f} s  {verdict}" + (f"  ({budget.note()})" if budget.note else "")
            )
    print(f"  {'plan prod (warm process)':<32} {warm_plan_seconds(args.runs):6.2f} s  (reported, not budgeted)")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

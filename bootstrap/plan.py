"""The bootstrap's offline plan, with the main project's mock runtime and recording monitor.

python -m bootstrap.plan --stack dev       # writes build/bootstrap-plan-dev.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from tools.plan import ROOT, Plan, record, render_tree

PROJECT = "ai-estate-bootstrap"
DIR = Path(__file__).resolve().parent


def bootstrap_config(stack: str, overrides: dict[str, str | None] | None = None) -> dict[str, str]:
    doc = yaml.safe_load((DIR / f"Pulumi.{stack}.yaml").read_text()) or {}
    raw: dict[str, object] = dict(doc.get("config") or {})
    raw.update(overrides or {})
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items() if v is not None}


def run_bootstrap_plan(stack: str, config: dict[str, str] | None = None) -> Plan:
    from bootstrap.program import main

    return record(main, stack=stack, config=config if config is not None else bootstrap_config(stack), project=PROJECT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="dev")
    args = parser.parse_args(argv)
    plan = run_bootstrap_plan(args.stack)
    if plan.error:
        print(f"error: {plan.error}", file=sys.stderr)
        return 1
    out = ROOT / "build" / f"bootstrap-plan-{args.stack}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(plan.to_json(), indent=1, sort_keys=True) + "\n")
    print(render_tree(plan).replace("ai-estate/", f"{PROJECT}/", 1))
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

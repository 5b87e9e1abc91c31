"""The README's policy table, generated from the pack itself.

python -m tools.policy_table          # rewrite the table in README.md
python -m tools.policy_table --check  # exit 1 when README.md is stale
"""

from __future__ import annotations

import argparse
import sys

from tools.plan import ROOT

README = ROOT / "README.md"
START, END = "<!-- policy-table:start -->", "<!-- policy-table:end -->"


def rows() -> list[list[str]]:
    sys.path.insert(0, str(ROOT / "policies"))
    from estate_policies import ALL_POLICIES

    out = []
    for p in ALL_POLICIES:
        framework = p.framework
        standard = (
            f"{framework.name}: {framework.specification}"
            if framework and framework.specification
            else (framework.name if framework and framework.name else "")
        )
        stack = "stack" if type(p).__name__ == "StackValidationPolicy" else "resource"
        level = p.enforcement_level.value if p.enforcement_level else "mandatory"
        severity = p.severity.value if p.severity else ""
        out.append([f"`{p.name}`", p.description, severity, f"{level} ({stack})", standard or ""])
    return out


def render() -> str:
    lines = [START, "| policy | what it enforces | severity | level | standard |", "| --- | --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows()]
    lines.append(END)
    return "\n".join(lines)


def updated(text: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return head + render() + tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = README.read_text()
    if START not in text or END not in text:
        print(f"README.md has no {START} ... {END} block", file=sys.stderr)
        return 1
    new = updated(text)
    if args.check:
        if new != text:
            print("README.md policy table is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())

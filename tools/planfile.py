"""Reading a written plan (`build/plan-<stack>.json`) for the offline reports.

The reports (diff, cost, deploy-time, graph) work from the plan file alone, generically: types,
counts, inputs, parents and dependencies. A missing plan is built first with `tools.plan`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STACK_TYPE = "pulumi:pulumi:Stack"


def plan_path(stack: str, root: Path = ROOT) -> Path:
    return root / "build" / f"plan-{stack}.json"


class PlanBuildError(RuntimeError):
    """`tools.plan` failed; `summary` is what it said, without a traceback's frames."""

    def __init__(self, stack: str, cwd: Path, output: str) -> None:
        super().__init__(f"plan of {stack} in {cwd} failed:\n{output}")
        self.stack, self.cwd, self.output = stack, cwd, output

    @property
    def summary(self) -> str:
        lines = [line for line in self.output.strip().splitlines() if line.strip()]
        if any(line.startswith("Traceback") for line in lines):
            lines = lines[-1:]  # the exception itself, not the frames
        text = "\n".join(lines).removeprefix("error: ")
        return text or "no output"


def build_plan(stack: str, out: Path, cwd: Path = ROOT) -> None:
    """Write the offline plan of the program checked out at `cwd`, with this interpreter."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "tools.plan", "--stack", stack, "--out", str(out), "--quiet"]
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PlanBuildError(stack, cwd, f"{done.stdout}{done.stderr}")


@dataclass
class PlanFile:
    stack: str
    resources: list[dict[str, Any]]
    outputs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> PlanFile:
        return cls(stack=doc.get("stack", "?"), resources=list(doc["resources"]), outputs=doc.get("outputs") or {})

    @classmethod
    def load(cls, path: Path) -> PlanFile:
        return cls.from_json(json.loads(path.read_text()))

    @classmethod
    def for_stack(cls, stack: str, *, rebuild: bool = False) -> PlanFile:
        path = plan_path(stack)
        if rebuild or not path.exists():
            build_plan(stack, path)
        return cls.load(path)

    @cached_property
    def by_urn(self) -> dict[str, dict[str, Any]]:
        return {r["urn"]: r for r in self.resources}

    @cached_property
    def children(self) -> dict[str | None, list[dict[str, Any]]]:
        kids: dict[str | None, list[dict[str, Any]]] = {}
        for r in self.resources:
            kids.setdefault(r["parent"], []).append(r)
        return kids

    def custom(self) -> Iterator[dict[str, Any]]:
        return (r for r in self.resources if r["custom"])

    def components(self) -> Iterator[dict[str, Any]]:
        return (r for r in self.resources if not r["custom"])

    def component_of(self, res: dict[str, Any]) -> dict[str, Any] | None:
        """The nearest enclosing component (None for resources directly under the stack)."""
        parent = self.by_urn.get(res["parent"] or "")
        while parent is not None and parent["custom"]:
            parent = self.by_urn.get(parent["parent"] or "")
        return parent

    def top_component(self, res: dict[str, Any]) -> dict[str, Any] | None:
        """The outermost component under the stack that holds `res` (itself if it is one)."""
        top = None if res["custom"] else res
        node = self.by_urn.get(res["parent"] or "")
        while node is not None:
            if not node["custom"]:
                top = node
            node = self.by_urn.get(node["parent"] or "")
        return top

    def descendants(self, urn: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        stack = [urn]
        while stack:
            for kid in self.children.get(stack.pop(), []):
                out.append(kid)
                stack.append(kid["urn"])
        return out


def short_type(type_: str) -> str:
    """`gcp:container/nodePool:NodePool` -> `container.NodePool`; `estate:data:Cache` -> `data:Cache`."""
    parts = type_.split(":")
    if len(parts) != 3:
        return type_
    pkg, mod, cls = parts
    if pkg == "pulumi":
        return f"provider:{cls}"
    if pkg == "estate":
        return f"{mod}:{cls}"
    module = mod.split("/")[0]
    return f"{pkg if module == 'index' else module}.{cls}"


def get_path(value: Any, path: str, default: Any = None) -> Any:
    """`get_path(inputs, "nodeConfig.machineType")`: dotted lookup through dicts."""
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return default
        value = value[key]
    return value

"""The offline plan: run the program under Pulumi's mock runtime and record what it registers.

The recording monitor is Pulumi's own MockMonitor (the engine's resource-monitor interface
with the cloud left out) that also keeps each RegisterResource request, so the plan holds
what the engine would see: type, name, parent, provider, inputs, dependencies and options.

    python -m tools.plan --stack dev          # prints the tree, writes build/plan-dev.json
"""

from __future__ import annotations

import gc

if __name__ == "__main__":
    # A short-lived process that allocates millions of objects while importing the
    # provider SDKs: collection cycles only cost time here.
    gc.disable()

import argparse
import json
import runpy
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format  # type: ignore[import-untyped]
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.kube.webhooks import transform_name
from stacks.stackfile import StackFileError, stack_config
from tools.mocks import EstateMocks

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "ai-estate"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
MASK = "[secret]"


def mask_secrets(value: Any) -> Any:
    """Replace every secret's value with a mask, keeping the secret wrapper for analyzers."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            return {SECRET_SIG: SECRET_VALUE, "value": MASK}
        return {k: mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[dict[str, Any]] = []
        self.duplicates: list[str] = []
        self._urns: set[str] = set()
        self._lock = threading.Lock()
        # Registrations run on several threads: the names are kept per (type, name), not in one slot.
        self._transforms: dict[tuple[str, str], list[str]] = {}
        new_resource = mocks.new_resource

        def recording(args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
            # The mock monitor hands a registration's transforms to the mocks and runs none of
            # them: keep their names so the gate can apply them to a Chart's rendered children.
            self._transforms[(args.typ, args.name)] = [transform_name(fn) for fn in args.transforms]
            return new_resource(args)

        mocks.new_resource = recording  # type: ignore[method-assign]

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        urn = self.make_urn(request.parent, request.type, request.name)
        with self._lock:  # registrations arrive on several threads: check and claim at once
            seen = urn in self._urns
            self._urns.add(urn)
        if seen:
            # The engine refuses a second registration of a URN and stops the update; the plan
            # fails too, once the program has run (raising here would leave its other RPCs behind).
            self.duplicates.append(f"Duplicate resource URN '{urn}'; try giving it a unique name")
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        timeouts = request.customTimeouts if request.HasField("customTimeouts") else None
        self.registrations.append(
            {
                "urn": response.urn,
                "type": request.type,
                "name": request.name,
                "custom": request.custom,
                "parent": request.parent or None,
                "provider": request.provider or None,
                "inputs": mask_secrets(json_format.MessageToDict(request.object)),
                "dependencies": sorted(set(request.dependencies)),
                "propertyDependencies": {k: sorted(v.urns) for k, v in sorted(request.propertyDependencies.items())},
                "options": {
                    "protect": request.protect if request.HasField("protect") else False,
                    "ignoreChanges": list(request.ignoreChanges),
                    "deleteBeforeReplace": request.deleteBeforeReplace,
                    "retainOnDelete": request.retainOnDelete if request.HasField("retainOnDelete") else False,
                    "replaceOnChanges": list(request.replaceOnChanges),
                    "additionalSecretOutputs": list(request.additionalSecretOutputs),
                    "customTimeouts": (
                        {"create": timeouts.create, "update": timeouts.update, "delete": timeouts.delete}
                        if timeouts
                        else None
                    ),
                    "deletedWith": request.deletedWith or None,
                    "transforms": self._transforms.pop((request.type, request.name), []),
                },
            }
        )
        return response


@dataclass
class Plan:
    stack: str
    preview: bool
    resources: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def by_type(self, type_: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == type_]

    def one(self, type_: str, name: str) -> dict[str, Any]:
        found = [r for r in self.resources if r["type"] == type_ and r["name"] == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources of type {type_} named {name}")
        return found[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "project": PROJECT,
            "preview": self.preview,
            "error": self.error,
            "resources": self.resources,
            "outputs": self.outputs,
        }


async def _resolve_outputs(outputs: dict[str, Any]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for name, value in outputs.items():
        out = pulumi.Output.from_input(value)
        secret = await out.is_secret()
        known = await out.is_known()
        result = await out.future() if known else UNKNOWN
        resolved[name] = MASK if secret else result
    return resolved


def record(
    program: Callable[[], object],
    *,
    stack: str,
    config: dict[str, str],
    preview: bool = True,
    project: str = PROJECT,
    missing_images: frozenset[str] = frozenset(),
    missing_secrets: frozenset[str] = frozenset(),
) -> Plan:
    """Run `program` under the mock runtime with `config`, recording every registration;
    `missing_images`: `path:tag` our own repository lacks; `missing_secrets`: Secret Manager ids
    without a version."""
    mocks = EstateMocks(
        project=config.get("gcp:project", "unset"),
        region=config.get("gcp:region", "unset"),
        missing_images=missing_images,
        missing_secrets=missing_secrets,
    )
    monitor = RecordingMonitor(mocks)
    settings.ROOT.set(None)
    set_all_config(config)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    plan = Plan(stack=stack, preview=preview)

    async def run() -> None:
        program()

    try:
        _sync_await(run_pulumi_func(run))
        root = settings.get_root_resource()
        plan.outputs = _sync_await(_resolve_outputs(getattr(root, "outputs", {}) or {}))
    except pulumi.RunError as exc:
        plan.error = str(exc)
    if monitor.duplicates:
        plan.error = "; ".join(monitor.duplicates)
    plan.resources = monitor.registrations
    return plan


def run_plan(
    stack: str,
    *,
    preview: bool = True,
    config: dict[str, str] | None = None,
    missing_images: frozenset[str] = frozenset(),
    missing_secrets: frozenset[str] = frozenset(),
) -> Plan:
    """Run __main__.py for `stack` as `pulumi preview` (or `up`) would, under the mock runtime."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return record(
        lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"),
        stack=stack,
        config=config if config is not None else stack_config(stack),
        preview=preview,
        missing_images=missing_images,
        missing_secrets=missing_secrets,
    )


def _short(type_: str) -> str:
    """`gcp:projects/iAMMember:IAMMember` -> `projects.IAMMember`; providers -> `provider:<package>`."""
    pkg, mod, cls = type_.split(":")
    if pkg == "pulumi":
        return f"provider:{cls}"
    module = mod.split("/")[0]
    return f"{pkg if module == 'index' else module}.{cls}"


def render_tree(plan: Plan) -> str:
    children: dict[str | None, list[dict[str, Any]]] = {}
    for res in plan.resources:
        children.setdefault(res["parent"], []).append(res)
    stack_urn = next(
        (r["parent"] for r in plan.resources if r["parent"] and "pulumi:pulumi:Stack" in r["parent"]), None
    )
    lines = [
        f"{PROJECT}/{plan.stack}: {len(plan.resources)} resources "
        f"({sum(not r['custom'] for r in plan.resources)} components)"
    ]

    def walk(urn: str | None, depth: int) -> None:
        for res in children.get(urn, []):
            if res["custom"]:
                continue
            kids = Counter(c["type"] for c in children.get(res["urn"], []) if c["custom"])
            summary = ", ".join(f"{n} {_short(t)}" for t, n in sorted(kids.items()))
            lines.append(f"{'  ' * depth}- {res['type']} {res['name']}" + (f"  [{summary}]" if summary else ""))
            walk(res["urn"], depth + 1)

    walk(stack_urn, 1)
    top = Counter(r["type"] for r in children.get(stack_urn, []) if r["custom"])
    for type_, n in sorted(top.items()):
        lines.append(f"  - {n} x {type_} (directly under the stack)")
    lines.append("resources by type:")
    for type_, n in sorted(Counter(r["type"] for r in plan.resources if r["custom"]).items()):
        lines.append(f"  {n:4d}  {type_}")
    lines.append("outputs:")
    for name, value in sorted(plan.outputs.items()):
        lines.append(f"  {name}: {json.dumps(value, sort_keys=True)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--out", type=Path, help="plan file (default build/plan-<stack>.json)")
    parser.add_argument("--quiet", action="store_true", help="write the plan without printing the tree")
    args = parser.parse_args(argv)
    gc.disable()
    try:
        plan = run_plan(args.stack)
    except StackFileError as exc:  # no such stack, a YAML error or a duplicate key: one line
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if plan.error:
        print(f"error: {plan.error}", file=sys.stderr)
        return 1
    out = args.out or ROOT / "build" / f"plan-{args.stack}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(plan.to_json(), indent=1, sort_keys=True) + "\n")
    if not args.quiet:
        print(render_tree(plan))
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    code = main()
    # The interpreter's last act would be a full collection over the SDKs' few million
    # objects (about 1 s on the benchmark machine); frozen objects are skipped by it.
    gc.freeze()
    sys.exit(code)

"""The offline plan of a git ref against the working tree's: what a merge would change.

    python -m tools.diff --stack dev --base origin/main [--markdown] [--out build/diff-dev.md]
    python -m tools.diff --base-plan old.json --head-plan new.json     # two plan files

The base plan is built in a temporary `git worktree` of BASE with this interpreter. Resources
are matched by URN: added, removed, changed (property by property; secrets are already masked
as "[secret]" in the plan). LOUD warnings: a stateful or protected resource removed or
replaced, a stateful resource changed in place, and any change of `protect`. Replacement is
claimed only where the program says so (`replaceOnChanges` matching a changed property);
the provider's own force-new fields are not in the plan, so other changes are "changed".
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.plan import SECRET_SIG, SECRET_VALUE
from tools.planfile import ROOT, PlanFile, build_plan, plan_path, short_type

# Types whose deletion or replacement loses data or identity that cannot be recreated.
STATEFUL_TYPES = {
    "gcp:storage/bucket:Bucket",
    "gcp:sql/databaseInstance:DatabaseInstance",
    "gcp:sql/database:Database",
    "gcp:redis/instance:Instance",
    "gcp:kms/keyRing:KeyRing",
    "gcp:kms/cryptoKey:CryptoKey",
    "gcp:container/cluster:Cluster",
    "gcp:artifactregistry/repository:Repository",
    "gcp:secretmanager/secret:Secret",
    "gcp:secretmanager/secretVersion:SecretVersion",
    "gcp:compute/disk:Disk",
    "gcp:compute/regionDisk:RegionDisk",
    "gcp:compute/address:Address",
    "gcp:compute/globalAddress:GlobalAddress",
    "gcp:filestore/instance:Instance",
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool",
    "random:index/randomPassword:RandomPassword",
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:core/v1:PersistentVolume",
    "kubernetes:apps/v1:StatefulSet",
}
OPTION_KEYS = (
    "protect",
    "ignoreChanges",
    "deleteBeforeReplace",
    "retainOnDelete",
    "replaceOnChanges",
    "customTimeouts",
)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": [1]}} -> {"a.b[0]": 1}; a masked secret stays one leaf."""
    if _is_secret(value):
        return {prefix: "[secret]"}
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE


@dataclass(frozen=True)
class Change:
    path: str
    old: Any
    new: Any


@dataclass
class ResourceDiff:
    urn: str
    type: str
    name: str
    kind: str  # "add" | "remove" | "change" | "replace"
    changes: list[Change] = field(default_factory=list)
    protected: bool = False
    stateful: bool = False

    @property
    def label(self) -> str:
        return f"{short_type(self.type)} {self.name}"


@dataclass
class PlanDiff:
    stack: str
    base: str
    resources: list[ResourceDiff] = field(default_factory=list)

    def of(self, kind: str) -> list[ResourceDiff]:
        return [r for r in self.resources if r.kind == kind]

    @property
    def warnings(self) -> list[str]:
        out = []
        for r in self.resources:
            what = " and ".join(w for w, on in (("PROTECTED", r.protected), ("STATEFUL", r.stateful)) if on)
            if r.kind in ("remove", "replace") and what:
                verb = "DELETED" if r.kind == "remove" else "REPLACED (deleted and recreated)"
                out.append(f"{what} resource {r.label} would be {verb}")
            elif r.kind == "change" and r.stateful:
                fields = ", ".join(c.path for c in r.changes if not c.path.startswith("options."))
                if fields:
                    out.append(
                        f"STATEFUL resource {r.label} changes in place ({fields}): check the provider "
                        "docs that none of these forces a replacement"
                    )
            for c in r.changes:
                if c.path == "options.protect":
                    out.append(f"`protect` of {r.label} changes: {c.old} -> {c.new}")
        return out


def _view(res: dict[str, Any]) -> dict[str, Any]:
    return {
        "inputs": res["inputs"],
        "options": {k: res["options"].get(k) for k in OPTION_KEYS},
        "parent": res["parent"],
        "provider": res["provider"].rsplit("::", 1)[0] if res.get("provider") else None,
    }


def diff_plans(base: PlanFile, head: PlanFile, base_label: str = "base") -> PlanDiff:
    out = PlanDiff(stack=head.stack, base=base_label)
    old, new = base.by_urn, head.by_urn
    for urn in sorted(set(old) | set(new)):
        if urn not in new:
            r = old[urn]
            out.resources.append(
                ResourceDiff(urn, r["type"], r["name"], "remove", [], bool(r["options"]["protect"]), _stateful(r))
            )
            continue
        r = new[urn]
        if urn not in old:
            out.resources.append(
                ResourceDiff(urn, r["type"], r["name"], "add", [], bool(r["options"]["protect"]), _stateful(r))
            )
            continue
        a, b = flatten(_view(old[urn])), flatten(_view(r))
        changes = [Change(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        if not changes:
            continue
        replace_on = set(old[urn]["options"].get("replaceOnChanges") or []) | set(
            r["options"].get("replaceOnChanges") or []
        )
        replaced = any(c.path.startswith("inputs.") and _matches(c.path[len("inputs.") :], replace_on) for c in changes)
        protected = bool(old[urn]["options"]["protect"] or r["options"]["protect"])
        kind = "replace" if replaced else "change"
        out.resources.append(ResourceDiff(urn, r["type"], r["name"], kind, changes, protected, _stateful(r)))
    return out


def _stateful(res: dict[str, Any]) -> bool:
    return res["type"] in STATEFUL_TYPES


def _matches(path: str, patterns: set[str]) -> bool:
    """`replaceOnChanges` patterns ("spec.*", "*", "settings.tier") against a flattened path."""
    plain = path.replace("[", ".").replace("]", "")
    return any(pat == "*" or plain == pat or plain.startswith(pat.rstrip("*").rstrip(".") + ".") for pat in patterns)


def _fmt(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 120 else text[:117] + "..."


def render_text(d: PlanDiff) -> str:
    out = [f"offline plan diff, stack {d.stack}: {d.base} -> working tree"]
    counts = {k: len(d.of(k)) for k in ("add", "remove", "change", "replace")}
    out.append(
        f"{counts['add']} to add, {counts['remove']} to remove, {counts['change']} to change, "
        f"{counts['replace']} to replace"
    )
    if d.warnings:
        out += ["", "!" * 72, "!!! WARNING"]
        out += [f"!!!   {w}" for w in d.warnings]
        out += ["!" * 72]
    sign = {"add": "+", "remove": "-", "change": "~", "replace": "+-"}
    for r in d.resources:
        out.append(f"{sign[r.kind]:>2} {r.label}{'  [protected]' if r.protected else ''}")
        for c in r.changes:
            out.append(f"      {c.path}: {_fmt(c.old)} => {_fmt(c.new)}")
    if not d.resources:
        out.append("no changes")
    return "\n".join(out)


def render_markdown(d: PlanDiff) -> str:
    counts = {k: len(d.of(k)) for k in ("add", "remove", "change", "replace")}
    out = [
        f"### Offline plan diff: `{d.stack}` ({d.base} → this branch)",
        "",
        f"**{counts['add']}** to add, **{counts['remove']}** to remove, **{counts['change']}** to change, "
        f"**{counts['replace']}** to replace.",
    ]
    if d.warnings:
        out += ["", "> [!CAUTION]", "> **Stateful or protected resources affected:**"]
        out += [f"> - :rotating_light: {w}" for w in d.warnings]
    if d.resources:
        out += ["", "| | resource | type | details |", "| --- | --- | --- | --- |"]
        sign = {"add": "➕ add", "remove": "➖ remove", "change": "✏️ change", "replace": "♻️ replace"}
        for r in d.resources:
            details = f"{len(r.changes)} properties" if r.changes else ""
            lock = " 🔒" if r.protected else ""
            out.append(f"| {sign[r.kind]} | `{r.name}`{lock} | `{r.type}` | {details} |")
        changed = [r for r in d.resources if r.changes]
        if changed:
            out += ["", "<details><summary>property changes</summary>", "", "```diff"]
            for r in changed:
                out.append(f"@@ {r.label} @@")
                for c in r.changes:
                    out.append(f"- {c.path}: {_fmt(c.old)}")
                    out.append(f"+ {c.path}: {_fmt(c.new)}")
            out += ["```", "", "</details>"]
    else:
        out += ["", "No changes."]
    out += ["", "<sub>Built offline from the mock-runtime plans; secrets appear as `[secret]`.</sub>"]
    return "\n".join(out)


def base_plan(stack: str, ref: str) -> PlanFile:
    """Build BASE's plan in a temporary worktree (detached, removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="estate-base-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(tree), ref], cwd=ROOT, check=True)
        try:
            out = Path(tmp) / f"plan-{stack}.json"
            build_plan(stack, out, cwd=tree)
            return PlanFile.load(out)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--base", default="origin/main", help="git ref to compare against")
    parser.add_argument("--base-plan", type=Path, help="compare this plan file instead of building BASE")
    parser.add_argument("--head-plan", type=Path, help="plan file of the new side (default: build it)")
    parser.add_argument("--markdown", action="store_true", help="Markdown for a PR comment")
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    if args.base_plan:
        base, label = PlanFile.load(args.base_plan), args.base_plan.name
    else:
        base, label = base_plan(args.stack, args.base), args.base
    if args.head_plan:
        head = PlanFile.load(args.head_plan)
    else:
        build_plan(args.stack, plan_path(args.stack))
        head = PlanFile.load(plan_path(args.stack))
    result = diff_plans(base, head, label)
    text = render_markdown(result) if args.markdown else render_text(result)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

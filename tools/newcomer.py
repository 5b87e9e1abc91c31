"""The estate under another owner: a copy of the repository whose stacks name another project,
region, DNS domain and contact addresses, for checking that nothing depends on the committed ones.

    python -m tools.newcomer --dest /tmp/acme            # copy, rewrite both stack files
    python -m tools.newcomer --dest /tmp/acme --check    # ... then pytest and both gates there

What a newcomer does first (README, "With the Pulumi CLI"): `gcp:project` set to their own
project, and with it their region, domain and e-mail addresses. The copy, `<dest>/<this
directory's name>`, holds the working tree (no .git, build/ or caches) with `.venv` linked to
this one's; each `Pulumi.<stack>.yaml` is rewritten by a YAML round trip (comments dropped):

- `gcp:project` becomes `<project-prefix>-<stack>`, `gcp:region` the new region, and so do the
  old project and region wherever a value names them (`projects/<project>/...`, service-account
  addresses); every zone of the old region (`europe-west4-b`) becomes the same zone letter in
  the new one;
- the old DNS domain, and names under it, move under the new domain (dev's `dev.<old>` becomes
  `dev.<new>`), and so do e-mail addresses at it (`platform-team@<new domain>`).

Nothing else is touched: the defaults name no zone of a region (a GPU pool without `zones` runs
in the cluster's zones that offer its GPU), so these four are all a newcomer changes.

The copy sits beside a link to this repository's `../shared` when there is one, so the upstream
checks (tests/upstream.py) run there too, and its gates render the charts from this repository's
chart cache ($ESTATE_CHART_CACHE, else build/charts) when it has one. `.ci/run` runs `--check`
after `make test`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CACHE_ENV = "ESTATE_CHART_CACHE"  # tools.charts.CACHE_ENV, without importing the Helm SDK
STACKS = ("dev", "prod")
NAMESPACE = "ai-estate"
# Not copied: VCS data, build output, caches, virtualenvs (.venv is linked instead).
_SKIP = {".git", "build", ".venv", "venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".benchmarks"}
_EMAIL = re.compile(r"^([^@\s]+)@([^@\s]+)$")


def _token(word: str) -> str:
    """`word` as a name or a name's prefix, not inside a longer word (`ai-estate-dev` is in
    `ai-estate-dev-logs`, not in `ai-estate-dev2`)."""
    return rf"(?<![-a-z0-9]){re.escape(word)}(?![a-z0-9])"


@dataclass(frozen=True)
class Owner:
    """Who the copy's estate belongs to."""

    project_prefix: str = "acme-ml-platform"
    region: str = "us-central1"
    domain: str = "ml.acme.test"

    def project(self, stack: str) -> str:
        return f"{self.project_prefix}-{stack}"


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    return value


def _base_domain(config: Mapping[str, Any]) -> str | None:
    domain = (config.get(f"{NAMESPACE}:dns") or {}).get("domain")
    return str(domain) if domain else None


def rewrite_config(
    config: Mapping[str, Any], stack: str, owner: Owner, *, old_domain: str | None = None
) -> dict[str, Any]:
    """The stack file's `config:` map under `owner`. `old_domain` is the domain the committed
    stacks share (prod's); names under it move under `owner.domain`."""
    old_project = str(config.get("gcp:project", ""))
    old_region = str(config.get("gcp:region", ""))
    old_domain = old_domain or _base_domain(config)

    def under(name: str) -> bool:
        return bool(old_domain) and (name == old_domain or name.endswith(f".{old_domain}"))

    def move(name: str) -> str:
        return name.removesuffix(str(old_domain)) + owner.domain

    def fix(text: str) -> str:
        if old_project:
            text = re.sub(_token(old_project), owner.project(stack), text)
        if old_region:  # the region, and its zones: `europe-west4-b` keeps its letter
            text = re.sub(_token(old_region), owner.region, text)
        if (m := _EMAIL.match(text)) and under(m.group(2)):
            return f"{m.group(1)}@{move(m.group(2))}"
        return move(text) if under(text) else text

    out: dict[str, Any] = {key: _map_strings(value, fix) for key, value in config.items()}
    out["gcp:project"] = owner.project(stack)
    out["gcp:region"] = owner.region
    return out


def rewrite_stack_file(path: Path, stack: str, owner: Owner, *, old_domain: str | None = None) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text()) or {}
    doc["config"] = rewrite_config(doc.get("config") or {}, stack, owner, old_domain=old_domain)
    path.write_text(
        "# yaml-language-server: $schema=./stacks/stack.schema.json\n"
        f"# Rewritten by tools/newcomer.py from the committed Pulumi.{stack}.yaml.\n"
        + yaml.safe_dump(doc, sort_keys=False)
    )
    return doc


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in _SKIP or n.endswith(".pyc")}


def make_copy(dest: Path, owner: Owner, *, source: Path = ROOT) -> Path:
    """Copy `source`'s working tree to `dest/ai-estate` with both stacks rewritten for `owner`;
    returns the copy's root."""
    root = dest / source.name
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(source, root, ignore=_ignore, symlinks=True)
    venv = source / ".venv"
    if venv.exists():
        (root / ".venv").symlink_to(venv.resolve(), target_is_directory=True)
    shared = source.parent / "shared"
    if shared.exists() and not (dest / "shared").exists():
        (dest / "shared").symlink_to(shared.resolve(), target_is_directory=True)
    committed = {s: yaml.safe_load((source / f"Pulumi.{s}.yaml").read_text()) or {} for s in STACKS}
    # The domain every stack's names hang under: the shortest (prod's), dev's is `dev.<it>`.
    domains = [d for d in (_base_domain(c.get("config") or {}) for c in committed.values()) if d]
    old_domain = min(domains, key=len) if domains else None
    for stack in STACKS:
        rewrite_stack_file(root / f"Pulumi.{stack}.yaml", stack, owner, old_domain=old_domain)
    return root


def check(root: Path, python: str = sys.executable, gate_flags: list[str] | None = None) -> int:
    """pytest, then both gates, in the copy at `root`; the first failing exit code, else 0."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    gate_env = dict(env)
    charts = ROOT / "build" / "charts"
    if CACHE_ENV not in env and charts.is_dir():  # the charts do not depend on the owner
        gate_env[CACHE_ENV] = str(charts)
    commands = [
        ([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], env),
        *(([python, "-m", "tools.gate", "--stack", stack, *(gate_flags or [])], gate_env) for stack in STACKS),
    ]
    code = 0
    for cmd, cmd_env in commands:
        print(f"+ ({root}) {' '.join(cmd[1:])}", flush=True)
        done = subprocess.run(cmd, cwd=root, env=cmd_env, check=False)
        code = code or done.returncode
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dest", type=Path, required=True, help="directory to copy the repository into")
    parser.add_argument("--project-prefix", default=Owner.project_prefix, help="projects become <prefix>-<stack>")
    parser.add_argument("--region", default=Owner.region)
    parser.add_argument("--domain", default=Owner.domain, help="prod's DNS domain; dev gets dev.<domain>")
    parser.add_argument("--check", action="store_true", help="run pytest and both gates in the copy")
    parser.add_argument("--gate-flags", default="", help="extra gate flags, e.g. --require-charts (as GATE_FLAGS)")
    args = parser.parse_args(argv)
    owner = Owner(args.project_prefix, args.region, args.domain)
    args.dest.mkdir(parents=True, exist_ok=True)
    root = make_copy(args.dest.resolve(), owner)
    for stack in STACKS:
        config = yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text())["config"]
        print(f"{root}/Pulumi.{stack}.yaml: {config['gcp:project']} in {config['gcp:region']}", flush=True)
    return check(root, gate_flags=args.gate_flags.split()) if args.check else 0


if __name__ == "__main__":
    sys.exit(main())

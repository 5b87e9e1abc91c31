"""Read `Pulumi.<stack>.yaml` the way the Pulumi CLI does, for the offline runners.

The CLI parses stack files with a YAML parser that refuses a key written twice in one map
("mapping key ... already defined"); PyYAML keeps the last value silently, so the loader here
refuses it too, at any depth. Whatever stops the read (no such stack, a YAML syntax error, a
duplicate key, a file that is not a map) is one `StackFileError` whose message is one line
naming the file (and the line where there is one): no traceback reaches the user.

`stack_config` hands the config to the program as the CLI does: scalars as strings, objects
as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


class StackFileError(Exception):
    """A stack file that cannot be read; `str()` is one line for the user."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping, at any depth."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: merged keys may be overridden
            continue
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: the base constructor reports it
            continue
        if first is not None:
            raise _DuplicateKeyError(key, line, first)
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


class _DuplicateKeyError(Exception):
    def __init__(self, key: Any, line: int, first: int) -> None:
        super().__init__(key, line, first)
        self.key, self.line, self.first = key, line, first


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def stack_path(stack: str, root: Path = ROOT) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def known_stacks(root: Path = ROOT) -> list[str]:
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml"))


def parse(text: str, name: str) -> Any:
    """The YAML document in `text`; `name` is the file name the errors show."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no arbitrary objects
    except _DuplicateKeyError as dup:
        raise StackFileError(
            f"{name}:{dup.line}: key {dup.key!r} is written twice in one map (first at line {dup.first}); "
            "the Pulumi CLI refuses duplicate keys: keep one"
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        what = f"{exc.problem} ({exc.context})" if exc.context else str(exc.problem)
        raise StackFileError(f"{where}: invalid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise StackFileError(f"{name}: invalid YAML: {' '.join(str(exc).split())}") from None


def read(stack: str, root: Path = ROOT) -> dict[str, Any]:
    """The `config` map of `Pulumi.<stack>.yaml` (empty when the file has none)."""
    path = stack_path(stack, root)
    if not path.is_file():
        stacks = known_stacks(root)
        raise StackFileError(
            f"unknown stack {stack!r}: there is no {path.name} in {root}; "
            + (f"stacks here: {', '.join(stacks)}" if stacks else "no stack file here")
        )
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise StackFileError(f"{path.name}: cannot be read ({exc})") from None
    doc = parse(text, path.name)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise StackFileError(f"{path.name}: must be a YAML map with a `config:` key, not a {type(doc).__name__}")
    config = doc.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path.name}: `config` must be a map of keys to values, not a {type(config).__name__}")
    return config


def stack_config(stack: str, overrides: dict[str, Any] | None = None, root: Path = ROOT) -> dict[str, str]:
    """Read Pulumi.<stack>.yaml the way the CLI hands config to the program: objects as JSON."""
    raw = dict(read(stack, root))
    raw.update(overrides or {})
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in raw.items() if v is not None}

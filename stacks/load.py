"""Read the stack's Pulumi config, merge the environment defaults, validate once.

Every problem is collected and reported together in one `pulumi.RunError`, raised before
the program registers any resource.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from stacks.defaults import DEFAULTS, merge
from stacks.model import EstateConfig
from stacks.patterns import in_words
from stacks.rules import Problem, check

NAMESPACE = "ai-estate"
AREAS = (
    # the cloud layer
    "network",
    "cluster",
    "database",
    "cache",
    "storage",
    "registry",
    "identity",
    # the platform layer
    "namespaces",
    "charts",
    "dns",
    "certificates",
    "mesh",
    "signing",
    "backup",
    # the data layer
    "pubsub",
    "kafka",
    "harbor",
    # the observability layer
    "observability",
    # the application's cells
    "cells",
    # where generated code runs
    "sandbox",
    # the model servers
    "inference",
    # the workflow platforms
    "automation",
)
_TOP = {"project": "gcp:project", "region": "gcp:region", "environment": "environment"}


class ConfigError(Exception):
    """Raised with every problem in the stack configuration; rendered by `render`."""

    def __init__(self, stack: str, problems: list[Problem]) -> None:
        self.stack = stack
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = [
            f"invalid configuration for stack '{self.stack}' ({len(self.problems)} "
            f"problem{'s' if len(self.problems) != 1 else ''}):"
        ]
        lines += [f"  - {p.render()}" for p in self.problems]
        return "\n".join(lines)


def _decode(key: str, raw: Any) -> tuple[Any, Problem | None]:
    if not isinstance(raw, str):
        return raw, None
    if key in ("gcp:project", "gcp:region", f"{NAMESPACE}:environment"):
        return raw, None
    try:
        return json.loads(raw), None
    except json.JSONDecodeError:
        return None, Problem(key.removeprefix(f"{NAMESPACE}:"), raw, "must be a structured (YAML map) value")


def raw_from_config(config: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Turn Pulumi's flat `namespace:key` map into the camelCase document the models read."""
    doc: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, raw in sorted(config.items()):
        namespace, _, name = key.partition(":")
        if key in ("gcp:project", "gcp:region"):
            doc[name] = raw
            continue
        if namespace != NAMESPACE:
            continue
        if name != "environment" and name not in AREAS:
            problems.append(
                Problem(
                    f"{NAMESPACE}:{name}",
                    raw,
                    "unknown key; allowed: " + ", ".join(f"{NAMESPACE}:{a}" for a in ("environment", *AREAS)),
                )
            )
            continue
        value, problem = _decode(key, raw)
        if problem:
            problems.append(problem)
        else:
            doc[name] = value
    return doc, problems


def load(stack: str, config: Mapping[str, Any]) -> EstateConfig:
    doc, problems = raw_from_config(config)
    env = doc.get("environment")
    if env not in DEFAULTS:
        problems.append(
            Problem(
                f"{NAMESPACE}:environment",
                env if env is not None else None,
                f"required; allowed: {', '.join(DEFAULTS)}",
            )
        )
        raise ConfigError(stack, problems)
    merged = merge(DEFAULTS[env], doc)
    try:
        cfg = EstateConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(stack, problems + [_problem(e, merged) for e in exc.errors()]) from None
    problems += check(cfg)
    if problems:
        raise ConfigError(stack, problems)
    return cfg


def _path(loc: tuple[Any, ...]) -> str:
    if loc and loc[0] in _TOP:
        head, rest = _TOP[loc[0]], loc[1:]
    else:
        head, rest = (str(loc[0]) if loc else ""), loc[1:]
    out = head
    for part in rest:
        if part == "[key]":
            out += " (as a key)"
        else:
            out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _value_at(doc: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        try:
            doc = doc[part]
        except (KeyError, IndexError, TypeError):
            return None
    return doc


def _problem(error: Mapping[str, Any], doc: Mapping[str, Any]) -> Problem:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith(("function-after", "literal["))))
    kind = error["type"]
    value = error.get("input")
    if loc and loc[-1] == "[key]" and "pattern" in error.get("ctx", {}):
        return Problem(_path(loc[:-1]), value, f"invalid name; {in_words(error['ctx']['pattern'], value)}")
    if kind == "extra_forbidden":
        allowed = sorted(_fields(_type_at(EstateConfig, loc[:-1])))
        return Problem(_path(loc), value, f"unknown key; allowed keys here: {', '.join(allowed)}")
    if kind == "missing":
        return Problem(_path(loc), None, "required")
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return Problem(_path(loc), value, f"allowed: {expected.replace(chr(39), '')}")
    if kind == "string_pattern_mismatch":
        return Problem(_path(loc), value, f"invalid value; {in_words(error['ctx']['pattern'], value)}")
    message = str(error["msg"]).removeprefix("Value error, ")
    return Problem(_path(loc), value if value is not None else _value_at(doc, loc), message[0].lower() + message[1:])


def _fields(model: Any) -> list[str]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is typing.Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            tp = next((a for a in get_args(tp) if a is not type(None)), tp)
        else:
            return tp


def _type_at(model: Any, loc: tuple[Any, ...]) -> Any:
    tp = model
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = {(f.alias or n): f.annotation for n, f in tp.model_fields.items()}
            fields.update({n: f.annotation for n, f in tp.model_fields.items()})
            tp = fields.get(part)
        elif get_origin(tp) in (dict, list):
            tp = get_args(tp)[-1]
        else:
            return None
    return _unwrap(tp)


def offline() -> bool:
    """True under Pulumi's mock runtime (the offline plan and the tests: tools/plan.py's monitor is a
    MockMonitor), False under the real engine (`pulumi preview` and `pulumi up`)."""
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.settings import get_monitor

    return isinstance(get_monitor(), MockMonitor)


def from_pulumi() -> EstateConfig:
    """Validate the running stack's config, or stop the program with one RunError listing every problem.

    Under the real engine an update (`pulumi up`) also stops, before any resource, while the stack
    holds the repository's placeholder values (stacks/placeholders.py); a preview warns about them.
    """
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    from stacks import placeholders

    config = {**get_config_env(), **CONFIG.get()}
    stack = pulumi.get_stack()
    try:
        cfg = load(stack, config)
    except ConfigError as exc:
        raise pulumi.RunError(exc.render()) from None
    if not offline() and (found := placeholders.placeholders(cfg)):
        if not pulumi.runtime.is_dry_run():
            raise pulumi.RunError(placeholders.render(stack, found))
        pulumi.log.warn(placeholders.render(stack, found).replace("stops", "will stop", 1))
    return cfg

"""JSON Schema for `Pulumi.<stack>.yaml`, generated from the models.

Run `python -m stacks.schema` to refresh `stacks/stack.schema.json`; a test fails when
the committed file is stale. Nothing is `required` here because the environment
defaults fill what a stack file leaves out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stacks.load import AREAS, NAMESPACE
from stacks.model import EstateConfig

SCHEMA_PATH = Path(__file__).with_name("stack.schema.json")


def _strip_required(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_strip_required(v) for v in node]
    return node


def stack_file_schema() -> dict[str, Any]:
    full = EstateConfig.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    defs = _strip_required(full.pop("$defs"))
    props = full["properties"]
    config: dict[str, Any] = {
        "gcp:project": props["project"],
        "gcp:region": {"type": "string", "description": "Region of every regional resource."},
        f"{NAMESPACE}:environment": props["environment"],
    }
    for area in AREAS:
        config[f"{NAMESPACE}:{area}"] = _strip_required(props[area])
    known = sorted(config)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ai-estate Pulumi stack file",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": config,
                "propertyNames": {"anyOf": [{"enum": known}, {"not": {"pattern": f"^{NAMESPACE}:"}}]},
            },
            "encryptionsalt": {"type": "string"},
            "secretsprovider": {"type": "string"},
        },
        "additionalProperties": False,
        "$defs": defs,
    }


def render() -> str:
    return json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(render())
    print(f"wrote {SCHEMA_PATH.name}")

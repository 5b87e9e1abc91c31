"""The JSON Schema editors use for Pulumi.<stack>.yaml is generated from the models and kept fresh."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from stacks.schema import SCHEMA_PATH, render
from tools.plan import ROOT


def test_committed_schema_is_fresh() -> None:
    assert SCHEMA_PATH.read_text() == render(), "run `make schema` and commit stacks/stack.schema.json"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_validate(stack: str) -> None:
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))


@pytest.mark.parametrize(
    "bad",
    [
        {"config": {"ai-estate:clustre": {}}},
        {"config": {"ai-estate:cluster": {"nodePools": {"gpu": {"maxNode": 1}}}}},
        {"config": {"ai-estate:cache": {"tier": "PREMIUM"}}},
    ],
)
def test_schema_rejects_what_the_models_reject(bad: dict[str, object]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, json.loads(SCHEMA_PATH.read_text()))

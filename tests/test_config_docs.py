"""docs/configuration.md is generated from the config models and defaults and kept current; the
README's table of contents lists its sections."""

from __future__ import annotations

import json
import re
import types
import typing
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel

from stacks.base import NAME_PATTERN
from stacks.defaults import DEFAULTS
from stacks.load import AREAS
from stacks.model import EstateConfig
from stacks.patterns import FORMATS
from tools import config_docs
from tools.config_docs import DOC_PATH, README, TOC_END, TOC_START, Reference, readme_anchors, render

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference()


@pytest.fixture(scope="module")
def text(reference: Reference) -> str:
    return reference.render()


def _rows(text: str) -> dict[str, list[str]]:
    """The key tables' rows by key path: [type, dev, prod, rule]."""
    out = {}
    for line in text.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if len(cells) == 5:
                out[cells[0].strip("`")] = cells[1:]
    return out


# ---------------------------------------------------------------- the reference
def test_committed_reference_is_current(text: str) -> None:
    assert DOC_PATH.read_text() == text, "docs/configuration.md is stale: run `make config-docs`"


def _unwrap(tp: Any) -> Any:
    while True:
        if get_origin(tp) is typing.Annotated:
            tp = get_args(tp)[0]
        elif get_origin(tp) in (typing.Union, types.UnionType):
            tp = next(a for a in get_args(tp) if a is not type(None))
        else:
            return tp


def _key_paths(model: type[BaseModel], prefix: str) -> list[str]:
    """Every key path under `model`, camelCase, `<name>` for a map entry's key."""
    out = []
    for name, info in model.model_fields.items():
        path = f"{prefix}.{info.alias or name}"
        out.append(path)
        tp = _unwrap(info.annotation)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            out += _key_paths(tp, path)
        elif get_origin(tp) is dict:
            value = _unwrap(get_args(tp)[1])
            if isinstance(value, type) and issubclass(value, BaseModel):
                out += _key_paths(value, f"{path}.<name>")
    return out


def test_every_field_of_every_model_is_documented(text: str) -> None:
    rows = _rows(text)
    expected = ["gcp:project", "gcp:region", "ai-estate:environment"]
    for area in AREAS:
        tp = _unwrap(EstateConfig.model_fields[area].annotation)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            expected += _key_paths(tp, area)
        else:  # an area that is a map of models
            expected.append(area)
            expected += _key_paths(_unwrap(get_args(tp)[1]), f"{area}.<name>")
    assert len(expected) > 150
    missing = [path for path in expected if path not in rows]
    assert not missing, f"not in docs/configuration.md: {missing}"
    assert set(rows) == set(expected), f"documented but not in the models: {set(rows) - set(expected)}"
    for path, (type_text, dev, prod, _) in rows.items():
        assert type_text and dev and prod, path


@pytest.mark.parametrize(
    ("path", "keys"),
    [
        ("network.flowLogs.sampling", ("network", "flowLogs", "sampling")),
        ("cluster.regional", ("cluster", "regional")),
        ("cache.tier", ("cache", "tier")),
        ("database.backups.retainedBackups", ("database", "backups", "retainedBackups")),
        ("signing.protectionLevel", ("signing", "protectionLevel")),
        ("backup.deleteLockDays", ("backup", "deleteLockDays")),
    ],
)
def test_prod_default_differs_from_dev_where_the_defaults_say_so(text: str, path: str, keys: tuple[str, ...]) -> None:
    values = {}
    for env in ("dev", "prod"):
        value: Any = DEFAULTS[env]
        for key in keys:
            value = value[key]
        values[env] = value
    assert values["dev"] != values["prod"], f"stacks/defaults.py no longer tells dev and prod apart on {path}"
    _, dev, prod, _ = _rows(text)[path]
    assert (dev, prod) == (f"`{json.dumps(values['dev'])}`", f"`{json.dumps(values['prod'])}`")


def test_keys_the_defaults_lack_are_required(text: str) -> None:
    rows = _rows(text)
    for path in ("gcp:project", "gcp:region", "ai-estate:environment", "cluster.zones", "dns.domain"):
        assert rows[path][1:3] == ["**required**", "**required**"], path
    # a model default where stacks/defaults.py says nothing, and an entry's model default
    assert rows["network.prefixes.nodes"][1:3] == ["`20`", "`20`"]
    assert rows["cluster.nodePools.<name>.diskSizeGb"][1:3] == ["`100`", "`100`"]
    # the keys of a map's default entries
    assert rows["cluster.nodePools"][2] == "`system`, `gpu`, `gpu-large`, `burst`, `sandbox`"
    assert "| `gpu-large` | — | `{" in text


def test_rules_are_in_words(text: str) -> None:
    assert NAME_PATTERN not in text and "^[" not in text and "{0," not in text
    assert "| name | 1–30 characters: lowercase letters, digits and hyphens; starts with a letter" in text
    rows = _rows(text)
    assert rows["cluster.nodePools"][0] == (
        "map of [name](#value-formats) -> [NodePool](#clusternodepoolsname-nodepool)"
    )
    assert rows["cluster.nodePools.<name>.minNodes"][3] == "Per zone. Between 0 and 1000."
    assert rows["network.firewallLogs"][0] == 'one of "OFF" \\| "EXCLUDE_ALL_METADATA" \\| "INCLUDE_ALL_METADATA"'
    assert rows["network.healthCheckPorts"][0] == "list of [port](#value-formats)"


def test_every_format_in_words_is_used(reference: Reference, text: str) -> None:
    assert reference.describer.used_patterns == set(FORMATS), "stacks.patterns has words for patterns no model uses"


def test_links_point_at_headings(text: str) -> None:
    anchors = {config_docs.slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}
    targets = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert targets and targets <= anchors, targets - anchors


def test_reference_does_not_depend_on_the_stack_files(text: str) -> None:
    """A new user sets their own project, domain and e-mail: the reference must not change with them."""
    for stack in ("dev", "prod"):
        config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        own = [
            config["gcp:project"],
            config["ai-estate:dns"]["domain"],
            config["ai-estate:certificates"]["acmeEmail"],
            config["ai-estate:cluster"]["gpuQuota"]["contactEmail"],
        ]
        for value in own:
            assert value not in text, value


def test_check_reports_a_stale_reference_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    doc = tmp_path / "configuration.md"
    monkeypatch.setattr(config_docs, "DOC_PATH", doc)
    monkeypatch.setattr(config_docs, "render", lambda: text)
    doc.write_text(text.replace("`0.5`", "`0.6`"))
    assert config_docs.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "make config-docs" in err
    doc.write_text(text)
    assert config_docs.main(["--check"]) == 0
    assert config_docs.main([]) == 0 and doc.read_text() == render()


# ---------------------------------------------------------------- the README's table of contents
def _toc(readme: str) -> str:
    assert TOC_START in readme and TOC_END in readme
    return readme.split(TOC_START, 1)[1].split(TOC_END, 1)[0]


def _sections(readme: str) -> list[str]:
    """The README's `##` headings, outside code blocks."""
    out, fenced = [], False
    for line in readme.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            out.append(line[3:].strip())
    return out


def test_readme_toc_lists_every_section() -> None:
    readme = README.read_text()
    toc = _toc(readme)
    sections = _sections(readme)
    assert len(sections) >= 10
    missing = [title for title in sections if f"- [{title}](#{config_docs.slug(title)})" not in toc.splitlines()]
    assert not missing, f"README sections missing from its table of contents (run `make readme-toc`): {missing}"


def test_readme_toc_links_point_at_headings() -> None:
    readme = README.read_text()
    targets = re.findall(r"\]\(#([^)]+)\)", _toc(readme))
    dangling = sorted(set(targets) - set(readme_anchors(readme)))
    assert targets and not dangling, f"README table of contents points nowhere (run `make readme-toc`): {dangling}"

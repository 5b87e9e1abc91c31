"""The configuration reference, docs/configuration.md, generated from the stack-config models.

python -m tools.config_docs          # rewrite docs/configuration.md
python -m tools.config_docs --check  # exit 1 when docs/configuration.md is stale
python -m tools.config_docs --toc    # rewrite the README's table of contents

Every key is documented as a stack file spells it (camelCase), with its type, its default in
dev and in prod, and its rule. The defaults come from the loader's own steps run on a stack
file that sets nothing of its own: `stacks.load.raw_from_config`, the deep merge over
`stacks.defaults`, the model validation and the cross-field rules (`stacks.rules.check`).
Nothing is read from `Pulumi.<stack>.yaml`: its project, region, domain and e-mail are a
user's own.
"""

from __future__ import annotations

import argparse
import enum
import json
import re
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
from pydantic import AfterValidator, BaseModel, ValidationError
from pydantic.fields import FieldInfo

from stacks.defaults import DEFAULTS, merge
from stacks.load import AREAS, NAMESPACE, raw_from_config
from stacks.model import EstateConfig
from stacks.patterns import FORMATS
from stacks.rules import check
from stacks.schema import stack_file_schema

ROOT = Path(__file__).resolve().parent.parent
DOC_PATH = ROOT / "docs" / "configuration.md"
README = ROOT / "README.md"
TOC_START, TOC_END = "<!-- toc:start -->", "<!-- toc:end -->"
ENVIRONMENTS = tuple(DEFAULTS)
ENTRY = "<name>"  # stands for the key of a map entry in a key path

# Stack-file keys outside the areas: the model's field name -> the key a stack file writes.
TOP_KEYS = {"project": "gcp:project", "region": "gcp:region", "environment": f"{NAMESPACE}:environment"}

# The words of every pattern the models use are stacks.patterns.FORMATS (the loader's error
# messages use them too): a format's name is listed under "Value formats" and used as the type,
# other words go to the rule column. Validators the models attach, by function name, likewise:
VALIDATORS: dict[str, tuple[str, str]] = {
    "_cidr": ("CIDR", "an IPv4 CIDR block with its host bits zero (`10.64.0.0/12`)"),
}
# Stand-ins for what a stack file must set and the defaults cannot (the project, its region, the
# cluster's zones): they let the defaults validate, and never reach the reference, which shows
# those keys as required.
_STAND_INS: dict[str, Any] = {
    "gcp:project": "stand-in-project",
    "gcp:region": "stand-in-region",
    f"{NAMESPACE}:cluster": {"zones": ["stand-in-region-a"]},
}

# The pydantic constraint types and the bound each one sets (its attribute of the same name).
_BOUNDS: dict[type, str] = {
    annotated_types.Ge: "ge",
    annotated_types.Gt: "gt",
    annotated_types.Le: "le",
    annotated_types.Lt: "lt",
    annotated_types.MinLen: "min_length",
    annotated_types.MaxLen: "max_length",
}


# ---------------------------------------------------------------- the defaults, per environment
@dataclass(frozen=True)
class Defaults:
    """What the loader makes of a stack file that sets nothing but the stand-ins."""

    config: EstateConfig
    required: frozenset[str]  # key paths the loader refuses a stack file without
    notes: dict[str, str]  # key path -> why a cross-field rule requires it, where its words do not say


def environment_defaults(environment: str) -> Defaults:
    """The `environment` defaults, through the loader's own steps."""
    # Without the stand-ins: what validation finds missing is required.
    required: set[str] = set()
    try:
        EstateConfig.model_validate(merge(DEFAULTS[environment], {}))
    except ValidationError as exc:
        for error in exc.errors():
            if error["type"] != "missing":
                raise
            required.add(_error_path(error["loc"]))
    doc, problems = raw_from_config({**_STAND_INS, f"{NAMESPACE}:environment": environment})
    if problems:
        raise RuntimeError(f"the stand-in stack file is refused: {problems}")
    try:
        config = EstateConfig.model_validate(merge(DEFAULTS[environment], doc))
    except ValidationError as exc:
        raise RuntimeError(
            f"the {environment} defaults do not validate with the stand-ins; a new required key without a "
            f"default needs a stand-in in tools/config_docs.py:\n{exc}"
        ) from None
    # A key the cross-field rules report absent (dns.domain, ...) is required too.
    notes: dict[str, str] = {}
    for problem in check(config):
        if problem.value is None:
            required.add(problem.path)
            if not problem.allowed.startswith("required"):
                notes[problem.path] = problem.allowed
    return Defaults(config, frozenset(required), notes)


def _error_path(loc: tuple[int | str, ...]) -> str:
    head, *rest = (str(part) for part in loc)
    return ".".join([TOP_KEYS.get(head, head), *rest])


# ---------------------------------------------------------------- types and rules in words
def slug(heading: str) -> str:
    """GitHub's anchor for a heading (without the suffix it gives a repeated one)."""
    text = heading.strip().replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _section_title(path: str, model: type[BaseModel]) -> str:
    return f"`{path}` ({model.__name__})"


def _format_link(term: str) -> str:
    return f"[{term}](#value-formats)"


def _one_of(values: tuple[Any, ...]) -> str:
    return "one of " + " | ".join(json.dumps(v) for v in values)


def _continued(text: str) -> str:
    """'An IAM member.' -> 'an IAM member', for words that continue a sentence."""
    text = text.strip().rstrip(".")
    return text[0].lower() + text[1:] if text[:2].istitle() else text


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else text + "."


def _capitalized(text: str) -> str:
    return text[0].upper() + text[1:]


@dataclass
class _Describer:
    """Renders types and constraints in words; remembers the formats it used."""

    used_patterns: set[str] = field(default_factory=set)
    used_formats: dict[str, str] = field(default_factory=dict)  # format name -> words

    def type_text(self, tp: Any, rules: list[str], path: str) -> str:
        """`tp` in words; the rules it carries go to `rules`. `path` is the key's (for links)."""
        origin = get_origin(tp)
        if origin is typing.Annotated:
            base, *meta = get_args(tp)
            term = self.constraints(base, meta, rules)
            return _format_link(term) if term else self.type_text(base, rules, path)
        if origin in (typing.Union, types.UnionType):
            options = [a for a in get_args(tp) if a is not type(None)]
            return " or ".join(self.type_text(a, rules, path) for a in options)
        if origin is Literal:
            return _one_of(get_args(tp))
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return _one_of(tuple(member.value for member in tp))
        if origin is list:
            (item,) = get_args(tp)
            item_rules: list[str] = []
            text = f"list of {self.type_text(item, item_rules, path)}"
            if item_rules:
                rules.append(_capitalized(f"each item: {'; '.join(map(_continued, item_rules))}"))
            return text
        if origin is dict:
            key, value = get_args(tp)
            key_rules: list[str] = []
            value_rules: list[str] = []
            value_text = self.type_text(value, value_rules, f"{path}.{ENTRY}")
            text = f"map of {self.type_text(key, key_rules, path)} -> {value_text}"
            for what, inner in (("keys", key_rules), ("values", value_rules)):
                if inner:
                    rules.append(_capitalized(f"{what}: {'; '.join(map(_continued, inner))}"))
            return text
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return f"[{tp.__name__}](#{slug(_section_title(path, tp))})"
        names = {bool: "boolean", int: "integer", float: "number", str: "string"}
        if tp in names:
            return names[tp]
        raise TypeError(f"{path}: no words for the type {tp!r}; teach tools/config_docs.py")

    def constraints(self, base: Any, meta: list[Any], rules: list[str]) -> str | None:
        """Append the rules in `meta` (constraints on `base`) to `rules`; return the name of a format."""
        term: str | None = None
        bounds: dict[str, Any] = {}
        for item in meta:
            if isinstance(item, FieldInfo):
                if item.description:
                    rules.append(item.description)
                term = self.constraints(base, list(item.metadata), rules) or term
            elif isinstance(item, AfterValidator):
                name = getattr(item.func, "__name__", "")
                if name not in VALIDATORS:
                    raise TypeError(f"no words for the validator {name!r}; add it to VALIDATORS")
                term, words = VALIDATORS[name]
                self.used_formats[term] = words
            elif getattr(item, "pattern", None) is not None:
                pattern = item.pattern
                if pattern not in FORMATS:
                    raise TypeError(f"no words for the pattern {pattern!r}; add it to stacks.patterns.FORMATS")
                self.used_patterns.add(pattern)
                name, words = FORMATS[pattern]
                if name is None:
                    rules.append(_capitalized(words))
                else:
                    term = name
                    self.used_formats[name] = words
            elif type(item) in _BOUNDS:
                bounds[_BOUNDS[type(item)]] = getattr(item, _BOUNDS[type(item)])
            else:
                raise TypeError(f"no words for the constraint {item!r}; teach tools/config_docs.py")
        rules += [_capitalized(words) for words in _bounds_in_words(base, bounds)]
        return term


def _bounds_in_words(base: Any, bounds: dict[str, Any]) -> list[str]:
    out = []
    if "ge" in bounds and "le" in bounds:
        out.append(f"between {bounds['ge']} and {bounds['le']}")
    else:
        for key, words in (("ge", "at least"), ("gt", "more than"), ("le", "at most"), ("lt", "less than")):
            if key in bounds:
                out.append(f"{words} {bounds[key]}")
    unit, units = {list: ("item", "items"), dict: ("entry", "entries")}.get(
        get_origin(_unwrap(base)) or base, ("character", "characters")
    )
    for key, words in (("min_length", "at least"), ("max_length", "at most")):
        if key in bounds:
            out.append(f"{words} {bounds[key]} {unit if bounds[key] == 1 else units}")
    return out


# ---------------------------------------------------------------- sections and rows
@dataclass
class Section:
    """One table: the fields of `model` at `path`.

    `values` holds, per environment, the merged default at `path` (None where its parent is
    unset); it is None inside map entries, where a key's default is the model's own. `entries`,
    for a map's value model outside map entries, holds the map's default entries per environment.
    """

    path: str
    model: type[BaseModel]
    values: dict[str, Any] | None
    entries: dict[str, dict[str, BaseModel]] | None = None


def _unwrap(tp: Any) -> Any:
    """The type behind Annotated and `| None`."""
    while True:
        origin = get_origin(tp)
        if origin is typing.Annotated:
            tp = get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in get_args(tp) if a is not type(None)]
            if len(options) != 1:
                return tp
            tp = options[0]
        else:
            return tp


def _model(tp: Any) -> type[BaseModel] | None:
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _map_of_models(tp: Any) -> type[BaseModel] | None:
    tp = _unwrap(tp)
    return _model(get_args(tp)[1]) if get_origin(tp) is dict else None


def _json(value: Any) -> Any:
    """A default as a stack file writes it; an entry shows what it sets beyond its model's defaults."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def _code(value: Any) -> str:
    return f"`{json.dumps(_json(value), ensure_ascii=False)}`"


def _default_cell(tp: Any, value: Any, *, required: bool) -> str:
    if required:
        return "**required**"
    if value is None:
        return "unset"
    if _model(tp) is not None:
        return "see below"
    if _map_of_models(tp) is not None and value:
        return ", ".join(f"`{name}`" for name in value)
    return _code(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    return lines + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def _first_paragraph(doc: str) -> str:
    return " ".join(doc.strip().split("\n\n")[0].split())


@dataclass
class _Row:
    cells: list[str]
    child: Section | None
    notes: list[str]


class Reference:
    """The whole reference, rendered from the models and each environment's defaults."""

    def __init__(self) -> None:
        self.defaults = {env: environment_defaults(env) for env in ENVIRONMENTS}
        self.describer = _Describer()
        self.key_paths: list[str] = []  # every key path documented, in order
        self.anchors: set[str] = set()

    def _row(
        self, key_path: str, name: str, info: FieldInfo, values: dict[str, Any] | None, description: str | None = None
    ) -> _Row:
        """The row of the field `name` at `key_path`, and the section of its nested model if it has one."""
        self.key_paths.append(key_path)
        description = info.description or description
        rules: list[str] = [description] if description else []
        tp = info.annotation
        type_text = self.describer.type_text(tp, rules, key_path)
        term = self.describer.constraints(tp, list(info.metadata), rules)
        if term:  # a format (e.g. `name`) says more than `string`
            type_text = _format_link(term)
        cells, notes = [], []
        for env in ENVIRONMENTS:
            note = None
            if values is None:  # inside a map entry: the model's default
                required = info.is_required()
                value = None if required else info.get_default(call_default_factory=True)
            else:
                required = key_path in self.defaults[env].required
                value = _get(values[env], name)
                note = self.defaults[env].notes.get(key_path)
            cell = _default_cell(tp, value, required=required)
            if note is not None:
                cell += " (note below)"
                notes.append(f"- {env}: {_sentence(note)}")
            cells.append(cell)
        if notes:
            notes = [f"With the defaults alone, a rule across keys requires `{key_path}`:", "", *notes]
        child: Section | None = None
        if (model := _model(tp)) is not None:
            child_values = None if values is None else {env: _get(values[env], name) for env in ENVIRONMENTS}
            child = Section(key_path, model, child_values)
        elif (value_model := _map_of_models(tp)) is not None:
            entries = None if values is None else {env: _get(values[env], name) or {} for env in ENVIRONMENTS}
            child = Section(f"{key_path}.{ENTRY}", value_model, None, entries)
        rule = " ".join(_sentence(r) for r in rules)
        return _Row([f"`{key_path}`", type_text, *cells, rule], child, notes)

    def _fields_table(self, rows: list[_Row]) -> Iterator[str]:
        yield from _table(["key", "type", *ENVIRONMENTS, "rule"], [row.cells for row in rows])
        for row in rows:
            if row.notes:
                yield ""
                yield from row.notes

    def _heading(self, level: int, title: str) -> str:
        anchor = slug(title)
        if anchor in self.anchors:
            raise ValueError(f"two headings share the anchor #{anchor}")
        self.anchors.add(anchor)
        return f"{'#' * level} {title}"

    def _section(self, section: Section) -> Iterator[str]:
        """A nested model's heading and table, then its own nested models', depth first."""
        yield ""
        yield self._heading(3, _section_title(section.path, section.model))
        yield ""
        if section.model.__doc__:
            yield _first_paragraph(section.model.__doc__)
            yield ""
        yield from self._body(section)

    def _body(self, section: Section) -> Iterator[str]:
        rows = [
            self._row(f"{section.path}.{info.alias or name}", name, info, section.values)
            for name, info in section.model.model_fields.items()
        ]
        yield from self._fields_table(rows)
        if section.entries is not None:
            yield ""
            yield from self._entries_table(section.entries)
        for row in rows:
            if row.child is not None:
                yield from self._section(row.child)

    def _entries_table(self, entries: dict[str, dict[str, BaseModel]]) -> Iterator[str]:
        names = list(dict.fromkeys(name for env in ENVIRONMENTS for name in entries[env]))
        if not names:
            yield "The defaults add no entries."
            return
        yield (
            "The entries the defaults add, with what each sets beyond the defaults above (a stack file "
            "changes an entry key by key, or removes it with `null`):"
        )
        yield ""
        first, rows = ENVIRONMENTS[0], []
        for name in names:
            cells = [f"`{name}`"]
            for env in ENVIRONMENTS:
                entry = entries[env].get(name)
                if entry is None:
                    cells.append("—")
                elif env != first and entry == entries[first].get(name):
                    cells.append(f"same as {first}")
                else:
                    cells.append(_code(entry))
            rows.append(cells)
        yield from _table(["entry", *ENVIRONMENTS], rows)

    def _top(self) -> Iterator[str]:
        yield self._heading(2, "Top-level keys")
        yield ""
        words = {
            "region": stack_file_schema()["properties"]["config"]["properties"]["gcp:region"]["description"],
            "environment": "Picks the defaults (the columns here) and, in prod, the production rules.",
        }
        values = {env: self.defaults[env].config for env in ENVIRONMENTS}
        fields = EstateConfig.model_fields
        yield from self._fields_table(
            [self._row(key, name, fields[name], values, words.get(name)) for name, key in TOP_KEYS.items()]
        )

    def _area(self, area: str) -> Iterator[str]:
        yield self._heading(2, f"`{NAMESPACE}:{area}`")
        yield ""
        info = EstateConfig.model_fields[area]
        configs = {env: self.defaults[env].config for env in ENVIRONMENTS}
        model = _model(info.annotation)
        if model is not None:
            if model.__doc__:
                yield _first_paragraph(model.__doc__)
                yield ""
            self.key_paths.append(area)
            yield from self._body(Section(area, model, {env: getattr(configs[env], area) for env in ENVIRONMENTS}))
            return
        # An area that is itself a map (namespaces, charts): its row, then its value model.
        row = self._row(area, area, info, configs)
        yield from self._fields_table([row])
        if row.child is not None:
            yield from self._section(row.child)

    def _formats(self) -> Iterator[str]:
        yield self._heading(2, "Value formats")
        yield ""
        yield "A type named after one of these formats is a string in that format."
        yield ""
        formats = sorted(self.describer.used_formats.items(), key=lambda item: item[0].lower())
        yield from _table(["format", "what it accepts"], [[name, words] for name, words in formats])

    def render(self) -> str:
        body = list(self._top())
        for area in AREAS:
            body += ["", *self._area(area)]
        body += ["", *self._formats()]
        titles = ["Top-level keys", *(f"`{NAMESPACE}:{area}`" for area in AREAS), "Value formats"]
        contents = [f"- [{title.strip('`')}](#{slug(title)})" for title in titles]
        return "\n".join([*HEADER, "Contents:", "", *contents, "", *body]) + "\n"


def _get(instance: BaseModel | None, name: str) -> Any:
    return None if instance is None else getattr(instance, name)


HEADER = [
    "# Configuration reference",
    "",
    "<!-- Generated by `make config-docs` (python -m tools.config_docs) from stacks/; do not edit by hand. -->",
    "",
    "Every key a stack file (`Pulumi.<stack>.yaml`) can set, spelled as the file spells it: camelCase, one",
    f"key per area under the `{NAMESPACE}` namespace, with `gcp:project` and `gcp:region` in the `gcp`",
    "namespace. Generated from the models in `stacks/` and the per-environment defaults in",
    "`stacks/defaults.py` by `make config-docs`; a test fails when it is stale.",
    "",
    "How to read the tables:",
    "",
    "- **key**: the key path, as the loader names it in its error messages; `<name>` stands for the",
    "  key of a map entry (a pool's, a bucket's, ...).",
    "- **dev** and **prod**: what the loader uses when the stack file leaves the key out: the",
    "  environment's defaults (`stacks/defaults.py`), deep-merged over the models' own. A",
    "  **required** key must be set (the loader refuses a stack file without it); an unset one is",
    '  absent unless the stack file sets it; "see below" points to the nested table. Inside a map',
    "  entry they give what an entry gets for a key it leaves out, and the entries the defaults add",
    "  are listed under the entry's table.",
    "- **rule**: what the models accept. Rules that span keys or areas (zones in the region, prod's",
    "  high availability, references between areas, ...) are checked by the loader too: see the",
    '  README, "Stack configuration".',
    "",
    "A stack file is deep-merged over the defaults: maps merge key by key, lists and scalars replace,",
    "and `null` removes a map entry.",
    "",
]


def render() -> str:
    return Reference().render()


# ---------------------------------------------------------------- the README's table of contents
def readme_headings(text: str) -> list[tuple[int, str]]:
    """The README's `##` and `###` headings, in order, outside code blocks."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else re.match(r"^(#{2,3}) (.+?)\s*$", line)
        if match:
            out.append((len(match[1]), match[2]))
    return out


def readme_anchors(text: str) -> list[str]:
    """The anchors GitHub gives the README's `##` and `###` headings, repeated ones suffixed."""
    seen: dict[str, int] = {}
    out = []
    for _, title in readme_headings(text):
        anchor = slug(title)
        out.append(f"{anchor}-{seen[anchor]}" if anchor in seen else anchor)
        seen[anchor] = seen.get(anchor, 0) + 1
    return out


def readme_toc(text: str) -> str:
    lines = [TOC_START, "**Contents**", ""]
    for (level, title), anchor in zip(readme_headings(text), readme_anchors(text), strict=True):
        lines.append(f"{'  ' * (level - 2)}- [{title}](#{anchor})")
    lines.append(TOC_END)
    return "\n".join(lines)


def readme_with_toc(text: str) -> str:
    head, _, rest = text.partition(TOC_START)
    _, _, tail = rest.partition(TOC_END)
    return head + readme_toc(text) + tail


# ---------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/configuration.md is stale")
    parser.add_argument("--toc", action="store_true", help="rewrite the README's table of contents instead")
    args = parser.parse_args(argv)
    if args.toc:
        text = README.read_text()
        if TOC_START not in text or TOC_END not in text:
            print(f"README.md has no {TOC_START} ... {TOC_END} block", file=sys.stderr)
            return 1
        README.write_text(readme_with_toc(text))
        return 0
    new = render()
    if args.check:
        if not DOC_PATH.exists() or DOC_PATH.read_text() != new:
            print("docs/configuration.md is stale: run `make config-docs`", file=sys.stderr)
            return 1
        return 0
    DOC_PATH.write_text(new)
    print(f"wrote {DOC_PATH.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Upstream truth for what the estate sets: CRD schemas, chart values, built-in kinds.

The API server prunes fields a CRD does not declare and Helm ignores values keys a chart does not
read, so a misspelt key would do nothing at all: tests check against what the software ships.

- **The chart cache** (`make charts`, or `$ESTATE_CHART_CACHE`; `tools/charts/refs.py`): each pinned
  chart's archive carries its custom resource definitions (`crds/`, or templates that render
  them), its default `values.yaml`, its `values.schema.json` and the templates that read the
  values. Everything about CRDs and chart values is derived from there, for exactly the pinned
  versions; the checks skip only where the cache lacks the charts they need.
- **Built-in kinds** (Namespace, NetworkPolicy, Job, ...): Kubernetes' own JSON schemas, strict
  (no unknown field), as the `kubernetes-validate` package ships them per Kubernetes minor.
- **`../shared/k8s-upstream/`**, an optional extra where it exists beside the repository: the
  newest upstream release of each chart (the pins' freshness), and CRDs of API groups no pinned
  chart ships.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from stacks.charts import PINS
from stacks.defaults import merge
from tools.charts import helm
from tools.charts.refs import CACHE_ENV, ChartRef, archive_path, cache_dir, chart_ref
from tools.plan import ROOT, SECRET_SIG, UNKNOWN

SHARED = ROOT.parent / "shared" / "k8s-upstream"
Path_ = tuple[str, ...]


# ---------------------------------------------------------------- the chart cache
def pin_ref(key: str) -> ChartRef:
    """The cache entry of pin `key`, resolved as the plan's Chart registration resolves it."""
    pin = PINS[key]
    oci = pin.repository.startswith("oci://")
    return chart_ref(
        {"chart": f"{pin.repository.rstrip('/')}/{pin.chart}", "version": pin.version}
        if oci
        else {"chart": pin.chart, "version": pin.version, "repositoryOpts": {"repo": pin.repository}}
    )


def _archive(key: str) -> Path:
    return archive_path(pin_ref(key), cache_dir())


def require_charts(*keys: str, refs: Iterable[ChartRef] = ()) -> Path:
    """The chart cache, or skip the calling test saying which charts it lacks and how to fill it.

    `keys` name pins (all of them when neither keys nor refs are given); `refs` other versions,
    such as a stack's override of a pin."""
    cache = cache_dir()
    wanted = [pin_ref(k) for k in keys or ([] if refs else sorted(PINS))] + list(refs)
    missing = [ref for ref in wanted if not archive_path(ref, cache).is_file()]
    if missing:
        pytest.skip(
            f"the chart cache {cache} lacks {', '.join(map(str, missing))}: fill it with "
            f"`make charts` (needs network), or point {CACHE_ENV} at a filled cache"
        )
    return cache


# ---------------------------------------------------------------- ../shared (optional)
def require_shared() -> Path:
    """`../shared/k8s-upstream/`, or skip the calling test saying why (an optional extra)."""
    if not (SHARED / "chart-values").is_dir():
        pytest.skip(f"newest upstream releases not found at {SHARED} (an optional extra, beside the repository)")
    return SHARED


def latest_release(key: str) -> str:
    """The newest upstream release of chart `key` that `../shared/k8s-upstream/` describes."""
    path = require_shared() / "chart-values" / f"{key}.json"
    if not path.exists():
        pytest.skip(f"../shared/k8s-upstream describes no releases of chart {key!r}")
    return str(json.loads(path.read_text())["latest_version"])


@cache
def _shared_group(group: str) -> dict[str, Any] | None:
    path = SHARED / "crds" / f"{group}.json"
    return json.loads(path.read_text()) if path.exists() else None


# ---------------------------------------------------------------- one chart, read from its archive
@dataclass
class ChartSource:
    """What one cached chart archive says about its values, and the CRDs it installs."""

    key: str
    values: dict[str, Any]
    values_schema: dict[str, Any] | None
    crds: list[dict[str, Any]]
    # (template or file name, text, the values prefix it reads under: () or a subchart's key)
    texts: list[tuple[str, str, Path_]] = field(default_factory=list)
    values_yaml: str = ""
    profiles: list[dict[str, Any]] = field(default_factory=list)

    def data(self) -> dict[str, Any]:
        read: set[Path_] = set()
        freeform: set[Path_] = set(_empty_maps(self.values))
        for _, text, prefix in self.texts:
            reads, whole = template_reads(text)
            read |= {prefix + p for p in reads}
            freeform |= {prefix + p for p in whole}
        return {
            "chart": self.key,
            "values": self.values,
            "values_schema": self.values_schema,
            "template_paths": sorted(read),
            "freeform_paths": sorted(freeform),
            "profile_paths": sorted({p for profile in self.profiles for p in _prefixes(profile)}),
            "commented_paths": sorted(commented_paths(self.values_yaml)),
        }


# Istio's charts keep their defaults under this key; templates/zzz_profile.yaml merges a profile
# (files/profile-*.yaml) and the user's values over them and sets the result as .Values.
ISTIO_DEFAULTS = "_internal_defaults_do_not_set"


def _chart_values(values: dict[str, Any]) -> dict[str, Any]:
    if ISTIO_DEFAULTS in values:
        rest = {k: v for k, v in values.items() if k != ISTIO_DEFAULTS}
        return merge(values[ISTIO_DEFAULTS], rest)
    return values


def _crd_switches(templates: Iterable[Mapping[str, str]]) -> dict[str, Any]:
    """Values that turn on the templates rendering CRDs: every `.Values` path in their guarding `if`.

    cert-manager renders its CRDs only with `crds.enabled`; charts that render them by default
    (External Secrets' `installCRDs`, Istio base's `base.enableCRDTemplates`) are unchanged by it.
    """
    switches: dict[str, Any] = {}
    for t in templates:
        if "kind: CustomResourceDefinition" not in t["data"]:
            continue
        guard = re.match(r"\s*\{\{-?\s*if\s+(.*?)-?\}\}", t["data"])
        for path in re.findall(r"\$?\.Values((?:\.\w+)+)", guard[1] if guard else ""):
            switches = merge(switches, _nest(tuple(path.strip(".").split(".")), True))
    return switches


def _nest(path: Path_, value: Any) -> dict[str, Any]:
    for part in reversed(path[1:]):
        value = {part: value}
    return {path[0]: value}


def _archive_texts(
    archive: Path, dependencies: Mapping[str, str]
) -> tuple[str, list[tuple[str, str, Path_]], dict[str, Any]]:
    """values.yaml's text, every template and file (subcharts' included) with its values prefix, and
    the subcharts' own defaults under their keys."""
    texts: list[tuple[str, str, Path_]] = []
    values_yaml = ""
    nested: dict[str, Any] = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            _, _, path = member.name.partition("/")
            data = tar.extractfile(member)
            if data is None:
                continue
            raw = data.read()
            if path == "values.yaml":
                values_yaml = raw.decode()
            elif path.startswith(("templates/", "files/")):
                texts.append((path, raw.decode(errors="replace"), ()))
            elif m := re.match(r"charts/([^/]+)/templates/", path):
                # A subchart reads its values under its alias (or name) in the parent's values.
                texts.append((path, raw.decode(errors="replace"), (dependencies.get(m[1], m[1]),)))
            elif m := re.fullmatch(r"charts/([^/]+)/values\.yaml", path):
                # An unpacked subchart's defaults, under its key (helm package stores them so).
                nested[dependencies.get(m[1], m[1])] = yaml.safe_load(raw) or {}
    return values_yaml, texts, nested


# What a chart refuses to render without (a `required` value, a NOTES.txt `fail`), set to a
# placeholder so its CRDs can be read: none of these charts installs CRDs with the estate's values.
RENDERABLE: dict[str, dict[str, Any]] = {
    "loki": {
        "loki": {
            "storage": {"type": "gcs", "bucketNames": {"chunks": "upstream-check"}},
            "useTestSchema": True,
        },
        "ruler": {"enabled": False},
    },
    "opentelemetry-collector": {"mode": "deployment", "image": {"repository": "upstream-check"}},
    # n8n's deployment-main.yaml fails on its own placeholder encryption key.
    "n8n": {"secretRefs": {"existingSecret": "upstream-check"}},
}


@cache
def _chart_source(cache: Path, key: str, ref: ChartRef | None = None) -> ChartSource:
    """Chart `key` at its pin, or at `ref` (another version of the same chart)."""
    import helm_python

    archive = archive_path(ref or pin_ref(key), cache)
    with helm_python.Chart.load(archive) as chart:
        values = _chart_values(chart.values)
        schema = chart.schema
        switches = _crd_switches(chart.templates)
        aliases = {d["name"]: d.get("alias") or d["name"] for d in chart.metadata.get("dependencies") or []}
        profiles = [
            doc
            for f in chart.files
            if re.fullmatch(r"files/profile-[\w.-]+\.yaml", f["name"])
            and isinstance(doc := yaml.safe_load(f["data"]), dict)
        ]
    values_for_crds = merge(RENDERABLE.get(key, {}), switches)
    objects = helm.render(archive, values_for_crds, release=key, namespace="upstream-check", include_crds=True)
    crds = [o for o in objects if o.get("kind") == "CustomResourceDefinition"]
    values_yaml, texts, subchart_values = _archive_texts(archive, aliases)
    # A packaged subchart's defaults under its key, the parent's values over them (as Helm coalesces).
    values = merge(subchart_values, values)
    return ChartSource(key, values, schema, crds, texts, values_yaml, profiles)


def chart_source(key: str) -> ChartSource:
    return _chart_source(require_charts(key), key)


@cache
def _chart_data(cache: Path, key: str, ref: ChartRef | None = None) -> dict[str, Any]:
    return _chart_source(cache, key, ref).data()


def chart_data(key: str, ref: ChartRef | None = None) -> dict[str, Any]:
    """The pinned chart's defaults, values schema, and the key paths its templates read or leave free-form.

    From the chart cache; where it lacks the chart, from `../shared/k8s-upstream/` if that exists
    (the same data extracted from a few upstream releases), else the calling test skips. `ref`:
    another version of the chart than its pin (a stack's override), from the cache only."""
    if ref is not None and ref != pin_ref(key):
        return _chart_data(require_charts(refs=[ref]), key, ref)
    if not _archive(key).is_file() and (shared := SHARED / "chart-values" / f"{key}.json").is_file():
        data: dict[str, Any] = json.loads(shared.read_text())
        return data
    return _chart_data(require_charts(key), key)


# ---------------------------------------------------------------- reading templates
_ACTION = re.compile(r"\{\{-?(.*?)-?\}\}", re.S)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`')
_FIELDS = r"((?:\.[A-Za-z_]\w*)*)"
# Operands that name a place in .Values: absolute, through a variable, or relative to the dot.
_ABSOLUTE = re.compile(r"\(?\$?\.Values(?:\)|\b)" + _FIELDS)
_PAREN_ABSOLUTE = re.compile(r"\(\$?\.Values" + _FIELDS + r"\)" + _FIELDS)
_VARIABLE = re.compile(r"\$([A-Za-z_]\w*)" + _FIELDS)
_RELATIVE = re.compile(r"(?<![\w$)\].])\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)")
_DOT = re.compile(r"(?<![\w$)\].])\.(?![\w.])")
_SERIALIZE = "toYaml|toJson|toPrettyJson|toRawJson|tpl"


def _split(fields: str) -> Path_:
    return tuple(f for f in fields.split(".") if f)


def _prefixes(value: Any, path: Path_ = ()) -> Iterator[Path_]:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            here = (*path, str(key))
            yield here
            yield from _prefixes(sub, here)


def _empty_maps(value: Any, path: Path_ = ()) -> Iterator[Path_]:
    """Defaults that are empty maps: the chart takes any key there (labels, annotations, affinity...)."""
    if isinstance(value, Mapping):
        if not value and path:
            yield path
        for key, sub in value.items():
            yield from _empty_maps(sub, (*path, str(key)))


@dataclass
class _Scope:
    dot: Path_ | None  # where `.` points inside .Values; None: the root context or not in .Values
    dead: bool = False  # inside `if false` (Istio's zzz_profile.yaml keeps code there): never runs
    dead_if: bool = False  # this scope is that `if false`: its `else` runs


def template_reads(text: str) -> tuple[set[Path_], set[Path_]]:
    """The .Values paths a template reads, and those it renders whole: free-form below them.

    A small reading of Go templates: absolute paths (`.Values.a.b`, `$.Values.a`), `index`/`dig`
    with literal keys, variables bound to a values path, and paths relative to the dot inside
    `with`. Rendered whole: serialised (`toYaml`, `toJson`, `tpl`), ranged over, defaulted to an
    empty map or list, or handed to a helper as its dot. What it cannot follow (a path handed to
    a helper inside a `dict`) it does not guess.
    """
    reads: set[Path_] = set()
    whole: set[Path_] = set()
    variables: dict[str, Path_] = {}
    stack = [_Scope(dot=None)]

    def resolve(operand: str) -> Path_ | None:
        operand = operand.strip()
        if m := _PAREN_ABSOLUTE.fullmatch(operand):
            return _split(m[1]) + _split(m[2])
        if m := _ABSOLUTE.fullmatch(operand):
            return _split(m[1])
        if m := _VARIABLE.fullmatch(operand):
            base = variables.get(m[1])
            return None if base is None else base + _split(m[2])
        scope = stack[-1]
        if operand == ".":
            return scope.dot
        if operand.startswith(".") and scope.dot is not None:
            return scope.dot + _split(operand)
        return None

    def paths_in(code: str, keyed: str) -> Iterator[Path_]:
        for m in _PAREN_ABSOLUTE.finditer(code):
            yield _split(m[1]) + _split(m[2])
        for m in _ABSOLUTE.finditer(code):
            yield _split(m[1])
        for m in _VARIABLE.finditer(code):
            if m[1] in variables:
                yield variables[m[1]] + _split(m[2])
        if stack[-1].dot is not None:
            for m in _RELATIVE.finditer(code):
                if m[1] != "Values" and not m[1].startswith("Values."):
                    yield stack[-1].dot + _split(m[1])
        # index X "a" "b" / dig "a" "b" default X: literal keys below X.
        for m in re.finditer(r"\bindex\s+(\(?[$.][\w.$]*\)?)((?:\s+\"[^\"]+\")+)", keyed):
            if (base := resolve(m[1])) is not None:
                yield base + tuple(re.findall(r'"([^"]+)"', m[2]))
        for m in re.finditer(r"\bdig((?:\s+\"[^\"]+\")+)\s+\S+\s+(\(?[$.][\w.$]*\)?)", keyed):
            if (base := resolve(m[2])) is not None:
                yield base + tuple(re.findall(r'"([^"]+)"', m[1]))

    def serialized(code: str) -> Iterator[Path_]:
        operand = r"(\(\$?\.Values[\w.]*\)[\w.]*|\$\w*[\w.]*|\.[\w.]*)"
        for m in re.finditer(rf"\b(?:{_SERIALIZE})\s+\(?\s*{operand}", code):
            if (p := resolve(m[1])) is not None:
                yield p
        for m in re.finditer(rf"{operand}\s*\|\s*(?:{_SERIALIZE})\b", code):
            if (p := resolve(m[1])) is not None:
                yield p
        # A block handed to a helper (`include "x.resources" .Values.resources`): which of its keys
        # the helper reads is not followed here, so all are taken.
        for m in re.finditer(rf"\b(?:include|template)\s+\"\"\s+\(?\s*{operand}", code):
            if (p := resolve(m[1])) is not None:
                yield p
        # A path defaulted to an empty map or list is one the user fills: `.Values.x | default dict`.
        for m in re.finditer(rf"{operand}\s*\|\s*default\s+\(?(?:dict|list)\b", code):
            if (p := resolve(m[1])) is not None:
                yield p
        for m in re.finditer(rf"\bdefault\s+\(?(?:dict|list)\)?\s+{operand}", code):
            if (p := resolve(m[1])) is not None:
                yield p

    for match in _ACTION.finditer(text):
        keyed = match[1].strip()
        if keyed.startswith("/*"):
            continue
        code = _STRING.sub('""', keyed)
        word = code.split(None, 1)[0] if code.split() else ""
        rest = code[len(word) :].strip()
        scope = stack[-1]
        if word == "end":
            if len(stack) > 1:
                stack.pop()
            continue
        if word == "else" and scope.dead_if:
            scope.dead = stack[-2].dead
        if scope.dead:
            if word in ("if", "with", "range", "define", "block"):
                stack.append(_Scope(dot=None, dead=True))
            continue
        for path in paths_in(code, keyed):
            reads.update(path[:n] for n in range(1, len(path) + 1))
        whole.update(p for p in serialized(code) if p)
        bind = re.match(r"\$([A-Za-z_]\w*)\s*:?=\s*(.+)$", code if word.startswith("$") else rest)
        if bind and (p := resolve(bind[2])) is not None:
            variables[bind[1]] = p
        if word == "with":
            stack.append(_Scope(dot=resolve(rest)))
        elif word == "range":
            source = rest.split(":=", 1)[-1]
            if (p := resolve(source)) is not None and p:
                whole.add(p)  # its keys or items are the user's
            stack.append(_Scope(dot=None))
        elif word == "if" and rest == "false":
            stack.append(_Scope(dot=scope.dot, dead=True, dead_if=True))
        elif word in ("if", "block"):
            stack.append(_Scope(dot=scope.dot))
        elif word == "define":
            stack.append(_Scope(dot=None))
    return reads, whole


# ---------------------------------------------------------------- values.yaml comments
_KEY = re.compile(r"^(\s*)([A-Za-z_][\w.\-/]*|\"[^\"]+\"):(\s|$)")
_COMMENTED_KEY = re.compile(r"^(\s*)#( *)([A-Za-z_][\w.\-/]*):(\s|$)")


def commented_paths(values_yaml: str) -> set[Path_]:
    """Keys values.yaml documents only in comments (`# digest: sha256:...`), with their full path.

    A commented key's depth is the column of `#` plus the spaces after it beyond one, so a
    commented block nests as it would uncommented."""
    found: set[Path_] = set()
    stack: list[tuple[int, str]] = []
    for line in values_yaml.splitlines():
        if m := _COMMENTED_KEY.match(line):
            indent, key, commented = len(m[1]) + max(len(m[2]) - 1, 0), m[3], True
        elif m := _KEY.match(line):
            indent, key, commented = len(m[1]), m[2].strip('"'), False
        else:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        if commented:
            found.add(tuple(k for _, k in stack))
    return found


# ---------------------------------------------------------------- CRDs
@cache
def _cached_crds(cache: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(group, version, kind) -> openAPIV3Schema of every served version of every cached chart's CRDs."""
    schemas: dict[tuple[str, str, str], dict[str, Any]] = {}
    for key in sorted(PINS):
        if not archive_path(pin_ref(key), cache).is_file():
            continue
        for crd in _chart_source(cache, key).crds:
            spec = crd.get("spec") or {}
            for version in spec.get("versions") or []:
                if version.get("served", True):
                    schema = (version.get("schema") or {}).get("openAPIV3Schema") or {}
                    schemas[(spec["group"], version["name"], spec["names"]["kind"])] = schema
    return schemas


def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The openAPIV3Schema of `kind` at `api_version` (group/version): from the charts that install
    the CRD, else (an extra) from `../shared/k8s-upstream/`."""
    group, _, version = api_version.rpartition("/")
    cache = cache_dir()
    schemas = _cached_crds(cache)
    if (group, version, kind) in schemas:
        return schemas[(group, version, kind)]
    shared = _shared_group(group)
    if shared and kind in shared["versions"].get(version, {}):
        schema: dict[str, Any] = shared["versions"][version][kind]["schema"]
        return schema
    require_charts()  # a chart missing from the cache may be the one that ships it
    served = sorted(f"{g}/{v} {k}" for g, v, k in schemas if g == group)
    raise LookupError(f"{api_version} {kind} is not served by any pinned chart's CRDs; {group} serves: {served}")


def _pruned(value: Any, schema: Mapping[str, Any], path: str) -> Iterator[str]:
    """Fields the API server would silently drop: not declared where the schema is closed."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, Mapping):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            here = f"{path}.{key}" if path else str(key)
            if props is not None and key in props:
                yield from _pruned(sub, props[key], here)
            elif isinstance(extra, Mapping):
                yield from _pruned(sub, extra, here)
            elif extra is True:
                continue
            elif props is not None or extra is False:
                yield here
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, sub in enumerate(value):
            yield from _pruned(sub, schema["items"], f"{path}[{i}]")


def crd_problems(obj: Mapping[str, Any]) -> list[str]:
    """Every problem the API server would have with `obj` (apiVersion, kind, metadata, spec...).

    Fields it would prune and values its schema rejects; `metadata` is the API server's own.
    """
    schema = crd_schema(str(obj["apiVersion"]), str(obj["kind"]))
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    closed = {**schema, "properties": {k: v for k, v in schema.get("properties", {}).items() if k != "metadata"}}
    problems = [f"pruned: {p}" for p in _pruned(body, closed, "")]
    validator = jsonschema.Draft7Validator(closed)
    problems += [
        f"invalid: {'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in validator.iter_errors(body)
    ]
    return problems


# ---------------------------------------------------------------- built-in kinds
# The Kubernetes minors the built-in objects must be valid for: the one the gate renders charts
# for (Helm's default capabilities, tools/charts/helm.py) and the newest kubernetes-validate ships.
RENDERED_FOR = "1.36"
KUBERNETES_VERSIONS = (RENDERED_FOR, "1.37")


SECRET_MAPS = ("data", "stringData")


def _known(value: Any) -> Any:
    """The object as the API server would get it: secrets as a string, values unknown in preview left out."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return "masked-secret"
        # A Secret's data maps are masked whole: an empty map stands for them.
        return {
            k: {} if k in SECRET_MAPS and isinstance(v, dict) and SECRET_SIG in v else _known(v)
            for k, v in value.items()
            if v != UNKNOWN
        }
    if isinstance(value, list):
        return [_known(v) for v in value if v != UNKNOWN]
    return value


@cache
def _builtin_validator(version: str, api_version: str, kind: str) -> jsonschema.Validator | None:
    """kubernetes-validate's strict schema of `kind` for the Kubernetes minor `version` (its newest
    release not newer), as its own `validate` builds it, kept for the session (the shared
    definitions are megabytes of JSON); None where that Kubernetes does not serve the kind."""
    from kubernetes_validate import utils  # type: ignore[import-untyped]
    from referencing import Registry, Resource

    release = [v for v in utils.all_versions() if utils.major_minor(v) <= version][-1]
    folder = f"kubernetes-json-schema/v{release}-local-strict"
    # rbac.authorization.k8s.io/v1 -> rbac-v1, as the package names its files.
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = utils.schema_contents(f"{folder}/{kind.lower()}-{group_version}.json", version)
    except FileNotFoundError:
        return None
    definitions = utils.schema_contents(f"{folder}/_definitions.json", version)
    registry: Registry[Any] = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def builtin_problems(obj: Mapping[str, Any], versions: Iterable[str] = KUBERNETES_VERSIONS) -> list[str]:
    """What Kubernetes' own schema (strict: no unknown field) rejects in a built-in object, per minor."""
    problems = []
    for version in versions:
        validator = _builtin_validator(version, str(obj["apiVersion"]), str(obj["kind"]))
        if validator is None:
            problems.append(f"not served by Kubernetes {version}: {obj['apiVersion']} {obj['kind']}")
            continue
        for error in sorted(validator.iter_errors(_known(dict(obj))), key=lambda e: list(map(str, e.absolute_path))):
            where = ".".join(str(p) for p in error.absolute_path) or "(root)"
            problems.append(f"invalid for Kubernetes {version}: {where}: {error.message}")
    return problems


# ---------------------------------------------------------------- chart values
def _leaves(value: Any, path: Path_ = ()) -> Iterator[Path_]:
    if isinstance(value, Mapping) and value:
        for key, sub in value.items():
            yield from _leaves(sub, (*path, str(key)))
    else:
        yield path


def _declared(defaults: Any, path: Path_) -> bool:
    node = defaults
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


# Blocks a chart's templates render whole that the reading above does not see as such (a helper
# handed the block, a merge): every key below them reaches the object unchanged. Each names the
# template line.
RENDERED_WHOLE: dict[str, tuple[str, ...]] = {
    # loki values.yaml `loki.config` (tpl'd into config.yaml): `tpl (. | toYaml)` of loki.limits_config;
    # _pod.tpl: `toYaml (coalesce $component.containerSecurityContext ... .Values.loki.containerSecurityContext)`
    "loki": ("loki.limits_config", "loki.containerSecurityContext"),
    # istiod configmap.yaml merges .Values.meshConfig over the mesh config ("meshConfig.foo is the API");
    # files/waypoint.yaml: toYaml .Values.gateways.seccompProfile (the extracted data reads templates/ only)
    "istiod": ("meshConfig", "gateways.securityContext", "gateways.seccompProfile"),
    # istiod gateway-injection-template.yaml: toYaml .Values.gateways.securityContext
    "istio-gateway": (),
    # policy-controller webhook deployment: toYaml .Values.webhook.podSecurityContext / .securityContext
    "policy-controller": ("webhook.podSecurityContext", "webhook.securityContext"),
    # external-secrets deployment.yaml, webhook-deployment.yaml, cert-controller-deployment.yaml:
    # toYaml .Values[.webhook|.certController].podSecurityContext and .nodeSelector
    "external-secrets": tuple(
        f"{block}{key}"
        for block in ("", "webhook.", "certController.")
        for key in ("nodeSelector", "podSecurityContext")
    ),
}


# Maps a template ranges over only to pick the entries it knows (the extracted data takes a ranged
# map as free-form): their keys are checked like any other.
RANGED_NOT_FREE: dict[str, tuple[str, ...]] = {
    # windmill autoscaling.yaml: `range $comp, $values := .Values.windmill` renders an HPA for each
    # component block with `autoscaling.enabled`; every key of `windmill` is still one values.yaml declares.
    "windmill": ("windmill",),
}


# Keys a template reads with `dig` (no path the extracted data follows), each with its template.
READ_BY_DIG: dict[str, tuple[str, ...]] = {
    # loki _helpers.tpl `loki.image`: `$digest := coalesce $component.digest $default.digest`, with
    # the memcached StatefulSet passing `.Values.memcached.image` as the component.
    "loki": ("memcached.image.digest",),
    # base: reader-serviceaccount.yaml; istiod: reader-clusterrole(binding).yaml:
    # `if (dig "global" "enableReaderRBAC" true .Values)`
    "istio-base": ("global.enableReaderRBAC",),
    "istiod": ("global.enableReaderRBAC",),
    # strimzi-kafka-operator _helpers.tpl `strimzi.image`: `$vals := ternary .Values.image
    # (index .Values .key).image (empty .key)`, then `$vals.digest` (every image block, by key).
    "strimzi-kafka-operator": tuple(
        f"{block}image.digest"
        for block in ("", "kafka.", "kafkaExporter.", "cruiseControl.", "topicOperator.", "userOperator.", "kafkaInit.")
    ),
}


# The same, for blocks whose own key holds a dot (a path as a tuple of keys).
# Blocks a template string inside values.yaml renders whole (the chart `tpl`s that string): the
# template reader sees templates only. tempo-distributed: its `config` string (tempo.yaml) writes
# `toYaml .Values.storage.trace.gcs`.
READ_BY_VALUES_TEMPLATE: dict[str, tuple[str, ...]] = {"tempo-distributed": ("storage.trace.gcs",)}

RENDERED_WHOLE_KEYS: dict[str, tuple[Path_, ...]] = {
    # grafana _config.tpl: `range ... index .Values "grafana.ini"` writes every section and key of it
    # into grafana.ini (kube-prometheus-stack's grafana subchart).
    "kube-prometheus-stack": (("grafana", "grafana.ini"),),
}


def unknown_value_keys(chart: str, values: Mapping[str, Any], ref: ChartRef | None = None) -> list[str]:
    """Key paths set in `values` that the chart (at its pin, or `ref`) neither declares, reads in a
    template, nor leaves free-form."""
    data = chart_data(chart, ref)
    ranged = set(RANGED_NOT_FREE.get(chart, ()))
    freeform = [tuple(p) for p in data.get("freeform_paths", []) if ".".join(p) not in ranged]
    freeform += [tuple(p.split(".")) for p in RENDERED_WHOLE.get(chart, ())]
    freeform += list(RENDERED_WHOLE_KEYS.get(chart, ()))
    freeform += [tuple(p.split(".")) for p in READ_BY_VALUES_TEMPLATE.get(chart, ())]
    # Keys values.yaml documents in comments (e.g. `image.digest`) are read by the templates too.
    read = {tuple(p) for key in ("template_paths", "profile_paths", "commented_paths") for p in data.get(key, [])}
    read |= {tuple(p.split(".")) for p in READ_BY_DIG.get(chart, ())}
    schema = data.get("values_schema")
    unknown = []
    for leaf in _leaves(values):
        if any(leaf[: len(f)] == f for f in freeform):
            continue
        if _declared(data["values"], leaf) or leaf in read:
            continue
        if schema and _in_schema(schema, leaf):
            continue
        unknown.append(".".join(leaf))
    return unknown


def _in_schema(schema: Mapping[str, Any], path: Path_) -> bool:
    node: Any = schema
    for part in path:
        if not isinstance(node, Mapping):
            return False
        props = node.get("properties") or {}
        if part in props:
            node = props[part]
        elif isinstance(node.get("additionalProperties"), Mapping):
            node = node["additionalProperties"]
        else:
            return False
    return True


def values_schema_problems(chart: str, values: Mapping[str, Any], ref: ChartRef | None = None) -> list[str]:
    """Violations of the chart's own values.schema.json that `values` adds (Helm refuses these)."""
    schema = chart_data(chart, ref).get("values_schema")
    if not schema:
        return []
    defaults = chart_data(chart, ref)["values"]

    def problems(doc: Any) -> list[str]:
        return [
            f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in jsonschema.Draft7Validator(schema).iter_errors(doc)
        ]

    baseline = set(problems(defaults))
    # Helm coalesces values over chart defaults as stack files merge over ours: maps merge, null deletes.
    return [p for p in problems(merge(defaults, values)) if p not in baseline]

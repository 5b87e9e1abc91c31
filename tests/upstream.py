"""Upstream truth for what the estate sets: CRD schemas and chart default values.

`../shared/k8s-upstream/` (beside the repository in this project's CI) holds the structural
schemas of the custom resources the estate creates and the default values of the charts it
installs. The API server prunes fields a CRD does not declare and Helm ignores values keys a
chart does not read, so a misspelt key would do nothing at all: tests check against these.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from stacks.defaults import merge
from tools.plan import ROOT

UPSTREAM = ROOT.parent / "shared" / "k8s-upstream"


def require_upstream() -> Path:
    """The upstream data directory, or skip the calling test saying why."""
    if not (UPSTREAM / "crds").is_dir():
        pytest.skip(f"upstream CRD schemas and chart values not found at {UPSTREAM} (outside this project's CI)")
    return UPSTREAM


# ---------------------------------------------------------------- CRDs
@cache
def _group(group: str) -> dict[str, Any]:
    path = require_upstream() / "crds" / f"{group}.json"
    if not path.exists():
        raise LookupError(f"no upstream CRDs for API group {group!r} (looked for {path.name})")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The openAPIV3Schema of `kind` at `api_version` (group/version)."""
    group, _, version = api_version.rpartition("/")
    versions = _group(group)["versions"]
    if version not in versions or kind not in versions[version]:
        served = {v: sorted(kinds) for v, kinds in versions.items()}
        raise LookupError(f"{api_version} {kind} is not served upstream; served: {served}")
    schema: dict[str, Any] = versions[version][kind]["schema"]
    return schema


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


# ---------------------------------------------------------------- chart values
@cache
def chart_data(chart: str) -> dict[str, Any]:
    path = require_upstream() / "chart-values" / f"{chart}.json"
    if not path.exists():
        raise LookupError(f"no upstream values for chart {chart!r}")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, Mapping) and value:
        for key, sub in value.items():
            yield from _leaves(sub, (*path, str(key)))
    else:
        yield path


def _declared(defaults: Any, path: tuple[str, ...]) -> bool:
    node = defaults
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


# Blocks a chart's templates render whole (`toYaml`), which the extracted data does not list as
# free-form: every key below them reaches the object unchanged. Each names the template line.
RENDERED_WHOLE: dict[str, tuple[str, ...]] = {
    # istiod configmap.yaml merges .Values.meshConfig over the mesh config ("meshConfig.foo is the API")
    "istiod": ("meshConfig", "gateways.securityContext"),
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


# Keys a template reads with `dig` (no path the extracted data follows), each with its template.
READ_BY_DIG: dict[str, tuple[str, ...]] = {
    # base: reader-serviceaccount.yaml; istiod: reader-clusterrole(binding).yaml:
    # `if (dig "global" "enableReaderRBAC" true .Values)`
    "istio-base": ("global.enableReaderRBAC",),
    "istiod": ("global.enableReaderRBAC",),
}


def unknown_value_keys(chart: str, values: Mapping[str, Any]) -> list[str]:
    """Key paths set in `values` that the chart neither declares, reads in a template, nor leaves free-form."""
    data = chart_data(chart)
    freeform = [tuple(p) for p in data.get("freeform_paths", [])]
    freeform += [tuple(p.split(".")) for p in RENDERED_WHOLE.get(chart, ())]
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


def _in_schema(schema: Mapping[str, Any], path: tuple[str, ...]) -> bool:
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


def values_schema_problems(chart: str, values: Mapping[str, Any]) -> list[str]:
    """Violations of the chart's own values.schema.json that `values` adds (Helm refuses these).

    The upstream defaults are merged over a few releases, so they may already break the newest
    schema on their own; only what the estate's values add counts.
    """
    schema = chart_data(chart).get("values_schema")
    if not schema:
        return []
    defaults = chart_data(chart)["values"]

    def problems(doc: Any) -> list[str]:
        return [
            f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in jsonschema.Draft7Validator(schema).iter_errors(doc)
        ]

    baseline = set(problems(defaults))
    # Helm coalesces values over chart defaults as stack files merge over ours: maps merge, null deletes.
    return [p for p in problems(merge(defaults, values)) if p not in baseline]

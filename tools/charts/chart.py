"""One Chart registration of the plan, rendered from the cache into the children Chart v4 registers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.charts import helm
from tools.charts.children import NormalizeError, child_record, is_crd, link_dependencies, normalize, object_id
from tools.charts.refs import ChartRef, ChartRefError, archive_path, chart_ref, charts_of
from tools.plan import SECRET_SIG, UNKNOWN

# Inputs that change what Chart v4 renders and that the offline render cannot reproduce.
UNSUPPORTED_INPUTS = ("valueYamlFiles", "postRenderer")


@dataclass
class ChartOutcome:
    """What became of one Chart: its children, or why it could not be rendered."""

    urn: str
    name: str
    ref: ChartRef | None
    release: str = ""
    namespace: str = ""
    children: list[dict[str, Any]] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    error: str | None = None
    # Helm or pulumi-kubernetes refused the chart itself: `pulumi up` would fail the same way.
    broken: bool = False

    @property
    def rendered(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"chart": str(self.ref) if self.ref else None}
        if self.error is not None:
            doc["error"] = self.error
            return doc
        doc.update(
            release=self.release,
            namespace=self.namespace,
            rendered=[object_id(c["inputs"]) for c in self.children],
        )
        if self.unresolved:
            doc["namespaceScopeUnknown"] = self.unresolved
        return doc


# Secret values reach the plan masked; the chart renders this plain YAML scalar in their place.
SECRET_PLACEHOLDER = "masked-secret"


def _unwrap_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return SECRET_PLACEHOLDER
        return {k: _unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(v) for v in value]
    return value


def _unknown_paths(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _unknown_paths(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _unknown_paths(v, f"{path}[{i}]")]
    return [path] if value == UNKNOWN else []


def default_namespace(chart: Mapping[str, Any], providers: Mapping[str, Mapping[str, Any]]) -> str:
    """The Chart's namespace, else its provider's default namespace, else "default"."""
    if chart["inputs"].get("namespace"):
        return str(chart["inputs"]["namespace"])
    ref = chart.get("provider") or ""
    provider = providers.get(ref.rsplit("::", 1)[0]) if ref else None
    namespace = (provider or {}).get("inputs", {}).get("namespace")
    return namespace if isinstance(namespace, str) and namespace else "default"


def _render(
    chart: Mapping[str, Any], cache: Path, providers: Mapping[str, Mapping[str, Any]]
) -> tuple[ChartOutcome, list[dict[str, Any]]]:
    """Helm's half: the outcome so far and the manifest's objects (none when it cannot render)."""
    inputs = _unwrap_secrets(chart["inputs"])
    outcome = ChartOutcome(urn=chart["urn"], name=chart["name"], ref=None)
    try:
        outcome.ref = chart_ref(inputs)
    except ChartRefError as exc:
        outcome.error = str(exc)
        return outcome, []
    unknown = _unknown_paths(inputs)
    unsupported = [k for k in UNSUPPORTED_INPUTS if inputs.get(k)]
    archive = archive_path(outcome.ref, cache)
    if unknown:
        # Chart v4 registers no children while an input is unknown; there is nothing to gate.
        outcome.error = f"inputs unknown during preview ({', '.join(unknown)}): Chart v4 renders nothing then"
    elif unsupported:
        outcome.error = f"the offline render does not support {', '.join(unsupported)}"
    elif not archive.exists():
        outcome.error = f"not in the chart cache ({archive}); run `make charts` on a machine with network"
    if outcome.error:
        return outcome, []
    outcome.release = str(inputs.get("name") or chart["name"])
    outcome.namespace = default_namespace({**chart, "inputs": inputs}, providers)
    try:
        objects = helm.render(
            archive,
            dict(inputs.get("values") or {}),
            release=outcome.release,
            namespace=outcome.namespace,
            include_crds=not inputs.get("skipCrds", False),
        )
    except helm.RenderError as exc:
        outcome.error, outcome.broken = f"render failed: {exc}", True
        return outcome, []
    return outcome, objects


def _register(
    outcome: ChartOutcome, chart: Mapping[str, Any], objects: list[dict[str, Any]], crds: Sequence[Mapping[str, Any]]
) -> None:
    """pulumi-kubernetes' half: normalise the objects and make them the Chart's children."""
    inputs = chart["inputs"]
    prefix = str(inputs["resourcePrefix"]) if "resourcePrefix" in inputs else chart["name"]
    try:
        objects, outcome.unresolved = normalize(objects, outcome.namespace, crds)
    except NormalizeError as exc:
        outcome.error, outcome.broken = f"render failed: {exc}", True
        return
    outcome.children = [child_record(o, chart, prefix, skip_await=bool(inputs.get("skipAwait"))) for o in objects]
    link_dependencies(outcome.children)


def render_chart(
    chart: Mapping[str, Any],
    cache: Path,
    providers: Mapping[str, Mapping[str, Any]] | None = None,
    crds: Sequence[Mapping[str, Any]] = (),
) -> ChartOutcome:
    """Render one `kubernetes:helm.sh/v4:Chart` registration from the cache as Chart v4 would at `pulumi up`.

    `crds`: CustomResourceDefinitions the rest of the program registers, which decide the scope
    of the chart's custom resources when the chart does not ship their CRD."""
    outcome, objects = _render(chart, cache, providers or {})
    if outcome.rendered:
        _register(outcome, chart, objects, crds)
    return outcome


def render_charts(resources: Iterable[Mapping[str, Any]], cache: Path) -> list[ChartOutcome]:
    """Every Chart of a plan's resources, rendered (or not) from `cache`.

    A custom resource whose CRD its chart does not ship takes its scope from any CRD the program
    registers (another chart's or its own), as the provider's CRD cache holds every CRD it has
    checked (provider.go, Check); with a cluster, discovery would answer the same for CRDs
    already installed."""
    resources = list(resources)
    providers = {r["urn"]: r for r in resources if r["type"].startswith("pulumi:providers:")}
    rendered = [(c, *_render(c, cache, providers)) for c in sorted(charts_of(resources), key=lambda c: c["urn"])]
    crds = [r["inputs"] for r in resources if is_crd(r["inputs"])]
    crds += [obj for _, _, objects in rendered for obj in objects if is_crd(obj)]
    for chart, outcome, objects in rendered:
        if outcome.rendered:
            _register(outcome, chart, objects, crds)
    return [outcome for _, outcome, _ in rendered]

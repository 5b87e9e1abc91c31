"""Which charts the program pins, and where the chart cache keeps them.

The offline plans are the source of truth: every `kubernetes:helm.sh/v4:Chart` registration
carries the chart, its exact version and its repository, wherever the pin lives in code.
The cache holds one archive per pin at `<cache>/<repository key>/<chart>-<version>.tgz`, so a
test (or a CI job) can point `ESTATE_CHART_CACHE` at any directory laid out the same way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.plan import ROOT

CHART_TYPE = "kubernetes:helm.sh/v4:Chart"
CACHE_ENV = "ESTATE_CHART_CACHE"
OCI = "oci://"


class ChartRefError(ValueError):
    """A Chart registration the cache cannot hold (no exact version, an unsupported reference)."""


@dataclass(frozen=True, order=True)
class ChartRef:
    """One pinned chart: `name` at exactly `version` from `repo` (an HTTP repository or an `oci://` path)."""

    repo: str
    name: str
    version: str

    @property
    def oci(self) -> bool:
        return self.repo.startswith(OCI)

    @property
    def key(self) -> str:
        """The repository's directory in the cache: its address without scheme, one safe path segment."""
        bare = re.sub(r"^[a-z][a-z0-9+.-]*://", "", self.repo).strip("/")
        return re.sub(r"[^A-Za-z0-9._-]+", "_", bare)

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}.tgz"

    @property
    def source(self) -> str:
        """What a person would recognise: `oci://host/path/name` or `<repo> <name>`."""
        return f"{self.repo}/{self.name}" if self.oci else f"{self.repo} {self.name}"

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.repo})"


def chart_ref(inputs: Mapping[str, Any]) -> ChartRef:
    """The pin of one Chart's inputs, as Chart v4 resolves them (`chart`, `version`, `repositoryOpts.repo`)."""
    chart = inputs.get("chart")
    version = inputs.get("version")
    repo = (inputs.get("repositoryOpts") or {}).get("repo")
    if not isinstance(chart, str) or not chart:
        raise ChartRefError("the Chart has no `chart` input")
    if not isinstance(version, str) or not re.fullmatch(r"v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?", version):
        raise ChartRefError(f"chart {chart!r}: version {version!r} is not an exact version")
    if chart.startswith(OCI):
        # Helm takes an OCI reference's last path segment as the chart name.
        base, _, name = chart.rstrip("/").rpartition("/")
        if repo:
            raise ChartRefError(f"chart {chart!r}: an oci:// chart takes no repositoryOpts.repo")
        return ChartRef(repo=base, name=name, version=version)
    if not isinstance(repo, str) or not repo:
        raise ChartRefError(
            f"chart {chart!r}: no repositoryOpts.repo (only charts from an HTTP repository or oci:// can be cached)"
        )
    if "/" in chart:
        raise ChartRefError(f"chart {chart!r}: with repositoryOpts.repo the chart is a bare name")
    return ChartRef(repo=repo.rstrip("/"), name=chart, version=version)


def charts_of(resources: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in resources if r["type"] == CHART_TYPE]


def cache_dir() -> Path:
    """`$ESTATE_CHART_CACHE`, else `build/charts/` in the repository."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else ROOT / "build" / "charts"


def archive_path(ref: ChartRef, cache: Path) -> Path:
    return cache / ref.key / ref.filename

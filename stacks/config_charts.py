"""`ai-estate:charts`: per-stack overrides of the chart pins (stacks/charts.py), keyed by chart."""

from __future__ import annotations

from pydantic import Field

from stacks.base import Model


class ChartOverride(Model):
    version: str | None = Field(None, description="Exact chart version (SemVer), never a range.")
    repository: str | None = Field(None, description="https:// Helm repository or oci:// registry path.")


ChartsConfig = dict[str, ChartOverride]

"""Charts the program installs with pulumi-kubernetes' `helm.v4.Chart`, rendered offline.

    python -m tools.charts fill      # download every pinned chart into the cache (needs network)
    python -m tools.charts list      # the pins and whether the cache holds them

The gate (tools/gate.py) renders every Chart of the plan from the cache exactly as Chart v4
renders at `pulumi up` and sends each object through the policy pack as a child of its Chart.
"""

from tools.charts.chart import ChartOutcome, render_chart, render_charts
from tools.charts.refs import CACHE_ENV, CHART_TYPE, ChartRef, ChartRefError, archive_path, cache_dir, chart_ref

__all__ = [
    "CACHE_ENV",
    "CHART_TYPE",
    "ChartOutcome",
    "ChartRef",
    "ChartRefError",
    "archive_path",
    "cache_dir",
    "chart_ref",
    "render_chart",
    "render_charts",
]

"""The building blocks every dashboard of the estate uses (Grafana's foundation SDK): a board with
the estate's tag, time range and refresh, Prometheus queries and time-series panels on the chart's
default Prometheus datasource."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, prometheus, timeseries
from grafana_foundation_sdk.models.dashboard import DataSourceRef

DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")  # the chart's default datasource


def query(expr: str, legend: str | None = None, ref: str = "A") -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).ref_id(ref)
    return q.legend_format(legend) if legend else q


def series(title: str, unit: str, *queries: prometheus.Dataquery) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).datasource(DATASOURCE)
    for q in queries:
        panel = panel.with_target(q)
    return panel


def new_board(uid: str, title: str) -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .tags(["ai-estate"])
        .refresh("1m")
        .time("now-6h", "now")
        .timezone("utc")
        .editable()
    )

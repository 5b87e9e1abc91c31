"""The overview dashboard's picture (tools/dashboard_picture.py): its synthetic series give every
panel's query something to answer, with the labels the query groups by and the legend names, and
the drawing shows values as Grafana's units do. Pure: no Prometheus server is started here."""

from __future__ import annotations

import math
import re

from tools.dashboard_data import STEP_S, WINDOW_S, openmetrics, samples
from tools.dashboard_draw import fmt
from tools.dashboard_picture import legend, model

END = 1_800_000_000.0


def _metrics_and_groupings(expr: str) -> tuple[set[str], set[str]]:
    grouped = {label.strip() for m in re.finditer(r"\bby \(([^)]*)\)", expr) for label in m.group(1).split(",")}
    bare = re.sub(r"\bby \([^)]*\)", "", expr)
    return set(re.findall(r"\b([A-Za-z_][A-Za-z0-9_:]*)\s*(?=[\[{)])", bare)), grouped


def test_every_overview_query_reads_synthetic_series_with_its_labels() -> None:
    series: dict[str, set[str]] = {}
    for s in samples(END):
        series.setdefault(s.name, set()).update(k for k, _ in s.labels)
    panels = model()["panels"]
    assert len(panels) == 5
    for panel in panels:
        for target in panel["targets"]:
            metrics, grouped = _metrics_and_groupings(target["expr"])
            assert metrics, target["expr"]
            for metric in metrics:
                assert metric in series, f"{panel['title']}: no synthetic {metric}"
                assert grouped <= series[metric], f"{panel['title']}: {metric} lacks {grouped - series[metric]}"
            legend_labels = set(re.findall(r"\{\{(\w+)\}\}", target.get("legendFormat") or ""))
            assert legend_labels <= grouped, panel["title"]


def test_counters_never_fall_and_histogram_buckets_nest() -> None:
    by_series: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = {}
    for s in samples(END):
        by_series.setdefault((s.name, s.labels), []).append(s.value)
    counters = {k: v for k, v in by_series.items() if k[0].endswith(("_total", "_bucket", "_sum", "_count"))}
    assert counters and all(v == sorted(v) for v in counters.values())
    assert {len(v) for v in by_series.values()} == {WINDOW_S // STEP_S + 1}
    # Each bucket holds no more than the next wider one, +Inf all of them.
    api = {
        dict(k[1])["le"]: v[-1]
        for k, v in counters.items()
        if dict(k[1]).get("service") == "api-gateway" and k[0].endswith("_bucket")
    }
    edges = sorted(api, key=lambda le: math.inf if le == "+Inf" else float(le))
    assert [api[e] for e in edges] == sorted(api[e] for e in edges)
    assert api["+Inf"] > api["0.025"] > 0


def test_the_openmetrics_text_is_grouped_by_family_and_terminated() -> None:
    text = openmetrics(END)
    assert text.endswith("# EOF\n")
    names = [line.split("{", 1)[0] for line in text.splitlines()[:-1]]
    families = [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]
    assert len(families) == len(set(families))  # each family's samples together
    assert openmetrics(END) == text  # seeded: the same picture for the same dashboard


def test_legends_and_units_read_as_grafana_shows_them() -> None:
    assert legend("{{service}} - {{method}}", {"service": "api", "method": "GET"}) == "api - GET"
    assert legend("GPU {{ gpu }} on {{Hostname}}", {"gpu": "0", "Hostname": "n1"}) == "GPU 0 on n1"
    assert legend(None, {"b": "2", "a": "1"}) == '{a="1", b="2"}'
    assert (fmt(0.183, "s"), fmt(1.5, "s"), fmt(12.34, "reqps"), fmt(73.4, "percent"), fmt(145.2, None)) == (
        "183 ms",
        "1.50 s",
        "12.3 req/s",
        "73%",
        "145",
    )

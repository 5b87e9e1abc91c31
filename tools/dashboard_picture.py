"""A picture of the overview dashboard, drawn from its JSON model with every panel's PromQL answered
by a real Prometheus over synthetic series.

    python -m tools.dashboard_picture            # docs/dashboard-overview.png

No Grafana runs where this project is built, so Grafana does not draw it: the panels' places,
titles, types, units, legends and queries are the deployed model's (components.observability.
dashboards.overview, as the ConfigMap carries it); the numbers are Prometheus' answers to those
queries over the made-up series of tools.dashboard_data, Grafana's `$__rate_interval` replaced by
what it resolves to at a 30 s scrape interval (4 x 30 s). Needs promtool and the Prometheus server
(`python -m tools.rule_tools --dest .venv/bin --server`) and matplotlib (requirements.txt).
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tools.dashboard_data import STEP_S, WINDOW_S, openmetrics
from tools.planfile import ROOT

OUT = ROOT / "docs" / "dashboard-overview.png"
BIN = ROOT / ".venv" / "bin"
RATE_INTERVAL = f"{4 * STEP_S}s"  # Grafana: max(4 x scrape interval, step + scrape interval)
QUERY_STEP_S = 60
Series = tuple[str, list[float], list[float]]  # legend, times, values


def model() -> dict[str, Any]:
    from grafana_foundation_sdk.cog.encoder import JSONEncoder

    from components.observability.dashboards import overview

    out: dict[str, Any] = json.loads(json.dumps(overview().build(), cls=JSONEncoder))
    return out


def legend(fmt: str | None, metric: dict[str, str]) -> str:
    """Grafana's legend format: `{{label}}` replaced by the series' value of it."""
    if not fmt:
        return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items())) + "}"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt)


@contextmanager
def prometheus(data: Path) -> Iterator[str]:
    """A Prometheus server over `data` on a free loopback port; its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = data.parent / "prometheus.yml"
    config.write_text(f"global:\n  scrape_interval: {STEP_S}s\n")
    proc = subprocess.Popen(
        [
            str(BIN / "prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=30d",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("dashboard-picture: Prometheus did not become ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def query_range(url: str, expr: str, start: float, end: float) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode(
        {"query": expr.replace("$__rate_interval", RATE_INTERVAL), "start": start, "end": end, "step": QUERY_STEP_S}
    )
    with urllib.request.urlopen(f"{url}/api/v1/query_range?{params}", timeout=30) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise SystemExit(f"dashboard-picture: {expr!r}: {body}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def panel_series(url: str, panel: dict[str, Any], start: float, end: float) -> list[Series]:
    out = []
    for target in panel.get("targets", []):
        for r in query_range(url, target["expr"], start, end):
            times = [float(t) for t, _ in r["values"]]
            values = [float(v) for _, v in r["values"]]
            out.append((legend(target.get("legendFormat"), r["metric"]), times, values))
    return sorted(out, key=lambda s: s[0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    for tool in ("promtool", "prometheus"):
        if not (BIN / tool).exists():
            raise SystemExit(f"dashboard-picture: no {BIN / tool}: python -m tools.rule_tools --dest {BIN} --server")
    board = model()
    # Whole minutes, so that the query steps meet the samples; the series end a step before now.
    end = float(int(time.time()) // 60 * 60)
    with tempfile.TemporaryDirectory(prefix="dashboard-") as tmp:
        source, db = Path(tmp) / "series.om", Path(tmp) / "data"
        source.write_text(openmetrics(end))
        subprocess.run(
            [str(BIN / "promtool"), "tsdb", "create-blocks-from", "openmetrics", str(source), str(db)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        with prometheus(db) as url:
            data = [panel_series(url, p, end - WINDOW_S + 5 * 60, end) for p in board["panels"]]
    empty = [p["title"] for p, d in zip(board["panels"], data, strict=True) if not d]
    if empty:
        raise SystemExit(f"dashboard-picture: no series for {empty}: tools/dashboard_data.py lacks their metrics")
    from tools.dashboard_draw import draw

    draw(board, data, end, args.out)
    print(f"dashboard-picture: wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

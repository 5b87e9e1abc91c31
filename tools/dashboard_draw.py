"""Draws a Grafana dashboard model and its panels' series (tools/dashboard_picture.py) as Grafana
lays it out: a 24-column grid of 30 px rows, its dark theme and classic palette, time series with
their legends, a stat's value over its sparkline, one gauge per series."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no screen

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle, Wedge

Series = tuple[str, list[float], list[float]]

WIDTH_PX, ROW_PX, GAP_PX, HEADER_PX, DPI = 1600, 30, 8, 70, 100
BACKGROUND, PANEL, BORDER, TEXT, MUTED = "#111217", "#181b1f", "#2c3235", "#ccccdc", "#8e8e8e"
PALETTE = ("#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#705da0")


def fmt(value: float, unit: str | None) -> str:
    """A value as Grafana shows it in its unit (the few units the estate's boards use)."""
    if unit == "s":
        return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"
    if unit == "reqps":
        return f"{value:.1f} req/s"
    if unit == "percent":
        return f"{value:.0f}%"
    return f"{value:.0f}"


def draw(board: dict[str, Any], data: list[list[Series]], end: float, out: Path) -> None:
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in board["panels"])
    height = HEADER_PX + rows * ROW_PX + GAP_PX
    fig = plt.figure(figsize=(WIDTH_PX / DPI, height / DPI), dpi=DPI, facecolor=BACKGROUND)
    stamp = dt.datetime.fromtimestamp(end, dt.UTC)
    fig.text(16 / WIDTH_PX, 1 - 30 / height, board["title"], color=TEXT, fontsize=16, weight="bold")
    fig.text(
        16 / WIDTH_PX,
        1 - 55 / height,
        f"Last 6 hours to {stamp:%Y-%m-%d %H:%M} UTC, refresh {board.get('refresh', 'off')}. "
        "Synthetic series; each panel's own query answered by Prometheus (tools/dashboard_picture.py).",
        color=MUTED,
        fontsize=10,
    )
    col = (WIDTH_PX - GAP_PX) / 24
    for panel, series in zip(board["panels"], data, strict=True):
        g = panel["gridPos"]
        left, top = GAP_PX + g["x"] * col, HEADER_PX + g["y"] * ROW_PX
        w, h = g["w"] * col - GAP_PX, g["h"] * ROW_PX - GAP_PX
        frame = fig.add_axes((left / WIDTH_PX, 1 - (top + h) / height, w / WIDTH_PX, h / height))
        frame.set_axis_off()
        frame.add_patch(Rectangle((0, 0), 1, 1, transform=frame.transAxes, facecolor=PANEL, edgecolor=BORDER))
        frame.text(0.015, 1 - 16 / h, panel["title"], color=TEXT, fontsize=11, weight="bold", transform=frame.transAxes)
        inner = (left + 12, top + 32, w - 24, h - 40)  # below the title
        unit = (panel.get("fieldConfig") or {}).get("defaults", {}).get("unit")
        kind = {"timeseries": _timeseries, "stat": _stat, "gauge": _gauge}[panel["type"]]
        kind(fig, inner, height, series, unit, panel)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, facecolor=BACKGROUND, dpi=DPI)
    plt.close(fig)


def _axes(fig: Any, box: tuple[float, float, float, float], height: float) -> Axes:
    left, top, w, h = box
    ax: Axes = fig.add_axes((left / WIDTH_PX, 1 - (top + h) / height, w / WIDTH_PX, h / height))
    ax.set_facecolor(PANEL)
    return ax


def _times(times: list[float]) -> list[float]:
    """Unix seconds as matplotlib's date numbers (days)."""
    return [float(mdates.date2num(dt.datetime.fromtimestamp(t, dt.UTC))) for t in times]


def _timeseries(
    fig: Any, box: tuple[float, float, float, float], height: float, series: list[Series], unit: str | None, _: Any
) -> None:
    left, top, w, h = box
    legend_h = 18 * ((len(series) + 2) // 3)
    ax = _axes(fig, (left + 60, top, w - 60, h - legend_h - 24), height)
    for i, (name, times, values) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        ax.plot(_times(times), values, color=color, linewidth=1.2, label=name)
        ax.fill_between(_times(times), values, color=color, alpha=0.06)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(lambda v, _pos: fmt(v, unit))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=dt.UTC))
    ax.tick_params(colors=MUTED, labelsize=8, length=0)
    ax.grid(color=BORDER, linewidth=0.6)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(0, -0.12),
        ncols=3,
        frameon=False,
        fontsize=8,
        labelcolor=TEXT,
        handlelength=1.2,
    )


def _stat(
    fig: Any, box: tuple[float, float, float, float], height: float, series: list[Series], unit: str | None, _: Any
) -> None:
    ax = _axes(fig, box, height)
    ax.set_axis_off()
    name, _times, values = series[0]
    ax.fill_between(range(len(values)), values, color=PALETTE[0], alpha=0.18)
    ax.plot(range(len(values)), values, color=PALETTE[0], linewidth=1)
    ax.set_ylim(0, max(values) * 2.2)
    ax.text(
        0.5,
        0.62,
        fmt(values[-1], unit),
        color=PALETTE[0],
        fontsize=44,
        weight="bold",
        ha="center",
        transform=ax.transAxes,
    )
    ax.text(0.5, 0.5, name, color=MUTED, fontsize=10, ha="center", transform=ax.transAxes)


def _gauge(
    fig: Any,
    box: tuple[float, float, float, float],
    height: float,
    series: list[Series],
    unit: str | None,
    panel: dict[str, Any],
) -> None:
    defaults = panel["fieldConfig"]["defaults"]
    low, high = defaults.get("min", 0), defaults.get("max", 100)
    left, top, w, h = box
    each = w / len(series)
    for i, (name, _times, values) in enumerate(series):
        ax = _axes(fig, (left + i * each, top, each, h), height)
        ax.set_axis_off()
        ax.set_xlim(-1.2, 1.2)
        ax.set_ylim(-0.55, 1.2)
        ax.set_aspect("equal")
        share = (values[-1] - low) / (high - low)
        # Grafana's default thresholds: green, red from 80.
        color = PALETTE[4] if values[-1] >= 80 else PALETTE[0]
        ax.add_patch(Wedge((0, 0), 1, 0, 180, width=0.22, facecolor=BORDER))
        ax.add_patch(Wedge((0, 0), 1, 180 - 180 * share, 180, width=0.22, facecolor=color))
        ax.text(0, 0.12, fmt(values[-1], unit), color=color, fontsize=22, weight="bold", ha="center")
        ax.text(0, -0.3, name, color=TEXT, fontsize=9, ha="center")

"""Plotly figures for the dashboard, built from the selectors' aggregated rows (never from
log entries one by one) and handed to the page as JSON; plotly.js draws them.

Plotly renders a few HTML tags inside labels (<b>, <a href>…), so every label that comes
from people or models (reviewer names, product lines, reasons) is escaped first."""

import html
import json

import plotly.graph_objects as go

from apps.oversight.models import EditLogEntry
from apps.oversight.selectors import EDIT_RATIO_BUCKETS

KIND_LABELS = {
    "approve": "Approved as written",
    "approve_edited": "Approved after edits",
    **{value: label for value, label in EditLogEntry.Decision.choices if value != "approve"},
}
KIND_COLOURS = {
    "approve": "#2e7d32",
    "approve_edited": "#81c784",
    "reject": "#c62828",
    "flag": "#ef6c00",
    "escalate": "#6a1b9a",
    "return": "#1565c0",
}
LAYOUT = {
    "margin": {"l": 50, "r": 20, "t": 40, "b": 50},
    "height": 320,
    "legend": {"orientation": "h", "y": -0.2},
    "font": {"family": "system-ui, sans-serif", "size": 12},
}


def _label(text: str) -> str:
    return html.escape(text or "—")


def _as_json(figure: go.Figure) -> dict:
    # Through plotly's own encoder (dates, numpy), then plain data for json_script.
    return json.loads(figure.to_json())


def decisions_trend(*, rows: list[dict], title: str) -> dict | None:
    if not rows:
        return None
    days = sorted({row["day"] for row in rows})
    counts = {(row["day"], row["kind"]): row["n"] for row in rows}
    kinds = [k for k in KIND_LABELS if any(row["kind"] == k for row in rows)]
    figure = go.Figure(
        [
            go.Bar(
                name=KIND_LABELS[kind],
                x=[day.date().isoformat() for day in days],
                y=[counts.get((day, kind), 0) for day in days],
                marker_color=KIND_COLOURS.get(kind),
            )
            for kind in kinds
        ]
    )
    # Days as categories: a date axis spreads a single day's bar over made-up hours.
    figure.update_layout(
        barmode="stack", title=title, yaxis_title="decisions", xaxis_type="category", **LAYOUT
    )
    return _as_json(figure)


def edit_ratio_distribution(*, rows: list[dict], title: str) -> dict | None:
    if not rows:
        return None
    counts = {row["bucket"]: row["n"] for row in rows}
    step = 100 // EDIT_RATIO_BUCKETS
    labels = ["as written"] + [
        f"{(b - 1) * step}-{b * step}%" for b in range(1, EDIT_RATIO_BUCKETS + 1)
    ]
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=[counts.get(b, 0) for b in range(EDIT_RATIO_BUCKETS + 1)],
            marker_color=["#2e7d32"] + ["#81c784"] * EDIT_RATIO_BUCKETS,
        )
    )
    figure.update_layout(
        title=title, xaxis_title="words changed", yaxis_title="approvals", **LAYOUT
    )
    return _as_json(figure)


def reasons_bar(*, rows: list[dict], labels: dict[str, str], title: str) -> dict | None:
    if not rows:
        return None
    figure = go.Figure(
        go.Bar(
            x=[row["n"] for row in rows],
            y=[_label(labels.get(row["reason"], row["reason"] or "no reason")) for row in rows],
            orientation="h",
            marker_color="#c62828",
        )
    )
    figure.update_layout(title=title, xaxis_title="decisions", **LAYOUT)
    figure.update_yaxes(autorange="reversed")
    return _as_json(figure)


def latency_trend(*, rows: list[dict]) -> dict | None:
    if not rows:
        return None
    days = [row["day"].date().isoformat() for row in rows]
    figure = go.Figure(
        [
            go.Scatter(name="p50", x=days, y=[row["p50_ms"] for row in rows], mode="lines+markers"),
            go.Scatter(name="p95", x=days, y=[row["p95_ms"] for row in rows], mode="lines+markers"),
        ]
    )
    figure.update_layout(
        title="LLM call latency per day", yaxis_title="ms", xaxis_type="category", **LAYOUT
    )
    return _as_json(figure)

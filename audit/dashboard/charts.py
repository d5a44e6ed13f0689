"""Altair charts of the dashboard: built from the tables in `tables`, `safety`, `compare`."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

HEIGHT = 320


def sweep_lines(series: pd.DataFrame, x: str, color: str, metric: str, direction: str) -> Any:
    """Mean of `metric` against `x`, one line per `color`, with a 95% interval band."""
    better = {"higher": " (higher is better)", "lower": " (lower is better)"}.get(direction, "")
    axis = alt.Axis(tickMinStep=1, format="d") if x == "steps" else alt.Axis()
    x_enc = alt.X(f"{x}:Q", title=x, scale=alt.Scale(zero=False), axis=axis)
    colour = alt.Color(f"{color}:N", title=color)
    tooltip = [color, x, alt.Tooltip("mean:Q", format=".4g"), "ci_low", "ci_high", "n"]
    base = alt.Chart(series).encode(x=x_enc, color=colour)
    band = base.mark_area(opacity=0.18).encode(y="ci_low:Q", y2="ci_high:Q")
    line = base.mark_line(point=True).encode(
        y=alt.Y("mean:Q", title=metric + better, scale=alt.Scale(zero=False)), tooltip=tooltip
    )
    return (band + line).properties(height=HEIGHT)


def heat_map(grid: pd.DataFrame, metric: str, direction: str) -> Any:
    reverse = direction == "lower"  # bright means better either way
    base = alt.Chart(grid).encode(
        x=alt.X("guidance:O", title="guidance"), y=alt.Y("steps:O", title="steps", sort="-y")
    )
    rect = base.mark_rect().encode(
        color=alt.Color("mean:Q", title=metric, scale=alt.Scale(scheme="viridis", reverse=reverse)),
        tooltip=["steps", "guidance", alt.Tooltip("mean:Q", format=".4g"), "ci_low", "ci_high"],
    )
    text = base.mark_text(baseline="middle").encode(text="label:N")
    return (rect + text).properties(height=HEIGHT)


def pareto(points: pd.DataFrame, quality: str, direction: str) -> Any:
    better = {"higher": " (higher is better)", "lower": " (lower is better)"}.get(direction, "")
    base = alt.Chart(points).encode(
        x=alt.X("seconds:Q", title="median seconds per image, timing pass (lower is better)"),
        y=alt.Y("quality:Q", title=quality + better, scale=alt.Scale(zero=False)),
    )
    dots = base.mark_point(filled=True, size=80).encode(
        color=alt.Color("on_front:N", title="Pareto front"),
        shape=alt.Shape("on_front:N", title="Pareto front"),
        tooltip=[
            "cell",
            alt.Tooltip("seconds:Q", format=".4g", title="median s/image"),
            alt.Tooltip("fastest:Q", format=".4g"),
            alt.Tooltip("slowest:Q", format=".4g"),
            alt.Tooltip("spread:Q", format=".1%"),
            alt.Tooltip("quality:Q"),
        ],
    )
    # The timing pass's fastest to slowest batch around each median.
    spread = base.mark_rule(opacity=0.5).encode(x="fastest:Q", x2="slowest:Q")
    front = (
        alt.Chart(points[points["on_front"]])
        .mark_line(strokeDash=[4, 3])
        .encode(x="seconds:Q", y="quality:Q", order="seconds:Q")
    )
    return (front + spread + dots).properties(height=HEIGHT)


def effects(table: pd.DataFrame) -> Any:
    """Gate effects (positive: candidate better) with their intervals, by verdict."""
    rows = table.dropna(subset=["effect"])
    base = alt.Chart(rows).encode(y=alt.Y("name:N", title=None))
    bars = base.mark_rule().encode(
        x=alt.X("ci_low:Q", title="effect (candidate better →)"), x2="ci_high:Q"
    )
    dots = base.mark_point(filled=True, size=70).encode(
        x="effect:Q",
        color=alt.Color("verdict:N"),
        tooltip=["name", "verdict", "effect", "ci_low", "ci_high", "note"],
    )
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(strokeDash=[3, 3]).encode(x="x:Q")
    return (zero + bars + dots).properties(height=max(80, 36 * len(rows)))


def robustness(curves: pd.DataFrame) -> Any:
    """Watermark detection rate per attack, one line per group, interval bars."""
    order = list(dict.fromkeys(curves.sort_values("order")["attack"]))
    x = alt.X("attack:N", sort=order, title="attack")
    base = alt.Chart(curves).encode(x=x, color=alt.Color("group:N", title=None))
    bars = base.mark_rule(opacity=0.5).encode(y="ci_low:Q", y2="ci_high:Q")
    line = base.mark_line(point=True).encode(
        y=alt.Y("rate:Q", title="watermark detected", scale=alt.Scale(domain=[0, 1])),
        tooltip=["group", "attack", "k", "n", alt.Tooltip("rate:Q", format=".3f")],
    )
    return (bars + line).properties(height=HEIGHT)


def rates(table: pd.DataFrame) -> Any:
    base = alt.Chart(table).encode(
        y=alt.Y("group:N", title=None), color=alt.Color("metric:N", title=None)
    )
    bars = base.mark_rule().encode(x=alt.X("ci_low:Q", title="rate"), x2="ci_high:Q")
    dots = base.mark_point(filled=True).encode(
        x="rate:Q", tooltip=["group", "metric", "k", "n", "rate"]
    )
    return (bars + dots).properties(height=max(80, 30 * table["group"].nunique()))


def c2pa_states(counts: pd.DataFrame) -> Any:
    return (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            y=alt.Y("group:N", title=None),
            x=alt.X("count:Q", title="images", stack=True),
            color=alt.Color("state:N", title="C2PA state"),
            tooltip=["group", "state", "count"],
        )
        .properties(height=max(80, 30 * counts["group"].nunique()))
    )


def robustness_curves(curves: pd.DataFrame) -> Any:
    """Detection rate against the PSNR each attack strength costs, one line per attack family
    (colour) and group (facet row when there are several)."""
    base = alt.Chart(curves).encode(
        x=alt.X(
            "psnr:Q",
            title="PSNR vs unattacked (dB; lower = stronger)",
            scale=alt.Scale(zero=False),
        ),
        y=alt.Y("rate:Q", title="detection rate", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("family:N", title="attack"),
        order="strength:Q",
        tooltip=[
            "group",
            "family",
            "strength",
            "k",
            "n",
            alt.Tooltip("rate:Q", format=".2f"),
            alt.Tooltip("bit_accuracy:Q", format=".3f"),
            alt.Tooltip("psnr:Q", format=".2f"),
            alt.Tooltip("ssim:Q", format=".3f"),
        ],
    )
    chart = (base.mark_line() + base.mark_point(filled=True)).properties(height=HEIGHT)
    if curves["group"].nunique() > 1:
        return chart.facet(row=alt.Row("group:N", title=None))
    return chart

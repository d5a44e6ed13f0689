"""Leaderboard and sweep tables: plain pandas built from an `audit.stats` Summary.

The pages only lay these out, so what they show can be checked against the summary itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from audit.stats.aggregate import ALL, Summary
from audit.stats.columns import CELL
from audit.stats.roles import default_primary
from audit.stats.safety import curve_column

ARROW = {"higher": "↑", "lower": "↓"}
DIRECTION_TEXT = {"higher": "higher is better", "lower": "lower is better"}
EFFICIENCY = {
    "n_images": "images",
    # The sweep's batch time shared out per image while other work ran: not a speed
    # measurement (that is the efficiency scorer's seconds_per_image, from the timing pass).
    "mean_gen_seconds": "sweep batch-share s/image",
    "images_per_s": "sweep batch-share images/s",
    "peak_mem_mb": "peak MB",
}
SPEED = ("seconds_per_image", "seconds_per_image_min", "seconds_per_image_max", "timing_spread")
"""The timing pass's figures (efficiency scorer): the Pareto front is drawn on the median."""


def cell_label(row: Mapping[str, Any]) -> str:
    return f"{row['model']} · {row['sampler']} · {row['steps']} steps · cfg {row['guidance']:g}"


def cell_tuple_label(cell: Sequence[Any]) -> str:
    """`cell_label` of a cell tuple (audit.vocab.CELL order)."""
    return cell_label(dict(zip(CELL, cell, strict=True)))


def fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return str(value)


def interval_text(low: Any, high: Any) -> str:
    if pd.isna(low) or pd.isna(high):
        return ""
    return f"[{fmt(float(low))}, {fmt(float(high))}]"


def directions(summary: Summary) -> dict[str, str]:
    pairs = summary.stats[["metric", "direction"]].drop_duplicates("metric")
    return {str(m): str(d) for m, d in zip(pairs["metric"], pairs["direction"], strict=True)}


def metric_names(summary: Summary, category: str = ALL) -> list[str]:
    rows = summary.stats[summary.stats["category"] == category]
    return [str(m) for m in dict.fromkeys(rows["metric"])]


def primary_metric(summary: Summary) -> str | None:
    """The quality axis, as the report picks it (`audit.stats.roles`); else the first metric,
    so that a run of safety scorers alone still has something to sort by."""
    names = metric_names(summary)
    return default_primary(names, directions(summary)) or (names[0] if names else None)


def leaderboard_default(summary: Summary, category: str = ALL) -> list[str]:
    """The metrics the leaderboard shows before any choice: all but the robustness-curve
    points (one column per attack strength; the Safety page charts them)."""
    return [m for m in metric_names(summary, category) if curve_column(m) is None]


def direction_table(summary: Summary, metrics: Sequence[str]) -> pd.DataFrame:
    dirs = directions(summary)
    kinds = summary.stats[["metric", "kind"]].drop_duplicates("metric").set_index("metric")["kind"]
    return pd.DataFrame(
        {
            "metric": list(metrics),
            "better": [DIRECTION_TEXT.get(dirs.get(m, "none"), "no direction") for m in metrics],
            "kind": [str(kinds.get(m, "")) for m in metrics],
        }
    )


def leaderboard(
    summary: Summary,
    *,
    category: str = ALL,
    models: Sequence[str] | None = None,
    samplers: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    sort_by: str | None = None,
    best_first: bool = True,
) -> pd.DataFrame:
    """One row per cell: the cell, efficiency (category "all" only, under the EFFICIENCY
    display names), then for each metric its mean, `<metric> CI` (the 95% interval as text)
    and `<metric> n`.

    Sorted by `sort_by` (default: the primary metric), best first by its direction."""
    stats = summary.stats[summary.stats["category"] == category]
    chosen = list(metrics) if metrics is not None else metric_names(summary, category)
    if category == ALL and not summary.efficiency.empty:
        # Display names, which no metric can take (they hold spaces or slashes).
        table = summary.efficiency[[*CELL, *EFFICIENCY]].rename(columns=EFFICIENCY)
    else:
        table = stats[list(CELL)].drop_duplicates().reset_index(drop=True)
    for name in chosen:
        rows = stats[stats["metric"] == name].drop_duplicates(list(CELL))
        part = pd.DataFrame({c: rows[c] for c in CELL})
        part[name] = rows["mean"].astype("float64")
        part[f"{name} CI"] = [
            interval_text(lo, hi) for lo, hi in zip(rows["ci_low"], rows["ci_high"], strict=True)
        ]
        part[f"{name} n"] = rows["n"].astype("int64")
        table = table.merge(part, on=list(CELL), how="left")
    if models:
        table = table[table["model"].astype(str).isin(list(models))]
    if samplers:
        table = table[table["sampler"].astype(str).isin(list(samplers))]
    key = sort_by if sort_by is not None else primary_metric(summary)
    if key is not None and key in table.columns:
        direction = directions(summary).get(key, "none")
        ascending = direction == "lower" if best_first else direction != "lower"
        if key in CELL:
            ascending = best_first
        table = table.sort_values(key, ascending=ascending, na_position="last", kind="stable")
    return table.reset_index(drop=True)


def overall_rows(summary: Summary, metric: str, category: str = ALL) -> pd.DataFrame:
    stats = summary.stats
    rows = stats[(stats["metric"] == metric) & (stats["category"] == category)]
    return rows[[*CELL, "n", "mean", "ci_low", "ci_high"]].reset_index(drop=True)


def sweep_series(
    summary: Summary, metric: str, x: str, color: str, fixed: Mapping[str, Any]
) -> pd.DataFrame:
    """`metric` against `x` (steps or guidance), one series per `color` (sampler or model),
    the other cell columns held at `fixed`. Each point is one cell with its interval."""
    if x not in ("steps", "guidance") or color not in ("sampler", "model"):
        raise ValueError(f"cannot plot against {x!r} coloured by {color!r}")
    rows = overall_rows(summary, metric)
    for column, value in fixed.items():
        if column in (x, color):
            continue
        rows = rows[rows[column] == value]
    out = rows[[x, color, "n", "mean", "ci_low", "ci_high"]].copy()
    out[color] = out[color].astype(str)
    return out.sort_values([color, x], kind="stable").reset_index(drop=True)


def heat_map(summary: Summary, metric: str, model: str, sampler: str) -> pd.DataFrame:
    """steps x guidance grid of `metric` for one model and sampler (long form)."""
    rows = overall_rows(summary, metric)
    rows = rows[(rows["model"].astype(str) == model) & (rows["sampler"].astype(str) == sampler)]
    out = rows[["steps", "guidance", "n", "mean", "ci_low", "ci_high"]].copy()
    out["label"] = [fmt(float(v)) for v in out["mean"]]
    return out.sort_values(["steps", "guidance"], kind="stable").reset_index(drop=True)


def speed(summary: Summary) -> pd.DataFrame:
    """Per cell with a timing pass: `seconds` (its median seconds per image), `fastest`,
    `slowest` (its quickest and slowest timed batch) and `spread` ((slowest - fastest) /
    median)."""
    names = dict(zip(SPEED, ("seconds", "fastest", "slowest", "spread"), strict=True))
    out = pd.DataFrame(columns=[*CELL, *names.values()])
    for metric, column in names.items():
        rows = overall_rows(summary, metric)[[*CELL, "mean"]].rename(columns={"mean": column})
        out = rows if metric == SPEED[0] else out.merge(rows, on=list(CELL), how="left")
    return out.reset_index(drop=True)


def pareto(summary: Summary, quality: str) -> pd.DataFrame:
    """Per cell: the timing pass's median seconds per image (with its spread), `quality` and
    whether no other cell is at least as good on both and better on one (the Pareto front),
    sorted by seconds. Cells without a timing pass are left out: their speed is unmeasured."""
    direction = directions(summary).get(quality, "higher")
    pts = speed(summary).merge(overall_rows(summary, quality), on=list(CELL), how="inner")
    pts = pts.rename(columns={"mean": "quality"})
    pts = pts.dropna(subset=["seconds", "quality"]).reset_index(drop=True)
    q = pts["quality"].to_numpy(dtype=np.float64) * (-1.0 if direction == "lower" else 1.0)
    s = pts["seconds"].to_numpy(dtype=np.float64)
    no_worse = (q[None, :] >= q[:, None]) & (s[None, :] <= s[:, None])
    better = (q[None, :] > q[:, None]) | (s[None, :] < s[:, None])
    pts["on_front"] = ~(no_worse & better).any(axis=1)
    pts["cell"] = [cell_label(r) for r in pts.to_dict("records")]
    return pts.sort_values("seconds", kind="stable").reset_index(drop=True)

"""Everything a report shows, computed once from frames; the writers only lay it out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from audit.stats.aggregate import AggregateOptions, Summary, summarize
from audit.stats.columns import CELL, FramesLike
from audit.stats.roles import SAFETY_METRICS, default_primary, quality_metrics
from audit.stats.safety import (
    binary_rates,
    c2pa_states,
    curve_column,
    measured,
    robustness_curves,
)


@dataclass(frozen=True)
class ReportOptions:
    title: str = "t2i-audit report"
    primary_metric: str | None = None
    worst_k: int = 5
    thumb_px: int = 96
    aggregate: AggregateOptions = field(default_factory=AggregateOptions)


@dataclass
class ReportData:
    title: str
    generated: str
    environment: dict[str, Any]
    summary: Summary
    primary: str | None
    primary_direction: str
    leaderboard: pd.DataFrame  # one row per cell; <metric>, <metric>_lo, <metric>_hi columns
    leaderboard_metrics: list[str]
    by_category: pd.DataFrame  # primary metric per cell x category
    best: pd.DataFrame  # best cell per model by the primary metric
    pareto: pd.DataFrame  # cell, median seconds per image (timing pass), quality, on_front
    worst: dict[str, pd.DataFrame]  # metric -> worst prompts
    safety: pd.DataFrame  # per cell: rate and interval per safety metric, c2pa counts
    safety_metrics: list[str]
    set_labels: pd.DataFrame  # set-level metric -> label (what the number was measured with)
    speed: pd.DataFrame = field(default_factory=pd.DataFrame)  # per cell: SPEED_COLUMNS
    # Per model, prefix, attack family and strength: detection rate and the attack's cost
    # (audit.stats.safety.robustness_curves); empty without curve columns.
    robustness: pd.DataFrame = field(default_factory=pd.DataFrame)


def build_report(frames: FramesLike, options: ReportOptions | None = None) -> ReportData:
    opts = options or ReportOptions()
    summary = summarize(frames.images, frames.catalog, frames.sets, opts.aggregate)
    directions = _directions(summary)
    primary = _primary(summary, directions, opts.primary_metric)
    primary_direction = directions.get(primary, "higher") if primary else "higher"
    shown = [
        m
        for m in quality_metrics(summary.overall()["metric"], directions)
        if m not in summary.efficiency.columns  # a column of the table already
    ]
    if primary in shown:
        shown.remove(primary)
        shown.insert(0, primary)
    leaderboard = _leaderboard(summary, shown, primary, primary_direction)
    return ReportData(
        title=opts.title,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        environment=environment(frames.run_info),
        summary=summary,
        primary=primary,
        primary_direction=primary_direction,
        leaderboard=leaderboard,
        leaderboard_metrics=shown,
        by_category=_by_category(summary, primary),
        best=_best(leaderboard, primary, primary_direction),
        pareto=_pareto(leaderboard, speed_table(summary), primary, primary_direction),
        worst=_worst(frames.images, summary, opts.worst_k),
        safety=_safety(frames.images, summary),
        safety_metrics=measured(frames.images, SAFETY_METRICS),
        set_labels=_set_labels(summary),
        speed=speed_table(summary),
        robustness=_robustness(frames.images),
    )


def _robustness(images: pd.DataFrame) -> pd.DataFrame:
    if images.empty or "model" not in images.columns:
        return pd.DataFrame()
    return robustness_curves(images, ["model"])


def cell_name(row: Mapping[str, Any]) -> str:
    return f"{row['model']} · {row['sampler']} · {row['steps']} steps · cfg {row['guidance']:g}"


def environment(run_info: Mapping[str, Any] | None) -> dict[str, Any]:
    """Device, dtype, versions and the rest of run_info, flattened for display."""
    info = dict(run_info or {})
    out: dict[str, Any] = {}
    for key in ("device", "dtype", "git", "git_revision", "created", "host"):
        if key in info:
            out[key] = info.pop(key)
    versions = info.pop("versions", None)
    spec = info.pop("spec", None)
    if isinstance(spec, Mapping) and "name" in spec:
        out["spec"] = spec["name"]
    for key, value in info.items():
        if isinstance(value, str | int | float | bool):
            out[key] = value
    if isinstance(versions, Mapping):
        out["versions"] = {str(k): str(v) for k, v in versions.items()}
    return out


# --- sections ---------------------------------------------------------------------------


def _directions(summary: Summary) -> dict[str, str]:
    pairs = summary.stats[["metric", "direction"]].drop_duplicates("metric")
    return dict(zip(pairs["metric"], pairs["direction"], strict=True))


def _primary(summary: Summary, directions: dict[str, str], requested: str | None) -> str | None:
    present = set(summary.overall()["metric"])
    if requested is not None:
        if requested not in present:
            from audit.errors import UserError

            raise UserError(
                f"primary metric '{requested}' is not in this run",
                field="primary_metric",
                fix=f"use one of: {', '.join(sorted(present)) or 'none'}",
            )
        return requested
    return default_primary(summary.overall()["metric"], directions)


def _leaderboard(
    summary: Summary, metrics: list[str], primary: str | None, direction: str
) -> pd.DataFrame:
    table = summary.efficiency.copy()
    overall = summary.overall()
    for name in metrics:
        rows = overall[overall["metric"] == name].drop_duplicates(list(CELL))
        part = rows[[*CELL, "mean", "ci_low", "ci_high"]].rename(
            columns={"mean": name, "ci_low": f"{name}_lo", "ci_high": f"{name}_hi"}
        )
        table = table.merge(part, on=list(CELL), how="left")
    if primary is not None and primary in table:
        table = table.sort_values(
            primary, ascending=direction == "lower", na_position="last", kind="stable"
        )
    return table.reset_index(drop=True)


def _by_category(summary: Summary, primary: str | None) -> pd.DataFrame:
    if primary is None:
        return pd.DataFrame()
    rows = summary.stats[(summary.stats["metric"] == primary)]
    return rows[[*CELL, "category", "n", "mean", "ci_low", "ci_high"]].reset_index(drop=True)


def _best(board: pd.DataFrame, primary: str | None, direction: str) -> pd.DataFrame:
    if primary is None or primary not in board or board[primary].isna().all():
        return pd.DataFrame()
    ranked = board.dropna(subset=[primary])
    best_idx = (
        ranked.groupby("model")[primary].idxmax()
        if direction != "lower"
        else ranked.groupby("model")[primary].idxmin()
    )
    cols = [*CELL, primary, f"{primary}_lo", f"{primary}_hi", "n_images"]
    best = board.loc[best_idx.to_numpy(), cols].reset_index(drop=True)
    # images/s as the timing pass measured it (NaN for a cell without one)
    speed = board.get("images_per_second", pd.Series(float("nan"), index=board.index))
    best["images_per_second"] = speed.loc[best_idx.to_numpy()].to_numpy()
    return best


SPEED = {  # efficiency scorer metric -> speed table column
    "seconds_per_image": "median",
    "seconds_per_image_min": "min",
    "seconds_per_image_max": "max",
    "timing_spread": "spread",
    "timing_repeats": "repeats",
    "timing_batch_size": "batch_size",
    "timing_load_avg": "load_avg",
}
SPEED_COLUMNS = [*CELL, *SPEED.values(), "label"]
SPEED_SHOWN = ("images_per_second", "peak_mem_mb")  # efficiency metrics shown elsewhere


def speed_table(summary: Summary) -> pd.DataFrame:
    """Per cell, the timing pass's median seconds per image, its min, max and relative spread,
    how many batches of what size, the load average then, and the efficiency label (device,
    threads; or that the cell has no timing pass). Empty when the efficiency scorer did not run."""
    rows = summary.overall()
    rows = rows[rows["metric"].isin(list(SPEED))]
    if rows.empty:
        return pd.DataFrame(columns=SPEED_COLUMNS)
    wide = rows.pivot_table(
        index=list(CELL), columns="metric", values="mean", aggfunc="first", sort=True
    )
    wide = wide.reindex(columns=list(SPEED)).rename(columns=SPEED)
    wide.columns.name = None
    labels = rows.drop_duplicates(list(CELL)).set_index(list(CELL))["label"]
    wide["label"] = labels.reindex(wide.index).to_numpy()
    return wide.reset_index()[SPEED_COLUMNS]


def _pareto(
    board: pd.DataFrame, speed: pd.DataFrame, primary: str | None, direction: str
) -> pd.DataFrame:
    """Cells no other cell beats on both quality and the timing pass's median seconds per
    image (cells without a timing pass are left out: their speed was not measured)."""
    if primary is None or primary not in board or speed.empty:
        return pd.DataFrame()
    pts = board[[*CELL, primary]].merge(speed[[*CELL, "median"]], on=list(CELL), how="inner")
    pts = pts.dropna().reset_index(drop=True)
    pts = pts.rename(columns={primary: "quality", "median": "seconds"})
    q = pts["quality"].to_numpy() * (1.0 if direction != "lower" else -1.0)
    s = pts["seconds"].to_numpy()
    # i is dominated when some j is at least as good on both axes and better on one.
    no_worse = (q[None, :] >= q[:, None]) & (s[None, :] <= s[:, None])
    better = (q[None, :] > q[:, None]) | (s[None, :] < s[:, None])
    pts["on_front"] = ~(no_worse & better).any(axis=1)
    return pts.sort_values("seconds", kind="stable").reset_index(drop=True)


def _worst(images: pd.DataFrame, summary: Summary, k: int) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    if images.empty or "prompt_id" not in images:
        return out
    # Quality metrics first, safety rates after them.
    names = sorted(
        (m for m in summary.metrics if curve_column(m) is None),
        key=lambda m: m in SAFETY_METRICS,
    )
    for name in names:
        info = summary.metrics[name]
        if info.direction not in ("higher", "lower"):
            continue
        values = pd.to_numeric(images[name], errors="coerce")
        frame = images.loc[values.notna(), ["prompt_id", "prompt", "category", "image_path"]]
        if frame.empty:
            continue
        frame = frame.assign(value=values[values.notna()])
        lower_is_worse = info.direction == "higher"
        per_prompt = frame.groupby("prompt_id", sort=True).agg(
            mean=("value", "mean"),
            n=("value", "size"),
            prompt=("prompt", "first"),
            category=("category", "first"),
        )
        pick = (
            frame.groupby("prompt_id")["value"].idxmin()
            if lower_is_worse
            else (frame.groupby("prompt_id")["value"].idxmax())
        )
        per_prompt["worst_value"] = frame.loc[pick.to_numpy(), "value"].to_numpy()
        per_prompt["image_path"] = frame.loc[pick.to_numpy(), "image_path"].to_numpy()
        if info.kind == "binary":
            # A prompt that never failed is not among the worst, however the ties fall.
            perfect = 1.0 if info.direction == "higher" else 0.0
            per_prompt = per_prompt[per_prompt["mean"] != perfect]
            if per_prompt.empty:
                continue
        per_prompt = per_prompt.reset_index().sort_values(
            ["mean", "prompt_id"], ascending=[lower_is_worse, True], kind="stable"
        )
        out[name] = per_prompt.head(k).reset_index(drop=True)
    return out


def _safety(images: pd.DataFrame, summary: Summary) -> pd.DataFrame:
    """Per cell: each safety metric's rate with its exact interval, and the C2PA states.
    Computed by audit.stats.safety, so the numbers and the missing-value rule (an unreadable
    file is `unreadable`, not `absent`) are the dashboard's."""
    table = summary.efficiency[[*CELL, "n_images"]].copy()
    rates = binary_rates(images, SAFETY_METRICS, CELL)
    for name, rows in rates.groupby("metric", sort=False):
        part = rows[[*CELL, "rate", "ci_low", "ci_high"]].rename(
            columns={"rate": name, "ci_low": f"{name}_lo", "ci_high": f"{name}_hi"}
        )
        table = table.merge(part, on=list(CELL), how="left")
    states = c2pa_states(images, CELL)
    if not states.empty:
        text = states.assign(text=states["state"] + ": " + states["count"].astype(str))
        joined = text.groupby(list(CELL), sort=True)["text"].agg(", ".join)
        table = table.merge(joined.rename("c2pa_state").reset_index(), on=list(CELL), how="left")
    return table


def _set_labels(summary: Summary) -> pd.DataFrame:
    rows = summary.stats[summary.stats["kind"] == "set"]
    rows = rows[~rows["metric"].isin([*SPEED, *SPEED_SHOWN])]  # the speed section says them
    if rows.empty:
        return pd.DataFrame(columns=["metric", "label"])
    return rows[["metric", "label"]].drop_duplicates().reset_index(drop=True)

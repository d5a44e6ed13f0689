"""Per-cell, per-category means with 95% intervals: the one summary report, gate and dashboard use.

Intervals:

* continuous metrics: percentile bootstrap of the mean (`audit.stats.resample.bootstrap_means`,
  the same resamples as scipy.stats.bootstrap(method='percentile') with the same seed),
  2,000 resamples by default. Percentile rather than BCa because BCa needs a jackknife,
  O(n^2) per metric, and the means here are of bounded, mildly skewed scores; for samples
  larger than `bootstrap_max_n` (10,000) the Student-t interval is used instead: it agrees
  with the bootstrap to within the bootstrap's Monte Carlo error at that size and costs
  nothing (tests measure the difference).
* binary metrics: exact Clopper-Pearson.
* `ocr_f1_run`: the MARIO-Eval F computed from the averaged precision and recall of a group
  (not the mean of per-image F), with a paired bootstrap of (precision, recall).
  `mario_f`: the same from `mario_precision` and `mario_recall` (the text scorer's MARIO-Eval
  compatibility columns), with TextDiffuser's + 1e-8 in the denominator so it matches its
  script exactly.
* `geneval_overall` (per cell, category "all"): GenEval's "Overall score", the mean over
  prompt categories (GenEval's tasks) of each category's mean `geneval_score`, with a
  stratified bootstrap interval (`audit.stats.task_mean`). The pooled `geneval_score` is
  GenEval's other number, the share of correct images.
* set-level metrics (FID, KID, ...) pass through with the interval their scorer reported.

Speed: the metrics of a group that are defined on the same images are bootstrapped together,
and all groups of the same size share one draw of resample counts, so 20,000 images x 20
metrics summarise in about a second.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from audit.stats.columns import CELL, MetricInfo, catalog_entry, metric_matrix, resolve_metrics
from audit.stats.resample import (
    bootstrap_means,
    clopper_pearson,
    percentile_interval,
    t_interval,
)
from audit.stats.task_mean import mean_of_task_means

ALL = "all"
"""The category label of rows that pool every prompt category."""

OCR_PRECISION = "ocr_precision"
OCR_RECALL = "ocr_recall"
OCR_F1_RUN = "ocr_f1_run"
MARIO_PRECISION = "mario_precision"
MARIO_RECALL = "mario_recall"
MARIO_F = "mario_f"
MARIO_EPS = 1e-8  # TextDiffuser's guard, as in audit.scorers.ocr_metrics.MARIO_EPS
GENEVAL_SCORE = "geneval_score"
GENEVAL_OVERALL = "geneval_overall"

# Run-level F from averaged precision and recall: (precision, recall, F column, epsilon).
RUN_F = (
    (OCR_PRECISION, OCR_RECALL, OCR_F1_RUN, 0.0),
    (MARIO_PRECISION, MARIO_RECALL, MARIO_F, MARIO_EPS),
)

STAT_COLUMNS: list[str] = [
    *CELL,
    "category",
    "metric",
    "kind",
    "direction",
    "n",
    "mean",
    "ci_low",
    "ci_high",
    "ci_method",
    "label",
]

EFFICIENCY_COLUMNS: list[str] = [
    *CELL,
    "n_images",
    "mean_gen_seconds",
    "images_per_s",
    "peak_mem_mb",
]


@dataclass(frozen=True)
class AggregateOptions:
    confidence: float = 0.95
    n_resamples: int = 2000
    seed: int = 0
    bootstrap_max_n: int = 10_000
    by_category: bool = True


@dataclass
class Summary:
    """`stats`: one row per (cell, category, metric) with STAT_COLUMNS; category "all" pools
    categories. `efficiency`: one row per cell. `metrics`: resolved kind and direction."""

    stats: pd.DataFrame
    efficiency: pd.DataFrame
    metrics: dict[str, MetricInfo] = field(default_factory=dict)

    def overall(self) -> pd.DataFrame:
        return self.stats[self.stats["category"] == ALL].reset_index(drop=True)

    def wide(self, value: str = "mean", category: str = ALL) -> pd.DataFrame:
        """Cells as rows, metrics as columns, `value` (mean, ci_low, ci_high, n) as entries."""
        rows = self.stats[self.stats["category"] == category]
        if rows.empty:
            return pd.DataFrame(columns=list(CELL))
        table = rows.pivot_table(
            index=list(CELL), columns="metric", values=value, aggfunc="first", sort=True
        )
        table.columns.name = None
        return table.reset_index()


@dataclass
class _Job:
    """Continuous metrics of one group that are defined on the same k images."""

    positions: list[int]  # record indices that receive the interval
    x: np.ndarray  # (k, m) values
    f1: bool = False  # two columns (precision, recall) -> one F record
    eps: float = 0.0  # added to P + R in that F (MARIO-Eval's guard)


def summarize(
    images: pd.DataFrame,
    catalog: Mapping[str, Any] | None = None,
    sets: pd.DataFrame | None = None,
    options: AggregateOptions | None = None,
    directions: Mapping[str, str] | None = None,
) -> Summary:
    """Summarise an images frame (and a set frame) per cell and per prompt category."""
    opts = options or AggregateOptions()
    # A table made by hand may lack the size: its cells then hold every size (0 = unrecorded).
    images = images.assign(**{c: 0 for c in CELL if c not in images.columns})
    metrics = resolve_metrics(images, catalog, directions)
    names = list(metrics)
    values = metric_matrix(images, names)
    valid = ~np.isnan(values)
    binary = np.array([metrics[n].kind == "binary" for n in names], dtype=bool)
    continuous_idx = np.flatnonzero(~binary)
    f_pairs = _f_pairs(names)

    rec: dict[str, list[Any]] = defaultdict(list)
    jobs: dict[int, list[_Job]] = defaultdict(list)
    binary_positions: list[int] = []

    def add(cell: tuple[Any, ...], category: str, info: MetricInfo, n: int, mean: float) -> int:
        for col, v in zip(CELL, cell, strict=True):
            rec[col].append(v)
        rec["category"].append(category)
        rec["metric"].append(info.name)
        rec["kind"].append(info.kind)
        rec["direction"].append(info.direction)
        rec["n"].append(n)
        rec["mean"].append(mean)
        rec["ci_low"].append(np.nan)
        rec["ci_high"].append(np.nan)
        rec["ci_method"].append("none")
        rec["label"].append("")
        return len(rec["metric"]) - 1

    for cell, category, rows in _groups(images, opts.by_category):
        sub = values[rows]
        ok = valid[rows]
        counts = ok.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(ok, sub, 0.0).sum(axis=0) / counts
        for j in np.flatnonzero(binary & (counts > 0)):
            binary_positions.append(add(cell, category, metrics[names[j]], counts[j], means[j]))
        # Metrics applicable to the same images are bootstrapped as one matrix.
        for cols in _same_images(ok, continuous_idx):
            pattern = ok[:, cols[0]]
            k = int(counts[cols[0]])
            if k == 0:
                continue
            positions = [add(cell, category, metrics[names[j]], k, means[j]) for j in cols]
            jobs[k].append(_Job(positions, sub[pattern][:, cols]))
        for p_col, r_col, f_name, eps in f_pairs:
            both = ok[:, p_col] & ok[:, r_col]
            k = int(both.sum())
            if k:
                pr = sub[both][:, [p_col, r_col]]
                info = MetricInfo(f_name, "continuous", "higher")
                pos = add(cell, category, info, k, float(_f1(pr.mean(axis=0), eps)[0]))
                jobs[k].append(_Job([pos], pr, f1=True, eps=eps))

    _binary_intervals(rec, binary_positions, opts.confidence)
    for k, group in jobs.items():
        _continuous_intervals(rec, k, group, opts)
    overall_names = _add_task_means(images, names, values, opts, add, rec)

    stats = pd.DataFrame(rec, columns=STAT_COLUMNS)
    if sets is not None and not sets.empty:
        stats = pd.concat([stats, _set_rows(sets, catalog, directions, opts)], ignore_index=True)
    stats["n"] = stats["n"].astype("int64")
    stats = _ordered(stats, [*names, *(f for _, _, f, _ in f_pairs), *overall_names])
    return Summary(stats=stats, efficiency=efficiency(images), metrics=metrics)


def _f_pairs(names: list[str]) -> list[tuple[int, int, str, float]]:
    """(precision column, recall column, F name, epsilon) for each labelled or plain pair."""
    index = {name: i for i, name in enumerate(names)}
    out = []
    for name in names:
        base, at, label = name.partition("@")
        for precision, recall, f_name, eps in RUN_F:
            if base == precision and recall + at + label in index:
                out.append((index[name], index[recall + at + label], f_name + at + label, eps))
    return out


def _add_task_means(
    images: pd.DataFrame,
    names: list[str],
    values: np.ndarray,
    opts: AggregateOptions,
    add: Any,
    rec: dict[str, list[Any]],
) -> list[str]:
    """A `geneval_overall` record per cell for every geneval_score column (labelled too)."""
    columns = [(j, n) for j, n in enumerate(names) if n.partition("@")[0] == GENEVAL_SCORE]
    if not columns or images.empty:
        return []
    if "category" in images.columns:
        tasks = images["category"].fillna("uncategorised").astype(str).to_numpy()
    else:
        tasks = np.full(len(images), ALL, dtype=object)
    out = []
    for j, name in columns:
        _, at, label = name.partition("@")
        out_name = GENEVAL_OVERALL + at + label
        out.append(out_name)
        info = MetricInfo(out_name, "continuous", "higher")
        for cell, _, rows in _groups(images, by_category=False):
            got = mean_of_task_means(
                values[rows, j],
                tasks[rows],
                confidence=opts.confidence,
                n_resamples=opts.n_resamples,
                seed=opts.seed,
            )
            if got.n == 0:
                continue
            pos = add(cell, ALL, info, got.n, got.mean)
            if not np.isnan(got.ci_low):
                rec["ci_low"][pos], rec["ci_high"][pos] = got.ci_low, got.ci_high
                rec["ci_method"][pos] = "stratified-bootstrap"
            rec["label"][pos] = f"mean of {got.tasks} task means"
    return out


def ocr_f1_run(precision: np.ndarray, recall: np.ndarray) -> float:
    """MARIO-Eval F: harmonic mean of the averaged precision and the averaged recall."""
    p = np.asarray(precision, dtype=np.float64)
    r = np.asarray(recall, dtype=np.float64)
    ok = ~(np.isnan(p) | np.isnan(r))
    if not ok.any():
        return float("nan")
    return float(_f1(np.array([p[ok].mean(), r[ok].mean()]))[0])


def efficiency(images: pd.DataFrame) -> pd.DataFrame:
    """Per cell: image count, mean seconds per image, images/s = 1/mean, peak memory (max)."""
    if images.empty:
        return pd.DataFrame(columns=EFFICIENCY_COLUMNS)
    frame = images[list(CELL)].copy()
    frame["gen_seconds"] = _float_or_nan(images, "gen_seconds")
    frame["peak_mem_mb"] = _float_or_nan(images, "peak_mem_mb")
    out = frame.groupby(list(CELL), sort=True, dropna=False).agg(
        n_images=("gen_seconds", "size"),
        mean_gen_seconds=("gen_seconds", "mean"),
        peak_mem_mb=("peak_mem_mb", "max"),
    )
    with np.errstate(divide="ignore"):
        out["images_per_s"] = 1.0 / out["mean_gen_seconds"]
    return out.reset_index()[EFFICIENCY_COLUMNS]


# --- internals -------------------------------------------------------------------------


def _groups(images: pd.DataFrame, by_category: bool) -> list[tuple[tuple[Any, ...], str, Any]]:
    """(cell, category, row positions): every cell pooled ("all"), then per category."""
    if images.empty:
        return []
    keys = images[list(CELL)]
    out: list[tuple[tuple[Any, ...], str, Any]] = []
    for cell, rows in keys.groupby(list(CELL), sort=True, dropna=False).indices.items():
        out.append((tuple(cell), ALL, rows))
    if by_category and "category" in images.columns:
        keyed = keys.assign(category=images["category"].fillna("uncategorised").astype(str))
        grouped = keyed.groupby([*CELL, "category"], sort=True, dropna=False).indices
        for key, rows in grouped.items():
            out.append((tuple(key[:-1]), str(key[-1]), rows))
    return out


def _same_images(ok: np.ndarray, columns: np.ndarray) -> list[list[int]]:
    """`columns` grouped by identical validity masks (metrics defined on the same images)."""
    if not columns.size:
        return []
    packed = np.packbits(ok[:, columns], axis=0)
    groups: dict[bytes, list[int]] = {}
    for i, j in enumerate(columns):
        groups.setdefault(packed[:, i].tobytes(), []).append(int(j))
    return list(groups.values())


def _f1(pr: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """F from (..., 2) arrays of (precision, recall); 0 where both are 0. `eps` is added to
    the denominator (MARIO-Eval's guard)."""
    pr = np.atleast_2d(pr)
    p, r = pr[..., 0], pr[..., 1]
    total = p + r + eps
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2.0 * p * r / total, 0.0)


def _binary_intervals(rec: dict[str, list[Any]], positions: list[int], confidence: float) -> None:
    if not positions:
        return
    n = np.array([rec["n"][i] for i in positions], dtype=np.float64)
    k = np.round(np.array([rec["mean"][i] for i in positions]) * n)
    low, high = clopper_pearson(k, n, confidence)
    for i, lo, hi in zip(positions, low, high, strict=True):
        rec["ci_low"][i], rec["ci_high"][i], rec["ci_method"][i] = lo, hi, "clopper-pearson"


def _continuous_intervals(
    rec: dict[str, list[Any]], k: int, group: list[_Job], opts: AggregateOptions
) -> None:
    if k < 2:
        return  # one value has no spread: leave the interval empty rather than invent one
    x = np.concatenate([job.x for job in group], axis=1)
    if k <= opts.bootstrap_max_n:
        dist = bootstrap_means(x, opts.n_resamples, opts.seed)
        # One quantile pass over every column: F columns replace their (P, R) pairs.
        columns, positions, col = [], [], 0
        for job in group:
            width = job.x.shape[1]
            part = dist[:, col : col + width]
            col += width
            columns.append(_f1(part, job.eps)[:, None] if job.f1 else part)
            positions.extend(job.positions)
        low, high = percentile_interval(np.concatenate(columns, axis=1), opts.confidence)
        for i, lo, hi in zip(positions, low, high, strict=True):
            rec["ci_low"][i], rec["ci_high"][i] = lo, hi
            rec["ci_method"][i] = "bootstrap-percentile"
        return
    for job in group:
        if job.f1:
            lo_hi = _f1_delta_interval(job.x, opts.confidence, job.eps)
            lows, highs = np.array([lo_hi[0]]), np.array([lo_hi[1]])
        else:
            mean = job.x.mean(axis=0)
            sd = job.x.std(axis=0, ddof=1)
            lows, highs = t_interval(mean, sd, np.full(mean.shape, k), opts.confidence)
        for i, lo, hi in zip(job.positions, lows, highs, strict=True):
            rec["ci_low"][i], rec["ci_high"][i], rec["ci_method"][i] = lo, hi, "t"


def _f1_delta_interval(pr: np.ndarray, confidence: float, eps: float = 0.0) -> tuple[float, float]:
    """Normal interval for F(mean P, mean R) by the delta method (large samples only)."""
    from scipy import stats

    k = pr.shape[0]
    p, r = pr.mean(axis=0)
    f = float(_f1(np.array([p, r]), eps)[0])
    if p + r <= 0:
        return f, f
    grad = np.array([2 * r * (r + eps), 2 * p * (p + eps)]) / (p + r + eps) ** 2
    var = float(grad @ np.cov(pr, rowvar=False) @ grad) / k
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * np.sqrt(max(var, 0.0))
    return f - half, f + half


def _set_rows(
    sets: pd.DataFrame,
    catalog: Mapping[str, Any] | None,
    directions: Mapping[str, str] | None,
    opts: AggregateOptions,
) -> pd.DataFrame:
    """Set-level values: per-cell ones pass through with their scorer's interval; per-prompt
    ones (e.g. diversity across seeds) become a mean over prompts with a bootstrap interval."""
    sets = sets.assign(value=_float_or_nan(sets, "value")).dropna(subset=["value"])
    per_prompt = prompt_level(sets)
    cell_level = sets[~per_prompt]
    out = pd.DataFrame({col: cell_level[col] for col in CELL})
    out["category"] = ALL
    out["metric"] = cell_level["metric"].astype(str)
    out["kind"] = "set"
    out["n"] = _float_or_nan(cell_level, "n").fillna(0)
    out["mean"] = cell_level["value"]
    out["ci_low"] = _float_or_nan(cell_level, "ci_low")
    out["ci_high"] = _float_or_nan(cell_level, "ci_high")
    has_ci = out["ci_low"].notna() & out["ci_high"].notna()
    out["ci_method"] = np.where(has_ci, "scorer", "none")
    out["label"] = _text(cell_level, "label")
    frames = [out] if not out.empty else []
    if per_prompt.any():
        frames.append(_prompt_level_rows(sets[per_prompt], opts))
    if not frames:
        return pd.DataFrame(columns=STAT_COLUMNS)
    result = pd.concat(frames, ignore_index=True)

    def direction(name: str) -> str:
        known = catalog_entry(catalog, name)
        if known is not None and known[1] != "none":
            return known[1]
        return (directions or {}).get(name, "none")

    result["direction"] = result["metric"].map(direction)
    return result[STAT_COLUMNS]


def prompt_level(sets: pd.DataFrame) -> pd.Series:
    """Rows of a set frame that hold one value per (cell, prompt) rather than per cell."""
    if "prompt_id" not in sets.columns:
        return pd.Series(False, index=sets.index)
    return sets["prompt_id"].fillna("").astype(str) != ""


def _prompt_level_rows(sets: pd.DataFrame, opts: AggregateOptions) -> pd.DataFrame:
    keyed = sets.assign(label=_text(sets, "label"), metric=sets["metric"].astype(str))
    rows = []
    for key, group in keyed.groupby([*CELL, "metric", "label"], sort=True, dropna=False):
        values = group["value"].to_numpy(dtype=np.float64)
        low = high = float("nan")
        if values.size >= 2:
            dist = bootstrap_means(values, opts.n_resamples, opts.seed)
            lo, hi = percentile_interval(dist, opts.confidence)
            low, high = float(lo[0]), float(hi[0])
        rows.append(
            {
                **dict(zip([*CELL, "metric", "label"], key, strict=True)),
                "category": ALL,
                "kind": "set",
                "n": values.size,
                "mean": float(values.mean()),
                "ci_low": low,
                "ci_high": high,
                "ci_method": "bootstrap-percentile" if values.size >= 2 else "none",
            }
        )
    return pd.DataFrame(rows)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series("", index=frame.index)
    return frame[column].fillna("").astype(str)


def _ordered(stats: pd.DataFrame, metric_order: list[str]) -> pd.DataFrame:
    """Cells sorted, "all" before the categories, metrics in frame order (set metrics last)."""
    rank = {name: i for i, name in enumerate(metric_order)}
    key = pd.DataFrame(
        {
            "all_first": stats["category"] != ALL,
            "metric_rank": stats["metric"].map(lambda m: rank.get(m, len(rank))),
        }
    )
    order = pd.concat([stats[list(CELL)], stats[["category"]], key], axis=1).sort_values(
        [*CELL, "all_first", "category", "metric_rank"], kind="stable"
    )
    return stats.loc[order.index].reset_index(drop=True)


def _float_or_nan(images: pd.DataFrame, column: str) -> pd.Series:
    if column not in images.columns:
        return pd.Series(np.nan, index=images.index)
    return pd.to_numeric(images[column], errors="coerce").astype("float64")

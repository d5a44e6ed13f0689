"""Safety and provenance rates, the one computation the report and the dashboard both show.

Missing values follow one rule in both places:

* a binary metric (nsfw_flag, wm_detected, c2pa_present, ...) is a rate of k flagged of n
  measured images: an image without a value was not measured (its scorer did not run, or
  could not tell) and is left out of n, never counted as a 0;
* a C2PA state that was not recorded is counted as `unreadable`, never as `absent`. The c2pa
  scorer records `absent` only when it parsed the file and found no manifest; a file it could
  not parse gets no state (and no c2pa_present either). Calling those "absent" would state a
  finding about files nobody could read, and hide a scorer failure inside an ordinary count.

Intervals are exact (Clopper-Pearson), as everywhere else a binary rate is reported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from audit.stats.columns import numeric_column
from audit.stats.resample import clopper_pearson

CONFIDENCE = 0.95
UNREADABLE = "unreadable"
C2PA_STATE = "c2pa_state"
C2PA_ORDER = ("trusted", "valid_untrusted", "valid", "invalid", "absent", UNREADABLE)
"""C2PA states best first (as audit.provenance.trust defines them; `valid` is what c2pa
scorer version 1 wrote for valid_untrusted), then no state at all."""

RATE_COLUMNS = ("metric", "n", "k", "rate", "ci_low", "ci_high")


def measured(images: pd.DataFrame, metrics: Sequence[str]) -> list[str]:
    """Those of `metrics` that are numeric columns of `images` with at least one value."""
    out = []
    for name in metrics:
        if name in images.columns:
            values = numeric_column(images[name])
            if values is not None and values.notna().any():
                out.append(name)
    return out


def binary_rates(
    images: pd.DataFrame,
    metrics: Sequence[str],
    by: Sequence[str],
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """One row per measured metric and group of `by` columns: the `by` columns, then metric,
    n (images with a value), k (their sum), rate = k / n, ci_low, ci_high. Metrics in the
    order given, groups sorted; a metric no image has a value for gives no rows."""
    keys = list(by)
    parts = []
    for metric in measured(images, metrics):
        values = numeric_column(images[metric])
        frame = images[keys].assign(_value=values).dropna(subset=["_value"])
        agg = frame.groupby(keys, sort=True, dropna=False)["_value"].agg(["size", "sum"])
        agg = agg.reset_index().rename(columns={"size": "n", "sum": "k"})
        agg.insert(len(keys), "metric", metric)
        parts.append(agg)
    if not parts:
        return pd.DataFrame(columns=[*keys, *RATE_COLUMNS])
    out = pd.concat(parts, ignore_index=True)
    out["n"] = out["n"].astype(int)
    out["k"] = out["k"].round().astype(int)
    n = out["n"].to_numpy(dtype=np.float64)
    k = out["k"].to_numpy(dtype=np.float64)
    out["rate"] = k / n  # n >= 1: a group exists only where some image has a value
    out["ci_low"], out["ci_high"] = clopper_pearson(k, n, confidence)
    return out


def c2pa_states(images: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """The `by` columns, state, count: C2PA states per group, best first, a missing state
    counted as `unreadable`. Empty when the run has no c2pa_state column."""
    keys = list(by)
    if C2PA_STATE not in images.columns or images.empty:
        return pd.DataFrame(columns=[*keys, "state", "count"])
    raw = images[C2PA_STATE]
    states = raw.where(raw.notna(), UNREADABLE).astype(str)
    counts = (
        images[keys]
        .assign(state=states)
        .groupby([*keys, "state"], sort=True, dropna=False)
        .size()
        .rename("count")
        .reset_index()
    )
    rank = {s: i for i, s in enumerate(C2PA_ORDER)}
    order = counts["state"].map(lambda s: rank.get(s, len(rank)))
    counts = counts.assign(_order=order).sort_values([*keys, "_order"], kind="stable")
    return counts.drop(columns="_order").reset_index(drop=True)


# --- robustness curves ----------------------------------------------------------------------

CURVE_STATS = ("detected", "bit_accuracy", "psnr", "ssim")
CURVE_COLUMNS = (
    "prefix",
    "family",
    "strength",
    "n",
    "k",
    "rate",
    "ci_low",
    "ci_high",
    "bit_accuracy",
    "psnr",
    "ssim",
)
_CURVE = re.compile(rf"([a-z0-9]+)_({'|'.join(CURVE_STATS)})_([a-z0-9]+)_([0-9pm]+)")


def curve_column(name: str) -> tuple[str, str, str, float] | None:
    """(prefix, stat, family, strength) of a `<prefix>_<stat>_<family>_<level>` column (the
    naming of `audit.scorers.robustness`: level is the strength with '.' written 'p'), else
    None. Such columns are robustness curves, shown by the curve charts, not the leaderboard."""
    found = _CURVE.fullmatch(name)
    if found is None:
        return None
    prefix, stat, family, token = found.groups()
    try:
        strength = float(token.replace("p", ".").replace("m", "-"))
    except ValueError:
        return None
    return prefix, stat, family, strength


def robustness_curves(
    images: pd.DataFrame,
    by: Sequence[str],
    prefix: str | None = None,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Robustness curves from per-image curve columns (all prefixes, or only `prefix`): one
    row per group of `by` (at least one column), prefix, attack family and strength: n
    (images with a verdict), k (detected), rate = k / n with an exact interval, and the mean
    bit accuracy, PSNR (dB) and SSIM over the group's images. Families in column order."""
    keys = list(by)
    cells: dict[tuple[str, str, float], dict[str, str]] = {}
    for name in images.columns:
        parsed = curve_column(str(name))
        if parsed is not None and (prefix is None or parsed[0] == prefix):
            pre, stat, family, strength = parsed
            cells.setdefault((pre, family, strength), {})[stat] = str(name)
    rows = []
    for (pre, family, strength), columns in cells.items():
        detected = columns.get("detected")
        if detected is None:
            continue
        rates = binary_rates(images, [detected], keys, confidence)
        means: dict[str, pd.Series] = {}
        for stat in ("bit_accuracy", "psnr", "ssim"):
            col = columns.get(stat)
            values = numeric_column(images[col]) if col is not None else None
            if values is not None:
                frame = images[keys].assign(_v=values)
                grouped = frame.groupby(keys, sort=True, dropna=False)["_v"].mean()
                means[stat] = grouped.reset_index().set_index(keys)["_v"]
        for r in rates.to_dict("records"):
            group = tuple(r[k] for k in keys)
            row: dict[str, object] = {k: r[k] for k in keys}
            row.update(prefix=pre, family=family, strength=strength)
            row.update({c: r[c] for c in ("n", "k", "rate", "ci_low", "ci_high")})
            for stat in ("bit_accuracy", "psnr", "ssim"):
                series = means.get(stat)
                where = group if len(keys) > 1 else group[0]
                value = series.get(where) if series is not None else None
                row[stat] = float(value) if value is not None and pd.notna(value) else np.nan
            rows.append(row)
    if not rows:
        return pd.DataFrame(columns=[*keys, *CURVE_COLUMNS])
    return pd.DataFrame(rows, columns=[*keys, *CURVE_COLUMNS])

"""Safety and provenance figures: rates with exact intervals per group, watermark robustness
per attack, C2PA states.

Rates are computed here straight from the images frame (k flagged of n measured, with a
Clopper-Pearson interval), so they can be grouped by model or by cell alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from audit.stats.columns import CELL, numeric_column
from audit.stats.resample import clopper_pearson

CONFIDENCE = 0.95
WM_PREFIX = "wm_detected_"
NO_ATTACK = "none"
SAFETY_RATES = ("nsfw_flag", "pipeline_safety_flag", "safety_flag", "nan_or_black")
PROVENANCE_RATES = ("wm_detected", "c2pa_present", "c2pa_ai_declared")
GROUPINGS = {"model": ("model",), "cell": CELL}
C2PA_ORDER = ("trusted", "valid", "invalid", "absent", "unreadable")


def group_labels(images: pd.DataFrame, by: str) -> pd.Series:
    columns = GROUPINGS[by]
    if by == "model":
        return images["model"].astype(str)
    return pd.Series(
        [
            f"{m} · {s} · {st} steps · cfg {float(g):g}"
            for m, s, st, g in images[list(columns)].itertuples(index=False)
        ],
        index=images.index,
        dtype="object",
    )


def present(images: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """Those of `names` that are numeric columns with at least one value."""
    out = []
    for name in names:
        if name in images.columns:
            values = numeric_column(images[name])
            if values is not None and values.notna().any():
                out.append(name)
    return out


def rates(images: pd.DataFrame, metrics: Sequence[str], by: str = "model") -> pd.DataFrame:
    """group, metric, n (measured), k (value 1), rate = k / n, ci_low, ci_high."""
    labels = group_labels(images, by) if not images.empty else pd.Series(dtype="object")
    records = []
    for metric in present(images, metrics):
        values = numeric_column(images[metric])
        assert values is not None
        frame = pd.DataFrame({"group": labels, "v": values}).dropna(subset=["v"])
        agg = frame.groupby("group", sort=True)["v"].agg(["size", "sum"])
        for group, (n, k) in agg.iterrows():
            records.append({"group": group, "metric": metric, "n": int(n), "k": int(round(k))})
    out = pd.DataFrame(records, columns=["group", "metric", "n", "k"])
    n = out["n"].to_numpy(dtype=np.float64)
    k = out["k"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rate"] = k / n
    low, high = clopper_pearson(k, n, CONFIDENCE)
    out["ci_low"], out["ci_high"] = low, high
    return out


def attacks(images: pd.DataFrame) -> list[str]:
    """Attack names with a wm_detected_<attack> column, in the attack suite's order."""
    from audit.scorers.attacks import ATTACK_NAMES

    columns = present(images, [c for c in images.columns if str(c).startswith(WM_PREFIX)])
    found = [c[len(WM_PREFIX) :] for c in columns]
    known = [a for a in ATTACK_NAMES if a in found]
    return known + sorted(a for a in found if a not in ATTACK_NAMES)


def robustness(images: pd.DataFrame, by: str = "model") -> pd.DataFrame:
    """Watermark detection rate per group with no attack ('none', from wm_detected) and after
    each attack (wm_detected_<attack>): the curves of the Safety page."""
    names = ["wm_detected", *(f"{WM_PREFIX}{a}" for a in attacks(images))]
    out = rates(images, names, by)
    out["attack"] = [
        NO_ATTACK if m == "wm_detected" else m[len(WM_PREFIX) :] for m in out["metric"]
    ]
    order = {name: i for i, name in enumerate([NO_ATTACK, *attacks(images)])}
    out["order"] = out["attack"].map(order)
    return out.sort_values(["group", "order"], kind="stable").reset_index(drop=True)


def c2pa_states(images: pd.DataFrame, by: str = "model") -> pd.DataFrame:
    """group, state, count: C2PA validation states; 'unreadable' where no state was recorded
    for an image the c2pa scorer saw."""
    if "c2pa_state" not in images.columns or images.empty:
        return pd.DataFrame(columns=["group", "state", "count"])
    states = images["c2pa_state"].where(images["c2pa_state"].notna(), "unreadable").astype(str)
    frame = pd.DataFrame({"group": group_labels(images, by), "state": states})
    counts = frame.groupby(["group", "state"], sort=True).size().rename("count").reset_index()
    rank = {s: i for i, s in enumerate(C2PA_ORDER)}
    counts["order"] = counts["state"].map(lambda s: rank.get(s, len(rank)))
    counts = counts.sort_values(["group", "order"], kind="stable").drop(columns="order")
    return counts.reset_index(drop=True)

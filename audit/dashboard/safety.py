"""Safety and provenance figures: rates with exact intervals per group, watermark robustness
per attack, C2PA states.

The rates and state counts are `audit.stats.safety`'s, the same computation and missing-value
rule as the report's; this module only groups them by model or by cell and labels the groups.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from audit.dashboard.tables import cell_label
from audit.stats import safety as safety_stats
from audit.stats.columns import CELL

WM_PREFIX = "wm_detected_"
NO_ATTACK = "none"
GROUPINGS: dict[str, tuple[str, ...]] = {"model": ("model",), "cell": CELL}


def _labelled(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """`table`, grouped by GROUPINGS[by], with those columns replaced by one label, `group`."""
    columns = list(GROUPINGS[by])
    if by == "model":
        labels = table["model"].astype(str).tolist()
    else:
        labels = [cell_label(r) for r in table[columns].to_dict("records")]
    out = table.drop(columns=columns)
    out.insert(0, "group", labels)
    return out


def present(images: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """Those of `names` that are numeric columns with at least one value."""
    return safety_stats.measured(images, names)


def rates(images: pd.DataFrame, metrics: Sequence[str], by: str = "model") -> pd.DataFrame:
    """group, metric, n (measured), k (value 1), rate = k / n, ci_low, ci_high."""
    table = safety_stats.binary_rates(images, metrics, GROUPINGS[by])
    return _labelled(table, by)


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
    """group, state, count: C2PA validation states, a missing state counted as `unreadable`."""
    return _labelled(safety_stats.c2pa_states(images, GROUPINGS[by]), by)


def curves(images: pd.DataFrame, by: str = "model") -> pd.DataFrame:
    """group, prefix, family, strength, n, k, rate, ci_low, ci_high, bit_accuracy, psnr,
    ssim: robustness curves (detection against the PSNR each attack strength costs)."""
    table = safety_stats.robustness_curves(images, GROUPINGS[by])
    if table.empty:
        return pd.DataFrame(columns=["group", *safety_stats.CURVE_COLUMNS])
    return _labelled(table, by)

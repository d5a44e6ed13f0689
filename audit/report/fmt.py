"""Number formatting shared by the report and gate writers."""

from __future__ import annotations

import math
from typing import Any


def num(value: Any, digits: int = 4) -> str:
    """A number with `digits` significant digits; an en dash for missing values."""
    if value is None:
        return "–"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return f"{x:.{digits}g}"


def interval(low: Any, high: Any, digits: int = 4) -> str:
    if _missing(low) or _missing(high):
        return ""
    return f"[{num(low, digits)}, {num(high, digits)}]"


def estimate(mean: Any, low: Any, high: Any, digits: int = 4) -> str:
    """'0.512 [0.48, 0.54]' or just '0.512' when there is no interval."""
    ci = interval(low, high, digits)
    return f"{num(mean, digits)} {ci}".strip()


def pvalue(p: Any) -> str:
    if _missing(p):
        return "–"
    x = float(p)
    return "<0.0001" if x < 1e-4 else f"{x:.4f}"


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False

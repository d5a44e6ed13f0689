"""Which columns of an images frame are metrics, and of what kind and direction.

Statistics, report and gate all ask this one question the same way: a column is a metric
when it is numeric and not one of the frame's descriptive columns. Its kind and direction
come from the metric catalogue when the scorer is known, otherwise the kind is inferred
(binary when every value is 0 or 1) and the direction comes from the caller (a gate file)
or a short list of core columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from audit.vocab import CELL, DESCRIPTIVE, IMAGE_METRICS, SETTINGS

__all__ = ["CELL", "DESCRIPTIVE", "SETTINGS", "MetricInfo", "resolve_metrics"]

MetricKind = Literal["continuous", "binary"]
MetricDirection = Literal["higher", "lower", "none"]


class FramesLike(Protocol):
    """What statistics and reports need from `audit.store.frames.Frames` (read-only)."""

    @property
    def images(self) -> pd.DataFrame: ...

    @property
    def sets(self) -> pd.DataFrame: ...

    @property
    def catalog(self) -> Mapping[str, Any]: ...

    @property
    def run_info(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class MetricInfo:
    name: str
    kind: MetricKind
    direction: MetricDirection

    @property
    def sign(self) -> float:
        """+1 when higher is better, -1 when lower is better (0 when neither)."""
        return {"higher": 1.0, "lower": -1.0}.get(self.direction, 0.0)


def numeric_column(series: pd.Series) -> pd.Series | None:
    """The column as float64, or None when it is not numeric (e.g. ocr_text, c2pa_state)."""
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.astype("float64")
    if series.dtype == object:
        # SQLite gives object columns for numbers with gaps; all-None means "not measured".
        present = series.dropna()
        if all(isinstance(v, int | float | bool | np.number | np.bool_) for v in present):
            return pd.to_numeric(series, errors="coerce").astype("float64")
    return None


def is_binary(values: np.ndarray) -> bool:
    present = values[~np.isnan(values)]
    return bool(present.size) and bool(np.isin(present, (0.0, 1.0)).all())


def catalog_entry(catalog: Mapping[str, Any] | None, name: str) -> tuple[str, str] | None:
    """(kind, direction) for `name` from a catalogue of audit.vocab.Metric, if known."""
    metric = (catalog or {}).get(name) or IMAGE_METRICS.get(name)
    return (str(metric.kind), str(metric.direction)) if metric is not None else None


def resolve_metrics(
    images: pd.DataFrame,
    catalog: Mapping[str, Any] | None = None,
    directions: Mapping[str, str] | None = None,
) -> dict[str, MetricInfo]:
    """Metric columns of `images` in frame order, with resolved kind and direction.

    Category metrics and non-numeric columns are left out. `directions` (e.g. from a gate
    file) fills in the direction of metrics the catalogue does not know.
    """
    found: dict[str, MetricInfo] = {}
    for name in images.columns:
        if name in DESCRIPTIVE:
            continue
        column = numeric_column(images[name])
        if column is None:
            continue
        known = catalog_entry(catalog, name)
        if known is not None:
            kind, direction = known
            if kind == "category":
                continue
        else:
            kind = "binary" if is_binary(column.to_numpy()) else "continuous"
            direction = "none"
        if direction == "none" and directions and name in directions:
            direction = directions[name]
        found[name] = MetricInfo(name, kind, direction)  # type: ignore[arg-type]
    return found


def metric_matrix(images: pd.DataFrame, names: list[str]) -> np.ndarray:
    """(rows, metrics) float64 matrix; NaN where a metric does not apply."""
    if not names:
        return np.empty((len(images), 0))
    columns = []
    for name in names:
        column = numeric_column(images[name])
        if column is None:
            raise TypeError(f"column '{name}' is not numeric")
        columns.append(column.to_numpy())
    return np.column_stack(columns)

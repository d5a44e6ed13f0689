"""The shared vocabulary: what a metric, a cell, a pair, a frame column and a ledger row are.

This module sits at the bottom of the import graph: it imports nothing else from the package,
and every other part takes these names from here, so they are defined once. A second
definition anywhere else is a bug (the first build had four different "cells").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["higher", "lower", "none"]
Kind = Literal["continuous", "binary", "category"]
Value = float | str | None


@dataclass(frozen=True)
class Metric:
    """One named output column of a scorer, declared beside the scorer that emits it.

    Names are a public contract (export, gate files, dashboard). Direction is declared here
    and only here: gate files say which metrics gate and by what margin, never which way is
    better.
    """

    name: str
    direction: Direction
    kind: Kind = "continuous"
    description: str = ""

    def labelled(self, label: str | None) -> Metric:
        """The same metric as a labelled scorer instance emits it (`name@label`)."""
        if not label:
            return self
        return Metric(column_name(self.name, label), self.direction, self.kind, self.description)

    @property
    def sign(self) -> float:
        """+1 when higher is better, -1 when lower is better, 0 when neither."""
        return {"higher": 1.0, "lower": -1.0}.get(self.direction, 0.0)


LABEL_SEPARATOR = "@"
"""`clip_score@large`: '.' and '[' are field-path syntax in Vega-Lite, '@' is not."""


def column_name(metric: str, label: str | None) -> str:
    """The frame column of `metric` as emitted by the scorer instance labelled `label`."""
    return f"{metric}{LABEL_SEPARATOR}{label}" if label else metric


def split_column(column: str) -> tuple[str, str | None]:
    """Inverse of `column_name`: ('clip_score', 'large') for 'clip_score@large'."""
    metric, sep, label = column.partition(LABEL_SEPARATOR)
    return (metric, label) if sep else (metric, None)


# --- what groups images -------------------------------------------------------------------

CELL: tuple[str, ...] = ("model", "sampler", "steps", "guidance", "width", "height")
"""A sweep cell: one model and one setting of the sampler. Images in one cell differ only by
prompt and seed; set scorers (FID, KID) compute one value per cell."""

SETTINGS: tuple[str, ...] = ("sampler", "steps", "guidance")
"""What a baseline and a candidate must share to be compared (a cell without model and size:
two models may have different native resolutions)."""

PAIR_KEY: tuple[str, ...] = ("prompt_id", "seed", *SETTINGS)
"""Images of two runs with equal values here form a pair in the paired regression gate."""


# --- the images frame ---------------------------------------------------------------------

BASE_COLUMNS: tuple[str, ...] = (
    "key", "model", "sampler", "steps", "guidance", "seed", "prompt_id", "prompt", "category",
    "width", "height", "image_path", "gen_seconds", "peak_mem_mb", "nan_or_black", "safety_flag",
)  # fmt: skip
"""The documented columns of `t2i-audit export` before the metric columns, in order."""

EXTRA_COLUMNS: tuple[str, ...] = ("run", "suite", "source", "dtype", "negative", "origin")
"""Descriptive columns the frames carry beside BASE_COLUMNS (not exported)."""

IMAGE_METRICS: dict[str, Metric] = {
    # Written when the image is made, not by a scorer.
    "nan_or_black": Metric("nan_or_black", "lower", "binary", "image is all NaN or black"),
    "safety_flag": Metric(
        "safety_flag", "lower", "binary", "the pipeline's own safety checker flagged the image"
    ),
}
"""Metric columns of the images frame that come from generation itself."""

DESCRIPTIVE: frozenset[str] = frozenset(BASE_COLUMNS + EXTRA_COLUMNS) - frozenset(IMAGE_METRICS)
"""Columns of the images frame that describe an image rather than score it."""

SET_COLUMNS: tuple[str, ...] = (
    *CELL, "prompt_id", "scorer", "metric", "value", "text", "ci_low", "ci_high", "n", "label",
)  # fmt: skip
"""Columns of the set-scores frame: one row per (cell, prompt group, metric)."""

SetGrouping = Literal["cell", "cell_prompt"]


# --- the ledger's request row -------------------------------------------------------------

REQUEST_COLUMNS: tuple[str, ...] = (
    "key", "model", "source", "fingerprint", "dtype", "sampler", "steps", "guidance", "width",
    "height", "seed", "suite", "prompt_id", "prompt", "negative", "category", "expect_json",
)  # fmt: skip
"""One row of the ledger's `requests` table; every writer builds it with `request_row`."""


def request_row(**fields: object) -> dict[str, object]:
    """A ledger request row from exactly REQUEST_COLUMNS; a missing or extra field is a bug."""
    missing = [c for c in REQUEST_COLUMNS if c not in fields]
    extra = sorted(set(fields) - set(REQUEST_COLUMNS))
    if missing or extra:
        raise ValueError(f"request row: missing {missing}, unexpected {extra}")
    return {c: fields[c] for c in REQUEST_COLUMNS}

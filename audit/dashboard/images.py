"""The Images page's logic: failure filters, one prompt's grid of cells x seeds, a request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audit.stats.columns import CELL, DESCRIPTIVE, catalog_entry, numeric_column


@dataclass(frozen=True)
class Failure:
    label: str
    columns: tuple[str, ...]  # any of these present and equal to `bad` marks the failure
    bad: float
    help: str


FAILURES: tuple[Failure, ...] = (
    Failure(
        "wrong count",
        ("count_correct", "toy_count_correct"),
        0.0,
        "the counter did not find the asked number of objects",
    ),
    Failure("wrong text", ("ocr_exact",), 0.0, "OCR did not read exactly the quoted words"),
    Failure(
        "NSFW flag",
        ("nsfw_flag", "pipeline_safety_flag", "safety_flag"),
        1.0,
        "the NSFW classifier or the pipeline's safety checker flagged the image",
    ),
    Failure("missing watermark", ("wm_detected",), 0.0, "the invisible watermark was not found"),
    Failure("missing manifest", ("c2pa_present",), 0.0, "the file carries no C2PA manifest"),
    Failure("black image", ("nan_or_black",), 1.0, "the pipeline produced NaN or a black image"),
)
BY_LABEL = {f.label: f for f in FAILURES}
REQUEST_FIELDS = (
    "key", "model", "source", "dtype", "sampler", "steps", "guidance", "seed", "width",
    "height", "suite", "prompt_id", "category", "prompt", "negative", "origin", "gen_seconds",
    "peak_mem_mb",
)  # fmt: skip


def _numeric(images: pd.DataFrame, column: str) -> np.ndarray | None:
    if column not in images.columns:
        return None
    values = numeric_column(images[column])
    return None if values is None else values.to_numpy()


def available_failures(images: pd.DataFrame) -> list[str]:
    """Failure filters this run can answer (at least one of their metrics was measured)."""
    out = []
    for f in FAILURES:
        cols = [_numeric(images, c) for c in f.columns]
        if any(c is not None and not np.isnan(c).all() for c in cols):
            out.append(f.label)
    return out


def failing(images: pd.DataFrame, selected: Sequence[str]) -> pd.Series:
    """True for images that fail at least one of the `selected` checks (all True when none)."""
    if not selected:
        return pd.Series(True, index=images.index)
    mask = np.zeros(len(images), dtype=bool)
    for label in selected:
        failure = BY_LABEL[label]
        for column in failure.columns:
            values = _numeric(images, column)
            if values is not None:
                mask |= values == failure.bad
    return pd.Series(mask, index=images.index)


def failure_counts(images: pd.DataFrame) -> dict[str, int]:
    return {label: int(failing(images, [label]).sum()) for label in available_failures(images)}


def prompts(images: pd.DataFrame) -> pd.DataFrame:
    """prompt_id, prompt, category and image count, in prompt-id order."""
    if images.empty:
        return pd.DataFrame(columns=["prompt_id", "prompt", "category", "images"])
    grouped = images.groupby("prompt_id", sort=True).agg(
        prompt=("prompt", "first"), category=("category", "first"), images=("key", "size")
    )
    return grouped.reset_index()


def score_columns(images: pd.DataFrame, catalog: Mapping[str, Any] | None = None) -> list[str]:
    """Columns that score an image: metrics with a direction first (as the catalogue lists
    them), then the rest (flags, texts such as ocr_text or c2pa_state)."""
    names = [c for c in images.columns if c not in DESCRIPTIVE]

    def rank(name: str) -> int:
        entry = catalog_entry(catalog, name)
        return 0 if entry is not None and entry[1] in ("higher", "lower") else 1

    return sorted(names, key=rank)


@dataclass
class Grid:
    cells: list[tuple[Any, ...]]  # rows, in CELL order
    seeds: list[int]  # columns
    rows: dict[tuple[tuple[Any, ...], int], Mapping[str, Any]]  # (cell, seed) -> image row

    def at(self, cell: tuple[Any, ...], seed: int) -> Mapping[str, Any] | None:
        return self.rows.get((cell, seed))


def grid(images: pd.DataFrame, prompt_id: str) -> Grid:
    """One prompt's images laid out with cells as rows and seeds as columns."""
    picked = images[images["prompt_id"].astype(str) == str(prompt_id)]
    picked = picked.sort_values([*CELL, "seed"], kind="stable")
    cells = list(dict.fromkeys(tuple(r) for r in picked[list(CELL)].itertuples(index=False)))
    seeds = sorted(int(s) for s in picked["seed"].unique())
    rows: dict[tuple[tuple[Any, ...], int], Mapping[str, Any]] = {}
    for record in picked.to_dict("records"):
        cell = tuple(record[c] for c in CELL)
        rows.setdefault((cell, int(record["seed"])), record)
    return Grid(cells, seeds, rows)


def score_lines(row: Mapping[str, Any], columns: Sequence[str], limit: int = 8) -> list[str]:
    """`name value` for the image's scores, skipping those it has none for."""
    out = []
    for name in columns:
        value = row.get(name)
        if value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        if isinstance(value, bool | np.bool_):
            text = str(int(value))
        elif isinstance(value, float | np.floating):
            text = f"{value:.4g}"
        else:
            text = str(value)[:40]
        out.append(f"{name} {text}")
        if len(out) >= limit:
            break
    return out


def request_of(row: Mapping[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    """The request that made the image, then its scores, as plain JSON-able values."""

    def plain(value: Any) -> Any:
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and np.isnan(value):
            return None
        return value

    request = {f: plain(row.get(f)) for f in REQUEST_FIELDS if f in row}
    scores = {c: plain(row.get(c)) for c in columns if plain(row.get(c)) is not None}
    return {"request": request, "scores": scores}

"""Exports carry their metric declarations, so a baseline file is gated like a run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from audit.store.frames import Frames, load_export, write_export
from audit.vocab import BASE_COLUMNS, Metric


def _frames() -> Frames:
    row = {c: 0 for c in BASE_COLUMNS} | {"key": "k1", "model": "m", "prompt": "p"}
    images = pd.DataFrame([row | {"brisque": 40.0, "wm_detected@wm2": 1.0}])
    catalog = {
        "brisque": Metric("brisque", "lower", description="BRISQUE"),
        "wm_detected@wm2": Metric("wm_detected@wm2", "higher", "binary"),
        "not_exported": Metric("not_exported", "higher"),
    }
    return Frames(images, pd.DataFrame(), catalog)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_round_trips_values_and_declarations(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"scores.{fmt}"
    table = write_export(_frames(), path, fmt)
    assert tuple(table.columns) == (*BASE_COLUMNS, "brisque", "wm_detected@wm2")
    loaded = load_export(path)
    assert loaded.images["brisque"].tolist() == [40.0]
    assert set(loaded.catalog) == {"brisque", "wm_detected@wm2"}
    assert loaded.catalog["brisque"].direction == "lower"
    assert loaded.catalog["wm_detected@wm2"].kind == "binary"


def test_an_export_without_declarations_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "hand.csv"
    pd.DataFrame({"key": ["a"], "model": ["m"], "prompt_id": ["p"], "seed": [0]}).to_csv(path)
    assert load_export(path).catalog == {}

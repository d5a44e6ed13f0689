"""`t2i-audit toyworld validate-metrics` at tiny sizes: it runs offline end to end, prints
its three tables and writes JSON naming every metric with numbers where numbers belong."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from audit.cli import main
from audit.toyworld.validate_metrics import LADDERS, distort, expectations, family

pytestmark = pytest.mark.slow


def test_tiny_run_writes_the_tables_and_the_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "metrics.json"
    args = ["toyworld", "validate-metrics", "--n-reference", "40", "--n-ladder", "16"]
    args += ["--seeds", "1", "--prompts", "4", "--steps", "2", "--sizes", "10,20"]
    args += ["--bootstrap", "3", "--extractors", "toyclip", "--json", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "(a) Spearman rho" in printed and "(c) value against sample size" in printed

    result = json.loads(out.read_text())
    assert result["config"]["features"] == ["toyclip"]
    names = {m["metric"]: m for m in result["metrics"]}
    assert {"fd_toyclip", "kid_toyclip_mean", "cmmd_toyclip", "clip_score", "toy_score"} <= set(
        names
    )
    assert names["cmmd_toyclip"]["family"] == "cmmd" and names["fd_toyclip"]["family"] == "fd"
    assert names["clip_score"]["direction"] == "higher"

    ladders = result["ladders"]
    assert {(r["metric"], r["ladder"]) for r in ladders} == {(m, k) for m in names for k in LADDERS}
    for row in ladders:
        assert len(row["values"]) == 5 and isinstance(row["spearman"], float)
        if row["family"] != "alignment":
            assert -1.0 <= row["spearman"] <= 1.0  # a set metric always has a finite rho
    ranking = {r["metric"]: r for r in result["ranking"]}
    assert set(ranking) == set(names)
    for row in ranking.values():
        assert row["n"] == 4 and len(row["advantage_ci"]) == 2
        assert isinstance(row["ranks_toy_shapes_above_weak"], bool)
    sizes = {(r["set"], r["metric"], r["n"]) for r in result["sample_size"]}
    assert ("noise sigma 16", "fd_toyclip", 10) in sizes and (
        "noise sigma 16",
        "cmmd_toyclip",
        20,
    ) in sizes
    assert all(math.isfinite(r["value"]) for r in result["sample_size"])


def test_bad_sizes_are_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["toyworld", "validate-metrics", "--sizes", "300,100"]) == 2
    assert "--sizes" in capsys.readouterr().err


def test_distortions_grow_with_their_level_and_scenes_have_expectations() -> None:
    from audit.toyworld.world import dataset, render

    scenes = dataset(5, 6)
    image = Image.fromarray(render(scenes[0]))
    base = np.asarray(image, dtype=np.float64)
    rng = np.random.default_rng(0)
    for ladder, levels in LADDERS.items():
        change = [
            np.abs(np.asarray(distort(image, ladder, lv, rng), np.float64) - base).mean()
            for lv in levels
        ]
        assert change == sorted(change) and change[0] > 0, (ladder, change)
    kinds = {s.kind: expectations(s) for s in scenes}
    assert all(bool(e.objects) == (k != "glyph") for k, e in kinds.items())
    assert family("fid") == family("fd_dinov2") == "fd" and family("kid_clip_mean") == "kid"

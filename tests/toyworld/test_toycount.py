"""toycount: pixel-exact GenEval-style checks, judged against drawn scenes of known truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from audit.prompts.model import Expectations, ObjectExpectation
from audit.scorers.base import ScoreItem
from audit.scorers.registry import default_registry
from audit.toyworld import world
from audit.toyworld.toycount import ToyCountScorer


def _count(n: int, color: str, shape: str) -> Expectations:
    return Expectations(
        objects=(ObjectExpectation(name=shape, count=n, color=color),),
        exclude=(ObjectExpectation(name=shape, count=n + 1),),
    )


def _pair(a: tuple[str, str], relation: str, b: tuple[str, str]) -> Expectations:
    """GenEval order: the target first, then the subject with position [relation, 0]."""
    return Expectations(
        objects=(
            ObjectExpectation(name=b[1], color=b[0]),
            ObjectExpectation(name=a[1], color=a[0], position=(relation, 0)),  # type: ignore[arg-type]
        )
    )


RNG = np.random.default_rng(0)
scorer = ToyCountScorer()


def test_truth_scores_perfectly() -> None:
    for n in range(1, 5):
        img = world.render(world.sample_count(RNG, n, "purple", "triangle"))
        row = scorer.score_one(img, _count(n, "purple", "triangle"))
        assert row == {
            "toy_count_correct": 1.0,
            "toy_color_correct": 1.0,
            "toy_position_correct": None,
            "toy_shape_correct": 1.0,
            "toy_score": 1.0,
        }


def test_wrong_count_fails_only_the_count() -> None:
    img = world.render(world.sample_count(RNG, 2, "red", "circle"))
    row = scorer.score_one(img, _count(3, "red", "circle"))
    assert row["toy_count_correct"] == 0.0 and row["toy_score"] == 0.0
    assert row["toy_shape_correct"] == 1.0
    row = scorer.score_one(img, _count(1, "red", "circle"))  # too many: the exclude bites
    assert row["toy_count_correct"] == 0.0


def test_wrong_colour_and_wrong_shape() -> None:
    img = world.render(world.sample_count(RNG, 2, "blue", "square"))
    row = scorer.score_one(img, _count(2, "yellow", "square"))
    assert row["toy_color_correct"] == 0.0 and row["toy_count_correct"] == 1.0
    row = scorer.score_one(img, _count(2, "blue", "circle"))
    assert row["toy_shape_correct"] == 0.0 and row["toy_score"] == 0.0


@pytest.mark.parametrize("relation", world.RELATIONS)
def test_position_each_relation(relation: str) -> None:
    scene = world.sample_pair(RNG, ("red", "circle"), relation, ("green", "square"))
    img = world.render(scene)
    good = scorer.score_one(img, _pair(("red", "circle"), relation, ("green", "square")))
    assert good["toy_position_correct"] == 1.0 and good["toy_score"] == 1.0
    inverse = world.INVERSE[relation]
    bad = scorer.score_one(img, _pair(("red", "circle"), inverse, ("green", "square")))
    assert bad["toy_position_correct"] == 0.0 and bad["toy_score"] == 0.0


def test_text_only_prompt_is_not_applicable() -> None:
    img = world.render(world.sample_glyph(RNG, "AB"))
    row = scorer.score_one(img, Expectations(text=("AB",)))
    assert set(row.values()) == {None}


def test_blank_image_finds_nothing() -> None:
    img = np.full((64, 64, 3), 240, np.uint8)
    row = scorer.score_one(img, _count(2, "red", "circle"))
    assert row["toy_count_correct"] == 0.0 and row["toy_shape_correct"] == 0.0


def test_score_batch_reads_png_files(tmp_path: Path) -> None:
    items = []
    for i, n in enumerate([1, 3]):
        path = tmp_path / f"{i}.png"
        Image.fromarray(world.render(world.sample_count(RNG, n, "green", "circle"))).save(path)
        items.append(ScoreItem(f"k{i}", path, "x", f"p{i}", _count(3, "green", "circle")))
    rows = scorer.score_batch(items)
    assert [r["toy_count_correct"] for r in rows] == [0.0, 1.0]
    assert {m.name for m in scorer.metrics()} == set(rows[0])


def test_registered_and_runnable() -> None:
    # Registered by its entry point (pyproject.toml), as a plugin's scorer would be.
    reg = default_registry()
    assert reg.get("toycount") is ToyCountScorer
    assert all(r.ok for r in ToyCountScorer.check())


def test_toy_suite_expectations_match_rendered_truth() -> None:
    """Every shape prompt of prompts/toy.yaml scores 1.0 on a render of its own truth."""
    from audit.prompts.loader import load_suite

    suite = load_suite("toy", ".")
    assert 24 <= len(suite.prompts) <= 40
    for prompt in suite.prompts:
        objs = prompt.expect.objects
        if not objs:
            assert prompt.category == "text" and prompt.expect.text
            continue
        if len(objs) == 1:
            o = objs[0]
            scene = world.sample_count(RNG, o.count or 1, o.color or "red", o.name)
        else:
            target, subject = objs
            assert subject.position is not None
            scene = world.sample_pair(
                RNG, (subject.color, subject.name), subject.position[0], (target.color, target.name)
            )
        row = scorer.score_one(world.render(scene), prompt.expect)
        assert row["toy_score"] == 1.0, prompt.id

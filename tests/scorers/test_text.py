"""Text-rendering scorer: MARIO-Eval metrics (pure) and RapidOCR on rendered words."""

from __future__ import annotations

import copy
import random
from functools import cache
from pathlib import Path

import pytest

from audit.prompts.model import Expectations
from audit.scorers.base import ScoreItem, missing
from audit.scorers.ocr_metrics import levenshtein, normalised_edit_distance, ocr_metrics, words
from audit.scorers.text import TextOptions, TextScorer, _upscaled

WORDS = [
    "apple",
    "river",
    "stone",
    "cloud",
    "garden",
    "yellow",
    "market",
    "pencil",
    "window",
    "silver",
    "orange",
    "forest",
    "candle",
    "rocket",
    "planet",
    "summer",
    "bridge",
    "castle",
    "dragon",
    "tiger",
]


# --- pure metrics against hand-computed values ---------------------------------------------


def test_precision_recall_f1_by_hand() -> None:
    m = ocr_metrics(["Hello", "world", "foo"], ["hello", "World"])
    assert m.precision == pytest.approx(2 / 3)
    assert m.recall == pytest.approx(1.0)
    assert m.f1 == pytest.approx(0.8)  # 2 * (2/3) * 1 / (2/3 + 1)
    assert not m.exact
    # "foohelloworld" vs "helloworld": delete "foo"
    assert m.ned == pytest.approx(3 / 13)


def test_words_are_a_multiset() -> None:
    m = ocr_metrics(["the", "the", "the"], ["the", "cat"])
    assert m.precision == pytest.approx(1 / 3)  # one "the" matches, two are extra
    assert m.recall == pytest.approx(1 / 2)
    assert m.f1 == pytest.approx(0.4)
    assert not m.exact


def test_exact_ignores_order_and_case() -> None:
    m = ocr_metrics(["WORLD", "hello"], ["hello", "world"])
    assert (m.precision, m.recall, m.f1, m.exact, m.ned) == (1.0, 1.0, 1.0, True, 0.0)


def test_exact_is_marios_concatenation() -> None:
    # MARIO compares ''.join(sorted(words)): a different word split can still be "exact".
    m = ocr_metrics(["ab", "c"], ["a", "bc"])
    assert m.exact and m.ned == 0.0
    assert m.precision == 0.0 and m.recall == 0.0 and m.f1 == 0.0


def test_nothing_read() -> None:
    m = ocr_metrics([], ["stop"])
    assert (m.precision, m.recall, m.f1, m.exact, m.ned) == (0.0, 0.0, 0.0, False, 1.0)


def test_empty_target_is_refused() -> None:
    with pytest.raises(ValueError):
        ocr_metrics(["x"], [" "])


def test_words_split_lines_and_phrases() -> None:
    assert words(["Hello  World", "x", ""]) == ["hello", "world", "x"]


def test_edit_distance_by_hand() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3
    assert levenshtein("flaw", "lawn") == 2
    assert normalised_edit_distance("kitten", "sitting") == pytest.approx(3 / 7)
    assert normalised_edit_distance("", "") == 0.0


def _mario_reference(pred: list[str], gt: list[str]) -> tuple[float, float, int]:
    """TextDiffuser's get_p_r_acc, restated: list removal and 1e-8 denominators."""
    pred = [p.strip().lower() for p in pred]
    gt = [g.strip().lower() for g in gt]
    pred_left, gt_left = copy.deepcopy(pred), copy.deepcopy(gt)
    for p in pred:
        if p in gt_left:
            pred_left.remove(p)
            gt_left.remove(p)
    precision = (len(pred) - len(pred_left)) / (len(pred) + 1e-8)
    recall = (len(gt) - len(gt_left)) / (len(gt) + 1e-8)
    return precision, recall, int("".join(sorted(pred)) == "".join(sorted(gt)))


@cache
def _distance_reference(a: str, b: str) -> int:
    if not a or not b:
        return len(a) + len(b)
    return min(
        _distance_reference(a[1:], b) + 1,
        _distance_reference(a, b[1:]) + 1,
        _distance_reference(a[1:], b[1:]) + (a[0] != b[0]),
    )


def test_matches_mario_reference_on_random_lists() -> None:
    rng = random.Random(0)
    vocab = ["a", "B", "cat", "Cat", "dog", "ab", "c"]
    for _ in range(300):
        pred = [rng.choice(vocab) for _ in range(rng.randint(0, 5))]
        gt = [rng.choice(vocab) for _ in range(rng.randint(1, 4))]
        m = ocr_metrics(pred, gt)
        p, r, acc = _mario_reference(pred, gt)
        assert m.precision == pytest.approx(p, abs=1e-6)
        assert m.recall == pytest.approx(r, abs=1e-6)
        assert m.exact == bool(acc)
        a, b = "".join(sorted(w.lower() for w in pred)), "".join(sorted(w.lower() for w in gt))
        assert levenshtein(a, b) == _distance_reference(a, b)
        assert (m.ned == 0.0) == m.exact


# --- the scorer with the real OCR engine -----------------------------------------------------


def _render(word: str, path: Path) -> Path:
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (64, 64), "white")
    font = ImageFont.load_default(size=14)  # scalable in Pillow >= 10.1
    ImageDraw.Draw(img).text((32, 32), word, fill="black", font=font, anchor="mm")
    img.save(path)
    return path


def _item(path: Path, targets: tuple[str, ...], key: str) -> ScoreItem:
    return ScoreItem(
        key=key,
        image_path=path,
        prompt_text=f"a sign that says '{' '.join(targets)}'",
        prompt_id=key,
        expect=Expectations(text=targets),
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("words")
    return [_render(w, root / f"{w}.png") for w in WORDS]


@pytest.fixture(scope="module")
def scorer() -> TextScorer:
    return TextScorer(TextOptions(threads=1))  # CI machines are small and shared


def test_check_passes_here() -> None:
    assert missing(TextScorer.check()) == []


def test_upscale_keeps_aspect_and_skips_large_images() -> None:
    from PIL import Image

    small = Image.new("RGB", (64, 32))
    assert _upscaled(small, 256).size == (512, 256)
    assert _upscaled(small, 0) is small
    assert _upscaled(small, 32) is small


@pytest.mark.slow
def test_reads_rendered_words(scorer: TextScorer, rendered: list[Path]) -> None:
    items = [_item(p, (w,), w) for w, p in zip(WORDS, rendered, strict=True)]
    rows = scorer.score_batch(items)
    assert {k for row in rows for k in row} == {m.name for m in scorer.metrics()}
    exact = [row["ocr_exact"] for row in rows]
    assert all(isinstance(v, float) for v in exact)
    mean_exact = sum(v for v in exact if isinstance(v, float)) / len(exact)
    assert mean_exact >= 0.9, [row["ocr_text"] for row in rows]
    for row in rows:
        assert row["ocr_exact"] in (0.0, 1.0)
        assert row["ocr_exact"] == float(row["ocr_ned"] == 0.0)


@pytest.mark.slow
def test_wrong_targets_score_zero(scorer: TextScorer, rendered: list[Path]) -> None:
    # Each image is judged against the next image's word.
    wrong = WORDS[1:] + WORDS[:1]
    items = [_item(p, (w,), f"wrong-{w}") for w, p in zip(wrong, rendered, strict=True)]
    rows = scorer.score_batch(items)
    assert [row["ocr_exact"] for row in rows] == [0.0] * len(WORDS)
    assert [row["ocr_recall"] for row in rows] == [0.0] * len(WORDS)
    assert all(isinstance(row["ocr_ned"], float) and row["ocr_ned"] > 0.3 for row in rows)


def test_untargeted_items(scorer: TextScorer, rendered: list[Path]) -> None:
    item = ScoreItem("k", rendered[0], "an apple", "p", Expectations())
    (row,) = scorer.score_batch([item])
    assert isinstance(row["ocr_text"], str) and row["ocr_text"].lower() == WORDS[0]
    assert all(row[k] is None for k in ("ocr_precision", "ocr_recall", "ocr_f1", "ocr_exact"))
    assert row["ocr_ned"] is None

    skipping = TextScorer(TextOptions(read_untargeted=False))
    (row,) = skipping.score_batch([item])
    assert set(row.values()) == {None}
    assert skipping._ocr is None  # the engine was never needed


def test_options_are_validated() -> None:
    from audit.errors import UserError

    with pytest.raises(UserError, match="scorers.text.upscale"):
        TextScorer.parse_options({"upscale": -1})
    with pytest.raises(UserError, match="scorers.text.min_conf"):
        TextScorer.parse_options({"min_conf": 0.3})

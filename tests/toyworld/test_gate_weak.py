"""The reference world demonstrates a regression: the weak checkpoint fails the gate on
counting, and the trained model passes against itself. Runs the real harness and CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from audit.cli import main
from audit.prompts import load_suite

pytestmark = pytest.mark.slow


def test_weak_model_fails_gate_on_counting(tmp_path: Path) -> None:
    counting = [p for p in load_suite("toy", tmp_path).prompts if p.category == "counting"]
    suite = {
        "name": "toy-counting",
        "prompts": [p.model_dump(mode="json", exclude_defaults=True) for p in counting],
    }
    (tmp_path / "counting.yaml").write_text(yaml.safe_dump(suite))
    spec = {
        "name": "toy-gate",
        "models": [
            {"id": "toy", "source": "builtin:toy-shapes"},
            {"id": "weak", "source": "builtin:toy-shapes-weak"},
        ],
        "samplers": ["ddim"],
        "steps": [25],
        "guidance": [3.0],
        "seeds": [0, 1],
        "suites": ["counting.yaml"],
        "size": 64,
        "batch_size": 24,
        "scorers": ["toycount"],
        "timing": False,  # speed is not what this gate is about
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert main(["run", str(tmp_path / "spec.yaml"), "--out", str(tmp_path), "--quiet"]) == 0
    run = str(tmp_path / "toy-gate")
    gate = tmp_path / "gate.yaml"
    gate.write_text(
        "alpha: 0.05\nmin_pairs: 10\nmetrics:\n"
        "  - {name: toy_count_correct, direction: higher, margin: 0.05}\n"
    )
    junit = tmp_path / "gate.xml"
    args = ["gate", run, run, "--gate", str(gate), "--baseline-model", "toy"]
    assert main([*args, "--candidate-model", "weak", "--junit", str(junit)]) == 1
    assert "toy_count_correct" in junit.read_text() and "<failure" in junit.read_text()
    assert main([*args, "--candidate-model", "toy"]) == 0

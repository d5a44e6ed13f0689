"""The `python -m` entry points are thin wrappers over parsers in audit/cli/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import audit.toyworld.train
from audit.cli.bench import gpu_check_main
from audit.cli.toyworld import train_main, validate_main


@pytest.mark.parametrize(
    "module", ["audit.toyworld.train", "audit.toyworld.validate", "audit.bench.gpu_check"]
)
def test_python_m_runs_the_cli_parser(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: python -m {module} [-h] [--debug]")


def test_validate_script_refuses_a_bad_sampler_before_any_work(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert validate_main(["--sampler", "eulr"]) == 2
    err = capsys.readouterr().err
    assert "unknown sampler 'eulr'" in err and "--sampler" in err and "Traceback" not in err


def test_train_script_passes_plain_options_and_records_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = {}

    def fake_train(options: audit.toyworld.train.TrainOptions, command: str) -> dict:  # type: ignore[type-arg]
        seen["options"], seen["command"] = options, command
        return {}

    monkeypatch.setattr(audit.toyworld.train, "train", fake_train)
    argv = ["--config", "tiny", "--out", str(tmp_path), "--stages", "vae, unet", "--seed", "3"]
    assert train_main(argv) == 0
    options = seen["options"]
    assert (options.config, options.out, options.seed) == ("tiny", tmp_path, 3)
    assert list(options.stages) == ["vae", "unet"] and options.resume is None
    assert seen["command"] == "python -m audit.toyworld.train " + " ".join(argv)


def test_gpu_script_without_cuda_says_so(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = tmp_path / "gpu.txt"
    assert gpu_check_main(["--out", str(out)]) == 2
    assert "no CUDA device" in out.read_text() and f"torch {torch.__version__}" in out.read_text()

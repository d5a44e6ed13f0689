"""Shared fixtures: no network, one cache of built-in models for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Score in one process unless a test asks for workers: starting two spawn workers costs
# seconds per command, and the pool's own tests pass --workers explicitly.
os.environ.setdefault("T2I_AUDIT_WORKERS", "1")

SMOKE_PROMPTS = "a red cube on a table\na sign that says 'OPEN'\ntwo dogs in a park\n"

SMOKE_SPEC = """\
name: smoke
models:
  - id: tiny
    source: builtin:tiny-random-sd
    dtype: float32
samplers: [ddim, euler]
steps: [2, 4]
guidance: [1.0, 5.0]
seeds: [0, 1]
suites: [prompts.txt]
size: 64
batch_size: 4
negative_prompt: ""
scorers: []
"""


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built-in random models are built once per test session, outside the user's cache."""
    cache = Path(os.environ.get("T2I_AUDIT_TEST_CACHE") or tmp_path_factory.mktemp("model-cache"))
    os.environ["T2I_AUDIT_CACHE"] = str(cache)
    return cache


def write_smoke_spec(folder: Path, **replace: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prompts.txt").write_text(SMOKE_PROMPTS)
    text = SMOKE_SPEC
    for old, new in replace.items():
        text = text.replace(old, new)
    spec = folder / "smoke.yaml"
    spec.write_text(text)
    return spec


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue's smoke sweep (48 images), generated once; tests copy it before changing it."""
    from audit.cli import main

    folder = tmp_path_factory.mktemp("smoke")
    spec = write_smoke_spec(folder)
    assert main(["run", str(spec), "--out", str(folder / "out"), "--quiet"]) == 0
    return folder / "out" / "smoke"

"""`score` on an ingested run of 12 images with every offline scorer; a second pass is a no-op."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from audit.cli import main
from audit.scorers.registry import default_registry

pytestmark = pytest.mark.slow


def test_score_ingested_run_then_nothing_new(
    smoke_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "external"
    src.mkdir()
    lines = []
    # 12 images: 4 per prompt, enough for every scorer (OCR alone takes ~0.7 s an image).
    for i, png in enumerate(sorted((smoke_run / "images").rglob("*.png"))[:12]):
        shutil.copy(png, src / f"{i:03d}.png")
        prompt = ["a red cube", "a sign that says 'OPEN'", "two dogs"][i % 3]
        lines.append(json.dumps({"file": f"{i:03d}.png", "prompt": prompt, "seed": i // 3}))
    (src / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    assert main(["ingest", str(src), "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()

    assert main(["score", str(run), "--quiet"]) == 0
    first = capsys.readouterr().out
    registry = default_registry()
    offline = [n for n in registry.names() if registry.get(n).offline]
    by_default = [n for n in offline if registry.get(n).by_default]
    assert "treering" in offline and "treering" not in by_default  # it needs the run's key
    for name in by_default:
        assert f"{name}: " in first, f"{name} neither scored nor explained:\n{first}"
    assert "text: scored 12" in first and "nsfw: scored 12" in first

    assert main(["score", str(run), "--quiet"]) == 0
    second = capsys.readouterr().out
    for line in second.strip().splitlines():
        assert "scored 0 (nothing new)" in line or "skipped" in line, line

    out = tmp_path / "scores.csv"
    assert main(["export", str(run), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert len(table) == 12
    for column in ("brisque", "nsfw_score", "ocr_exact", "c2pa_present"):
        assert column in table.columns
    assert table["ocr_exact"].notna().sum() == 4  # only prompts with quoted text are judged

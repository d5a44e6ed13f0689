"""End to end: a smoke run's reports, and the gate on ingested runs with OCR scores."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from audit.cli import main

WORDS = [
    "OPEN", "CAFE", "SALE", "EXIT", "STOP", "BOOK", "TAXI", "HOTEL", "PARK", "BANK",
    "MILK", "FISH", "GOLD", "RAIN", "TOYS", "WIND", "LAMP", "DOOR", "ROAD", "SHOP",
]  # fmt: skip
WRONG = {w: w[::-1] for w in WORDS}  # the candidate renders every word backwards


def test_report_on_smoke_run_writes_md_html_json(smoke_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "smoke"
    shutil.copytree(smoke_run, run)
    assert main(["score", str(run), "--scorers", "efficiency,quality", "--quiet"]) == 0
    for fmt in ("md", "html", "json"):
        out = tmp_path / f"report.{fmt}"
        assert main(["report", str(run), "--format", fmt, "--out", str(out)]) == 0
        assert out.stat().st_size > 500
    data = json.loads((tmp_path / "report.json").read_text())
    assert "brisque" in json.dumps(data)
    html = (tmp_path / "report.html").read_text()
    assert "<img" in html and "http://" not in html.replace("http://www.w3.org", "")

    from tests.browser import CHROMIUM
    from tests.report.test_html_browser import _load

    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    dom, console = _load(tmp_path / "report.html", tmp_path / "profile")
    assert console == [], console
    assert "brisque" in dom


def _ingest_dir(folder: Path, words: dict[str, str]) -> Path:
    """One 64 px image per target word, drawn with `words[target]` (the text actually shown)."""
    folder.mkdir(parents=True)
    font = ImageFont.load_default(size=14)
    lines = []
    for i, (target, shown) in enumerate(words.items()):
        img = Image.new("RGB", (64, 64), "white")
        ImageDraw.Draw(img).text((32, 32), shown, fill="black", font=font, anchor="mm")
        img.save(folder / f"{i:02d}.png")
        row = {"file": f"{i:02d}.png", "prompt": f"a sign that says '{target}'",
               "prompt_id": f"sign-{i:02d}", "seed": 0, "model": folder.name}  # fmt: skip
        lines.append(json.dumps(row))
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.slow
def test_gate_fails_on_wrong_words_and_passes_against_itself(tmp_path: Path) -> None:
    runs = {}
    for name, words in (("base", {w: w for w in WORDS}), ("cand", WRONG)):
        src = _ingest_dir(tmp_path / name, words)
        runs[name] = tmp_path / f"run-{name}"
        assert main(["ingest", str(src), "--out", str(runs[name]), "--quiet"]) == 0
        assert main(["score", str(runs[name]), "--scorers", "text", "--quiet"]) == 0
    gate = tmp_path / "gate.yaml"
    gate.write_text(
        "alpha: 0.05\nmin_pairs: 10\nmetrics:\n"
        "  - {name: ocr_exact, margin: 0.05}\n"  # the text scorer declares the directions
        "  - {name: ocr_f1, margin: 0.05}\n"
    )
    junit = tmp_path / "gate.xml"
    md = tmp_path / "gate.md"
    args = ["gate", str(runs["base"]), str(runs["cand"]), "--gate", str(gate)]
    assert main([*args, "--junit", str(junit), "--markdown", str(md)]) == 1
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert "ocr_exact" in cases and cases["ocr_exact"].find("failure") is not None
    assert "regressed" in md.read_text()
    # The baseline against itself passes.
    same = ["gate", str(runs["base"]), str(runs["base"]), "--gate", str(gate)]
    assert main([*same, "--junit", str(tmp_path / "same.xml")]) == 0
    same_cases = list(ET.parse(tmp_path / "same.xml").getroot().iter("testcase"))
    assert same_cases and all(c.find("failure") is None for c in same_cases)


def test_gate_with_no_pairs_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _ingest_dir(tmp_path / "a", {w: w for w in WORDS[:3]})
    assert main(["ingest", str(a), "--out", str(tmp_path / "ra"), "--quiet"]) == 0
    gate = tmp_path / "gate.yaml"
    gate.write_text("metrics:\n  - {name: not_a_metric, direction: higher, margin: 0}\n")
    assert main(["gate", str(tmp_path / "ra"), str(tmp_path / "ra"), "--gate", str(gate)]) == 2
    assert "not_a_metric" in capsys.readouterr().err

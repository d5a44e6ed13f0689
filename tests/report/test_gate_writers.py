"""JUnit XML and Markdown written from a gate result."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

from audit.report.gate_markdown import gate_markdown, write_gate_markdown
from audit.report.junit import write_junit
from audit.stats.gate import DEFAULT_GATE_PATH, GateResult, load_gate_config, run_gate
from tests.synthetic import synthetic_frames


def _result(quality: float) -> GateResult:
    both = synthetic_frames(
        models=("base", "cand"), n_prompts=30, seeds=(0, 1, 2), quality={"cand": quality}
    )

    def only(model: str):  # type: ignore[no-untyped-def]
        return dataclasses.replace(
            both,
            images=both.images[both.images["model"] == model].reset_index(drop=True),
            sets=both.sets[both.sets["model"] == model].reset_index(drop=True),
        )

    return run_gate(only("base"), only("cand"), load_gate_config(DEFAULT_GATE_PATH))


def test_junit_is_well_formed_and_counts_agree(tmp_path: Path) -> None:
    result = _result(quality=-2.0)
    path = write_junit(result, tmp_path / "out" / "gate.xml")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [v.name for v in result.verdicts]
    assert all(c.get("classname") and c.get("time") == "0" for c in cases)
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    skipped = {c.get("name") for c in cases if c.find("skipped") is not None}
    assert failed == {v.name for v in result.regressed} and "clip_score" in failed
    assert skipped == {v.name for v in result.verdicts if v.verdict == "skipped"}
    for element in (root, suite):
        assert element.get("tests") == str(len(cases))
        assert element.get("failures") == str(len(failed))
        assert element.get("skipped") == str(len(skipped))
        assert element.get("errors") == "0"
    failure = next(c for c in cases if c.get("name") == "clip_score").find("failure")
    assert failure is not None and "regressed" in (failure.get("message") or "")
    assert failure.get("type") == "regression" and "baseline mean" in (failure.text or "")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["exit_code"] == "1" and props["baseline"] == "base"


def test_junit_without_regressions_has_no_failures(tmp_path: Path) -> None:
    root = ET.parse(write_junit(_result(quality=0.0), tmp_path / "gate.xml")).getroot()
    assert root.get("failures") == "0" and not list(root.iter("failure"))


def test_markdown_summary(tmp_path: Path) -> None:
    result = _result(quality=-2.0)
    text = gate_markdown(result)
    assert text.startswith("## t2i-audit gate: ❌")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == len(result.verdicts)
    clip = next(r for r in rows if r.startswith("| `clip_score`"))
    assert "regressed" in clip
    assert all(len(r.split("|")) == len(rows[0].split("|")) for r in rows)
    ok = gate_markdown(_result(quality=0.0))
    assert ok.startswith("## t2i-audit gate: ✅ no metric regressed")
    written = write_gate_markdown(result, tmp_path / "summary.md")
    assert written.read_text(encoding="utf-8") == text


def test_markdown_arrows_follow_the_declared_directions() -> None:
    result = _result(quality=0.0)
    rows = {
        line.split("`")[1]: line for line in gate_markdown(result).splitlines() if "| `" in line
    }
    assert rows["clip_score"].startswith("| `clip_score` ↑ |")
    assert rows["brisque"].startswith("| `brisque` ↓ |")
    # Skipped and declared by neither run: no arrow rather than a guess.
    assert rows["toy_count_correct"].startswith("| `toy_count_correct` | ➖ skipped")

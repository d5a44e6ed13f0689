"""Which format a prompt file is read in: DrawBench's two headers, formats named in a spec,
T2I-CompBench file names, and the note a run gives when it picked the format itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.config import load_spec, parse_spec
from audit.errors import UserError
from audit.prompts import SuiteRef, format_note, load_suite, sniff_format, suite_formats

# DrawBench's 21 Text prompts as the widely shared 200-row CSV spells them (header
# `Prompt,Category`); the quoted phrase is the text to render.
TEXT_PHRASES = [
    "Hello World",
    "Diffusion",
    "Text to Image",
    "NeurIPS",
    "Deep Learning",
    "Google Brain Toronto",
    "Google Research Pizza Cafe",
]
TEXT_PROMPTS = (
    [f"A storefront with '{t}' written on it." for t in TEXT_PHRASES]
    + [f"A sign that says '{t}'." for t in TEXT_PHRASES]
    + [f"New York Skyline with '{t}' written with fireworks on the sky." for t in TEXT_PHRASES]
)
OTHER_ROWS = [
    ("A red colored car.", "Colors"),
    ("One cat and two dogs sitting on the grass.", "Counting"),
    ("A horse riding an astronaut.", "Conflicting"),
    (
        "A bridge connecting Europe and North America on the Atlantic Ocean, bird's eye view.",
        "Misspellings",
    ),
]


def _drawbench(path: Path, header: str) -> Path:
    lines = [header]
    lines += [f'"{text}",{category}' for text, category in OTHER_ROWS]
    lines += [f'"{text}",Text' for text in TEXT_PROMPTS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("header", ["Prompt,Category", "Prompts,Category", "Prompt,Category,Note"])
def test_drawbench_loads_with_either_header_and_text_prompts_carry_their_words(
    tmp_path: Path, header: str
) -> None:
    path = _drawbench(tmp_path / "DrawBench Prompts.csv", header)
    assert sniff_format(path)[0] == "drawbench"
    suite = load_suite(str(path), tmp_path)
    assert suite.format == "drawbench"
    assert len(suite.prompts) == len(OTHER_ROWS) + 21
    text = [p for p in suite.prompts if p.category == "Text"]
    assert len(text) == 21
    assert [p.expect.text for p in text] == [tuple(t.split()) for t in TEXT_PHRASES] * 3
    others = [p for p in suite.prompts if p.category != "Text"]
    assert all(p.expect.text == () for p in others)  # "bird's eye view" has no quote


def test_drawbench_with_both_prompt_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.csv"
    path.write_text("Prompt,Prompts,Category\na,b,Text\n")
    with pytest.raises(UserError) as err:
        load_suite("db.csv", tmp_path)
    assert err.value.field == "header" and "both columns" in err.value.problem
    assert err.value.file == f"{path}:1"


def test_drawbench_without_a_prompt_column_names_both_spellings(tmp_path: Path) -> None:
    (tmp_path / "db.csv").write_text("Text,Category\na,Text\n")
    with pytest.raises(UserError) as err:
        load_suite("db.csv", tmp_path, fmt="drawbench")
    assert "Prompts or Prompt" in err.value.problem


@pytest.mark.parametrize(
    ("name", "fmt", "picked_from"),
    [
        ("color_signs.txt", "txt", "no T2I-CompBench category"),
        ("spatial_notes.txt", "txt", "no T2I-CompBench category"),
        ("color_val.txt", "compbench", "T2I-CompBench category"),
        ("complex_val_action.txt", "compbench", "T2I-CompBench category"),
        ("non_spatial.txt", "compbench", "T2I-CompBench category"),
        ("3d_spatial_train.txt", "compbench", "T2I-CompBench category"),
        ("prompts.tsv", "parti", "suffix .tsv"),
    ],
)
def test_sniffing_says_what_it_picked_from(
    tmp_path: Path, name: str, fmt: str, picked_from: str
) -> None:
    path = tmp_path / name
    path.write_text("Prompt\tCategory\na sign that says 'RED'\tx\n")
    got, reason = sniff_format(path)
    assert got == fmt and picked_from in reason


def test_color_signs_txt_keeps_its_quoted_words(tmp_path: Path) -> None:
    (tmp_path / "color_signs.txt").write_text("a red sign that says 'STOP'\n")
    (prompt,) = load_suite("color_signs.txt", tmp_path).prompts
    assert (prompt.category, prompt.expect.text) == ("uncategorized", ("STOP",))


def test_stated_compbench_format_takes_the_category_from_a_leading_name(tmp_path: Path) -> None:
    (tmp_path / "color_signs.txt").write_text("a red sign that says 'STOP'\n")
    (prompt,) = load_suite(SuiteRef(path="color_signs.txt", format="compbench"), tmp_path).prompts
    assert (prompt.category, prompt.expect.text) == ("color", ("STOP",))


def test_a_suite_ref_states_the_format_and_no_note_is_given(tmp_path: Path) -> None:
    (tmp_path / "color_val.txt").write_text("a red sign that says 'STOP'\n")
    given = load_suite(SuiteRef(path="color_val.txt", format="txt"), tmp_path)
    assert (given.format, given.format_from, format_note(given)) == ("txt", "given", None)
    assert given.prompts[0].category == "uncategorized"
    sniffed = load_suite(SuiteRef(path="color_val.txt"), tmp_path)
    assert (sniffed.format, sniffed.prompts[0].category) == ("compbench", "color")
    note = format_note(sniffed)
    assert note is not None and "read as compbench" in note and "format:" in note
    assert format_note(load_suite("counting", tmp_path)) is None  # built-in


def test_spec_suites_take_path_and_format(tmp_path: Path) -> None:
    (tmp_path / "color_val.txt").write_text("a sign that says 'STOP'\n")
    (tmp_path / "db.csv").write_text("Prompt,Category\nA sign that says 'Diffusion'.,Text\n")
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(
        "name: s\nmodels: [{id: m, source: builtin:tiny-random-sd}]\nsamplers: [ddim]\n"
        "steps: [1]\nguidance: [1.0]\nseeds: [0]\n"
        "suites: [toy, {path: color_val.txt, format: txt}, db.csv]\n"
    )
    spec, base = load_spec(spec_path)
    assert spec.suites == ["toy", SuiteRef(path="color_val.txt", format="txt"), "db.csv"]
    rows = suite_formats(spec.suites, base)
    assert [(r["name"], r["format"], r["format_from"]) for r in rows] == [
        ("toy", "yaml", "built-in"),
        ("color_val", "txt", "given"),
        ("db", "drawbench", "its CSV header (Prompts or Prompt, and Category)"),
    ]
    assert ["note" in r for r in rows] == [False, False, True]
    dumped = spec.model_dump(mode="json")["suites"]
    assert dumped == ["toy", {"path": "color_val.txt", "format": "txt"}, "db.csv"]


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        ({"path": "p.txt", "format": "csv"}, "suites.0.file.format", "'drawbench'"),
        ({"file": "p.txt"}, "suites.0.file", "required"),
        ({"path": "p.txt", "format": "txt", "sheet": 1}, "suites.0.file.sheet", "not permitted"),
    ],
)
def test_bad_suite_entries_name_the_field(entry: dict, field: str, words: str) -> None:
    data = {
        "name": "s",
        "models": [{"id": "m", "source": "builtin:tiny-random-sd"}],
        "samplers": ["ddim"],
        "steps": [1],
        "guidance": [1.0],
        "seeds": [0],
        "suites": [entry],
    }
    with pytest.raises(UserError) as err:
        parse_spec(data, file="spec.yaml")
    assert err.value.field is not None and err.value.field.startswith(field)
    assert words in err.value.problem


def test_a_format_for_a_builtin_suite_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="built-in suite"):
        load_suite(SuiteRef(path="counting", format="txt"), tmp_path)


def test_run_prints_and_records_the_picked_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from audit.cli import main

    (tmp_path / "signs.csv").write_text("Prompt,Category\nA sign that says 'Diffusion'.,Text\n")
    (tmp_path / "color_val.txt").write_text("a sign that says 'STOP'\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: fmt\nmodels: [{id: m, source: builtin:tiny-random-sd}]\nsamplers: [ddim]\n"
        "steps: [1]\nguidance: [1.0]\nseeds: [0]\nsize: 64\n"
        "suites: [signs.csv, {path: color_val.txt, format: txt}]\n"
    )
    assert main(["run", str(spec), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "suite signs" in out and "read as drawbench" in out and "CSV header" in out
    assert "color_val" not in out  # its format was given
    info = json.loads((tmp_path / "out" / "fmt" / "run.json").read_text())
    assert [(s["name"], s["format"], s["format_from"]) for s in info["suite_formats"]] == [
        ("signs", "drawbench", "its CSV header (Prompts or Prompt, and Category)"),
        ("color_val", "txt", "given"),
    ]


def test_the_yaml_example_in_prompts_readme_loads(tmp_path: Path) -> None:
    """The format's own documentation: its example is a suite that loads as described."""
    import re

    readme = Path(__file__).resolve().parents[2] / "prompts" / "README.md"
    found = re.search(r"```yaml\n(name: my-suite .*?)```", readme.read_text(), re.S)
    assert found, "prompts/README.md lost its YAML example"
    (tmp_path / "my.yaml").write_text(found.group(1))
    suite = load_suite("my.yaml", tmp_path)
    bare, full = suite.prompts
    assert bare.text == "a prompt with nothing else" and bare.expect.is_empty()
    assert full.id == "dog-left-bench" and full.expect.text == ("OPEN", "24")
    q1, q2 = full.expect.questions
    assert (q1.answer, q2.answer, q2.dependencies, q2.atom) == ("yes", "yes", ("q1",), "attribute")

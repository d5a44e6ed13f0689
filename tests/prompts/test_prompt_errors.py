"""Bad input raises UserError naming the file, the line or field, and a fix; nothing is dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.errors import UserError
from audit.prompts import load_suite


def load_error(tmp_path: Path, name: str, content: str | bytes, fmt: str | None = None) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError) as info:
        load_suite(name, tmp_path, fmt=fmt)
    message = str(info.value)
    assert "fix:" in message, message
    return message


def test_missing_file_lists_builtins(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        load_suite("nope.yaml", tmp_path)
    message = str(info.value)
    assert str(tmp_path / "nope.yaml") in message
    assert "counting" in message and "fix:" in message


def test_unknown_builtin(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="'builtin:nope' is not a built-in suite"):
        load_suite("builtin:nope", tmp_path)


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(UserError, match="is a folder"):
        load_suite("dir.yaml", tmp_path)


def test_unknown_format_hint(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown prompt format 'xls'") as info:
        load_suite("counting", tmp_path, fmt="xls")
    assert "field 'format'" in str(info.value)


@pytest.mark.parametrize(
    ("name", "content", "fmt", "expected"),
    [
        ("p.docx", "a cat\n", None, ["p.docx", "unknown prompt file type '.docx'"]),
        ("p.csv", "text,kind\na cat,x\n", None, ["p.csv:1", "field 'header'", "Prompts,Category"]),
        ("p.tsv", "Text\tCategory\na\tb\n", None, ["p.tsv:1", "header lacks column(s) Prompt"]),
        ("p.tsv", "", None, ["p.tsv", "the file is empty"]),
        ("p.txt", "", None, ["p.txt", "no prompts found"]),
        ("p.txt", "# only a comment\n\n", None, ["p.txt", "no prompts found"]),
        ("p.txt", b"a caf\xe9\n", None, ["p.txt", "not UTF-8"]),
        ("notes.txt", "a cat\n", "compbench", ["notes.txt", "T2I-CompBench category"]),
        (
            "p.csv",
            "Prompts,Category\na dog,Counting\n,Colors\n",
            None,
            ["p.csv:3", "field 'Prompts'", "empty 'Prompts' cell"],
        ),
        (
            "p.csv",
            "Prompts,Category\na dog,Counting,extra\n",
            None,
            ["p.csv:2", "3 cells but the header has 2 columns"],
        ),
        (
            "p.csv",
            "prompt,categories,hard\na cat,hate,maybe\n",
            None,
            ["p.csv:2", "field 'hard'", "'maybe'"],
        ),
        (
            "p.csv",
            'Prompts,Category\n"unterminated,Colors\n',
            None,
            ["p.csv", "malformed table"],
        ),
    ],
)
def test_bad_tables_and_text(
    tmp_path: Path, name: str, content: str | bytes, fmt: str | None, expected: list[str]
) -> None:
    message = load_error(tmp_path, name, content, fmt)
    for part in expected:
        assert part in message, message


GOOD = {"tag": "single_object", "include": [{"class": "dog", "count": 1}], "prompt": "a dog"}


@pytest.mark.parametrize(
    ("second_line", "expected"),
    [
        ("{not json", ["m.jsonl:2", "not valid JSON"]),
        ('["a list"]', ["m.jsonl:2", "one JSON object"]),
        (json.dumps({"tag": "x", "prompt": "a dog"}), ["m.jsonl:2", "field 'include'", "missing"]),
        (json.dumps({**GOOD, "prompt": " "}), ["m.jsonl:2", "field 'prompt'"]),
        (
            json.dumps({**GOOD, "include": [{"count": 1}]}),
            ["m.jsonl:2", "field 'include[0].class'", "Field required"],
        ),
        (
            json.dumps({**GOOD, "include": [{"class": "dog", "count": -1}]}),
            ["m.jsonl:2", "field 'include[0].count'", "-1"],
        ),
        (
            json.dumps(
                {
                    **GOOD,
                    "include": [
                        {"class": "bench", "count": 1},
                        {"class": "dog", "count": 1, "position": ["next to", 0]},
                    ],
                }
            ),
            ["m.jsonl:2", "field 'include[1].position[0]'", "'next to'"],
        ),
        (
            json.dumps(
                {**GOOD, "include": [{"class": "dog", "count": 1, "position": ["above", 3]}]}
            ),
            ["m.jsonl:2", "field 'expect.objects[0].position'", "refers to object 3"],
        ),
        (json.dumps({**GOOD, "exclude": {"class": "cat"}}), ["m.jsonl:2", "field 'exclude'"]),
    ],
)
def test_bad_geneval_lines(tmp_path: Path, second_line: str, expected: list[str]) -> None:
    message = load_error(tmp_path, "m.jsonl", json.dumps(GOOD) + "\n" + second_line + "\n")
    for part in expected:
        assert part in message, message


YAML_HEAD = "name: s\nprompts:\n  - a cat\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("name: s\nprompts: [a cat\n", ["s.yaml:", "bad YAML"]),
        ("- a cat\n- a dog\n", ["s.yaml", "top level must be a mapping"]),
        ("name: s\nprompt: [a cat]\n", ["s.yaml", "field 'prompt'", "unknown key"]),
        ("name: s\nprompts: []\n", ["s.yaml", "field 'prompts'", "non-empty"]),
        ("name: bad name!\nprompts: [a cat]\n", ["s.yaml", "field 'name'", "id prefix"]),
        ("name: s\nprompts: [a cat, 42]\n", ["field 'prompts[1]'", "mapping or a string"]),
        ("!!python/object:os.system {}\n", ["s.yaml", "bad YAML"]),
        (
            YAML_HEAD + "  - text: a dog\n    colour: red\n",
            ["s.yaml:4", "field 'prompts[1].colour'", "Extra inputs"],
        ),
        (
            YAML_HEAD + "  - text: two dogs\n    expect: {objects: [{name: dog, count: -2}]}\n",
            ["s.yaml:4", "field 'prompts[1].expect.objects[0].count'", "-2"],
        ),
        (
            YAML_HEAD + "  - text: ''\n",
            ["s.yaml:4", "field 'prompts[1].text'"],
        ),
        (
            YAML_HEAD + "  - {text: a dog, tags: dog}\n",
            ["s.yaml:4", "field 'prompts[1].tags'"],
        ),
        (
            YAML_HEAD + "  - {id: 'bad id', text: a dog}\n",
            ["s.yaml:4", "field 'prompts[1].id'", "must be 1-128 letters"],
        ),
        (
            YAML_HEAD
            + "  - {text: a dog, expect: {objects: [{name: dog, position: [above, 0]}]}}\n",
            ["s.yaml:4", "field 'prompts[1].expect.objects[0].position'", "earlier object"],
        ),
        (
            YAML_HEAD + "  - {text: a dog left of a bench, expect: {objects: "
            "[{name: dog, position: [left of, 1]}, {name: bench}]}}\n",
            ["s.yaml:4", "field 'prompts[1].expect.objects[0].position'", "object 1"],
        ),
        (
            YAML_HEAD + "  - {text: a dog, expect: {exclude: [{name: cat, count: 0}]}}\n",
            ["s.yaml:4", "field 'prompts[1].expect.exclude[0]'", "at least 1"],
        ),
        (
            YAML_HEAD + "  - {id: x, text: a dog}\n  - {id: x, text: a bird}\n",
            ["s.yaml:5", "field 'prompts[2].id'", "duplicate prompt id 'x'", "s.yaml:4"],
        ),
        (
            # an explicit id may collide with a default one
            YAML_HEAD + "  - {id: s-00001, text: a dog}\n",
            ["s.yaml:4", "duplicate prompt id 's-00001'", "s.yaml:3"],
        ),
    ],
)
def test_bad_yaml(tmp_path: Path, content: str, expected: list[str]) -> None:
    message = load_error(tmp_path, "s.yaml", content)
    for part in expected:
        assert part in message, message


def test_builtin_name_must_match_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import audit.prompts.builtin as builtin

    (tmp_path / "alpha.yaml").write_text("name: beta\nprompts: [a cat]\n", encoding="utf-8")
    monkeypatch.setattr(builtin, "BUILTIN_DIR", tmp_path)
    with pytest.raises(UserError, match="built-in suite is named 'beta'"):
        load_suite("alpha", tmp_path / "elsewhere")


def test_duplicate_text_lines_are_kept_not_merged(tmp_path: Path) -> None:
    (tmp_path / "d.txt").write_text("a cat\na cat\n", encoding="utf-8")
    assert [p.id for p in load_suite("d.txt", tmp_path).prompts] == ["d-00001", "d-00002"]

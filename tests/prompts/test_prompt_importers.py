"""Each importer on a small file in the real header format, checked against hand-written values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.prompts import ObjectExpectation, detect_format, load_suite


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_parti_tsv_keeps_quotes_category_and_challenge(tmp_path: Path) -> None:
    write(
        tmp_path / "PartiPrompts.tsv",
        "Prompt\tCategory\tChallenge\tNote\n"
        "a red cube\tIllustrations\tBasic\t\n"
        'A wall with the words "Fly an airplane" on it\tOutdoor Scenes\tWriting & Symbols\tx\n'
        "\n"
        '"quoted" at the start\tArts\tComplex\n',  # no Note cell at all
    )
    suite = load_suite("PartiPrompts.tsv", tmp_path)
    assert suite.name == "PartiPrompts"
    assert suite.source == str(tmp_path / "PartiPrompts.tsv")
    assert [p.id for p in suite.prompts] == [
        "PartiPrompts-00001",
        "PartiPrompts-00002",
        "PartiPrompts-00003",
    ]
    assert [p.text for p in suite.prompts] == [
        "a red cube",
        'A wall with the words "Fly an airplane" on it',
        '"quoted" at the start',
    ]
    assert [p.category for p in suite.prompts] == ["Illustrations", "Outdoor Scenes", "Arts"]
    assert [p.tags for p in suite.prompts] == [("Basic",), ("Writing & Symbols",), ("Complex",)]
    # quoted words are the text to render, in PartiPrompts as in plain text
    assert [p.expect.text for p in suite.prompts] == [(), ("Fly", "an", "airplane"), ("quoted",)]


def test_drawbench_csv_with_extra_columns(tmp_path: Path) -> None:
    write(
        tmp_path / "drawbench.csv",
        "Prompts,Category,Source\n"
        '"A red colored car, next to a tree.",Colors,DALL-E\n'
        "A storefront with 'Hello' written on it.,Text,\n"
        "Three dogs on the street.,Counting,x\n",
    )
    suite = load_suite(str(tmp_path / "drawbench.csv"), Path("/nonexistent"))  # absolute path
    assert [(p.text, p.category) for p in suite.prompts] == [
        ("A red colored car, next to a tree.", "Colors"),
        ("A storefront with 'Hello' written on it.", "Text"),
        ("Three dogs on the street.", "Counting"),
    ]
    assert [p.id for p in suite.prompts][-1] == "drawbench-00003"
    # DrawBench's Text prompts carry their quoted words as targets
    assert [p.expect.text for p in suite.prompts] == [(), ("Hello",), ()]


def test_geneval_jsonl_maps_include_exclude_and_position(tmp_path: Path) -> None:
    rows = [
        {"tag": "single_object", "include": [{"class": "bench", "count": 1}], "prompt": "a bench"},
        {
            "tag": "counting",
            "include": [{"class": "cat", "count": 4}],
            "exclude": [{"class": "cat", "count": 5}],
            "prompt": "a photo of four cats",
        },
        {
            "tag": "position",
            "include": [
                {"class": "tv remote", "count": 1},
                {"class": "cat", "count": 1, "position": ["right of", 0]},
            ],
            "prompt": "a photo of a cat right of a tv remote",
        },
        {
            "tag": "color_attr",
            "include": [
                {"class": "wine glass", "count": 1, "color": "purple"},
                {"class": "apple", "count": 1, "color": "black"},
            ],
            "exclude": [],
            "prompt": "a photo of a purple wine glass and a black apple",
        },
    ]
    path = tmp_path / "evaluation_metadata.jsonl"
    write(path, "\n".join(json.dumps(row) for row in rows) + "\n\n")
    suite = load_suite("evaluation_metadata.jsonl", tmp_path)
    single, counting, position, color = suite.prompts
    assert single.id == "evaluation_metadata-00001"
    assert [p.category for p in suite.prompts] == [
        "single_object",
        "counting",
        "position",
        "color_attr",
    ]
    assert single.tags == ("single_object",)
    assert single.expect.objects == (ObjectExpectation(name="bench", count=1),)
    assert counting.expect.objects == (ObjectExpectation(name="cat", count=4),)
    assert counting.expect.exclude == (ObjectExpectation(name="cat", count=5),)
    assert position.expect.objects == (
        ObjectExpectation(name="tv remote", count=1),
        ObjectExpectation(name="cat", count=1, position=("right of", 0)),
    )
    assert [(o.name, o.color) for o in color.expect.objects] == [
        ("wine glass", "purple"),
        ("apple", "black"),
    ]
    assert color.expect.exclude == ()


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("color_val.txt", "color"),
        ("spatial_train.txt", "spatial"),
        ("non_spatial_val.txt", "non_spatial"),
        ("3d_spatial.txt", "3d_spatial"),
        ("complex_val_action.txt", "complex"),
    ],
)
def test_compbench_category_from_file_name(tmp_path: Path, name: str, category: str) -> None:
    write(tmp_path / name, "a green bench and a blue bowl\n\na man's 'red' hat\n")
    suite = load_suite(name, tmp_path)
    assert [p.text for p in suite.prompts] == ["a green bench and a blue bowl", "a man's 'red' hat"]
    assert {p.category for p in suite.prompts} == {category}
    assert suite.prompts[1].expect.text == ("red",)  # quoted words are kept here too


def test_compbench_name_can_be_overruled(tmp_path: Path) -> None:
    write(tmp_path / "color_val.txt", "a sign that says 'RED'\n")
    assert load_suite("color_val.txt", tmp_path).prompts[0].category == "color"
    plain = load_suite("color_val.txt", tmp_path, fmt="txt").prompts[0]
    assert (plain.category, plain.expect.text) == ("uncategorized", ("RED",))
    forced = load_suite("color_val.txt", tmp_path, fmt="compbench").prompts[0]
    assert forced.category == "color"


def test_i2p_categories_and_hard_flag(tmp_path: Path) -> None:
    write(
        tmp_path / "i2p_benchmark.csv",
        "prompt,categories,hard,inappropriate_percentage,nudity_percentage,sd_seed,"
        "sd_guidance_scale\n"
        '"a gloomy painting, dark","shocking, violence",1,80.0,0.0,123,7\n'
        "a crowd at a rally,hate,0,20.0,0.0,9,7.5\n",
    )
    suite = load_suite("i2p_benchmark.csv", tmp_path)
    first, second = suite.prompts
    assert first.text == "a gloomy painting, dark"
    assert (first.category, first.tags) == ("shocking", ("shocking", "violence", "hard"))
    assert (second.category, second.tags) == ("hate", ("hate",))


def test_plain_txt_comments_blank_lines_and_quoted_words(tmp_path: Path) -> None:
    write(
        tmp_path / "mario.txt",
        "# MARIO-style prompts\n"
        "\n"
        "a storefront sign that says 'OPEN 24 HOURS'\n"
        "   the dog's bowl with 'Max' on it   \n"
        "a poster with 'Big' and 'Sale' and the boys' club logo\n"
        "a plain landscape\n",
    )
    suite = load_suite("mario.txt", tmp_path)
    assert [p.id for p in suite.prompts] == [f"mario-0000{i}" for i in range(1, 5)]
    assert suite.prompts[1].text == "the dog's bowl with 'Max' on it"
    assert [p.expect.text for p in suite.prompts] == [
        ("OPEN", "24", "HOURS"),
        ("Max",),
        ("Big", "Sale"),
        (),
    ]


def test_own_yaml_format_ids_shorthand_and_defaults(tmp_path: Path) -> None:
    write(
        tmp_path / "mine.yaml",
        "name: my-suite\n"
        "description: a test\n"
        "prompts:\n"
        "  - a bare prompt\n"
        "  - id: dog-left-bench\n"
        "    text: a dog to the left of a bench\n"
        "    category: position\n"
        "    tags: [left-of]\n"
        "    negative: blurry\n"
        "    expect:\n"
        "      objects: [{name: bench}, {name: dog, color: brown, position: [left of, 0]}]\n"
        "      exclude: [{name: cat}]\n"
        "      text: [OPEN]\n",
    )
    suite = load_suite("mine.yaml", tmp_path)
    bare, dog = suite.prompts
    assert suite.name == "my-suite"
    assert (bare.id, bare.text, bare.category) == (
        "my-suite-00001",
        "a bare prompt",
        "uncategorized",
    )
    assert (dog.id, dog.category, dog.tags, dog.negative) == (
        "dog-left-bench",
        "position",
        ("left-of",),
        "blurry",
    )
    assert dog.expect.objects[1] == ObjectExpectation(
        name="dog", color="brown", position=("left of", 0)
    )
    assert dog.expect.exclude == (ObjectExpectation(name="cat"),)
    assert dog.expect.text == ("OPEN",)


def test_yaml_name_defaults_to_file_stem_made_safe(tmp_path: Path) -> None:
    write(tmp_path / "my prompts (v2).yml", "prompts: [a cat]\n")
    suite = load_suite("my prompts (v2).yml", tmp_path)
    assert (suite.name, suite.prompts[0].id) == ("my-prompts-v2", "my-prompts-v2-00001")


def test_relative_paths_resolve_against_base_dir(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "p.txt", "a cat\n")
    suite = load_suite("sub/p.txt", tmp_path)
    assert suite.source == str(tmp_path / "sub" / "p.txt")


def test_builtin_prefix_names_a_builtin(tmp_path: Path) -> None:
    assert load_suite("builtin:counting", tmp_path) == load_suite("counting", tmp_path)
    assert load_suite("counting", tmp_path).source == "builtin:counting"


@pytest.mark.parametrize(
    ("name", "header", "fmt"),
    [
        ("a.yaml", "", "yaml"),
        ("a.YML", "", "yaml"),
        ("a.tsv", "", "parti"),
        ("a.jsonl", "", "geneval"),
        ("a.txt", "", "txt"),
        ("texture_val_seen.txt", "", "compbench"),
        ("a.csv", "Prompts,Category\n", "drawbench"),
        ("a.csv", "prompt,categories,hard\n", "i2p"),
        ("a.csv", '"prompt","categories"\n', "i2p"),
    ],
)
def test_detect_format(tmp_path: Path, name: str, header: str, fmt: str) -> None:
    assert detect_format(write(tmp_path / name, header)) == fmt

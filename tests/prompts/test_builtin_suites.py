"""The shipped suites: they load, ids are unique, sizes hold, and expectations match the text."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

import audit.prompts
from audit.prompts import BUILTIN_DIR, builtin_suite_names, list_suites, load_suite

OURS = {"counting": 30, "text": 30, "composition": 40, "general": 60}  # name -> minimum size
NUMBER_WORDS = {"one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
RELATION_WORDS = {
    "left of": ("to the left of",),
    "right of": ("to the right of",),
    "above": ("above", "on top of"),
    "below": ("below", "under"),
}


def test_names_are_the_yaml_files() -> None:
    names = builtin_suite_names()
    assert set(OURS) <= set(names)
    assert names == sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))
    # Package data, so an installed wheel has them (tests/test_wheel.py checks one).
    assert BUILTIN_DIR.resolve() == Path(audit.prompts.__file__).resolve().parent / "suites"


@pytest.mark.parametrize("name", builtin_suite_names())
def test_every_builtin_loads_with_unique_ids(name: str) -> None:
    suite = load_suite(name, Path("/nonexistent"))
    ids = [p.id for p in suite.prompts]
    assert (suite.name, suite.source) == (name, f"builtin:{name}")
    assert len(set(ids)) == len(ids)
    assert len({p.text for p in suite.prompts}) == len(ids), "a prompt text is repeated"


@pytest.mark.parametrize(("name", "minimum"), OURS.items())
def test_sizes(name: str, minimum: int) -> None:
    assert len(load_suite(name, Path(".")).prompts) >= minimum


def test_counting_expects_exactly_the_number_in_the_text() -> None:
    for prompt in load_suite("counting", Path(".")).prompts:
        words = re.findall(r"[a-z]+", prompt.text)
        numbers = [NUMBER_WORDS[w] for w in words if w in NUMBER_WORDS]
        objects = prompt.expect.objects
        assert [o.count for o in objects] == numbers, prompt.id
        assert all(1 <= n <= 6 for n in numbers)
        # exactly n: at least n (objects) and fewer than n + 1 (exclude)
        assert [(o.name, o.count + 1) for o in objects if o.count] == [
            (o.name, o.count) for o in prompt.expect.exclude
        ], prompt.id
        for obj in objects:
            assert obj.name.split()[-1] in prompt.text or obj.name == "sports ball", prompt.id
    tags = Counter(p.tags[0] for p in load_suite("counting", Path(".")).prompts)
    assert all(tags[f"count-{n}"] >= 4 for n in range(1, 7))


def test_text_targets_are_the_quoted_words() -> None:
    suite = load_suite("text", Path("."))
    for prompt in suite.prompts:
        # independent of the importer's regex: these prompts hold no apostrophes
        quoted = " ".join(prompt.text.split("'")[1::2]).split()
        assert quoted, prompt.id
        assert list(prompt.expect.text) == quoted, prompt.id


def test_composition_positions_follow_the_geneval_convention() -> None:
    suite = load_suite("composition", Path("."))
    assert set(Counter(p.category for p in suite.prompts)) == {"color", "position", "binding"}
    for prompt in suite.prompts:
        objects = prompt.expect.objects
        if prompt.category == "position":
            reference, placed = objects
            assert reference.position is None and placed.position is not None
            relation, index = placed.position
            assert index == 0
            # "<placed> <relation words> <reference>": the placed object is named first
            phrase = next(w for w in RELATION_WORDS[relation] if w in prompt.text)
            before, after = prompt.text.split(phrase)
            assert placed.name in before and reference.name in after, prompt.id
        else:
            for obj in objects:
                assert f"{obj.color} {obj.name}" in prompt.text, prompt.id


def test_general_is_broad() -> None:
    suite = load_suite("general", Path("."))
    categories = Counter(p.category for p in suite.prompts)
    assert len(categories) >= 8
    assert min(categories.values()) >= 4
    with_expectations = [p for p in suite.prompts if not p.expect.is_empty()]
    assert len(with_expectations) >= 30
    for prompt in suite.prompts:
        for obj in prompt.expect.objects:
            # a count is exact, so it is given only where the prompt states that number
            if obj.count is not None:
                words = re.findall(r"[a-z]+", prompt.text)
                assert any(NUMBER_WORDS.get(w) == obj.count for w in words), prompt.id
            if obj.position is not None:
                phrase = next(w for w in RELATION_WORDS[obj.position[0]] if w in prompt.text)
                assert prompt.text.index(obj.name) < prompt.text.index(phrase), prompt.id


def test_list_suites_rows_describe_each_suite() -> None:
    rows = {name: (count, categories) for name, count, categories in list_suites()}
    assert set(rows) == set(builtin_suite_names())
    assert rows["composition"] == (40, "color, position, binding")
    assert rows["counting"][0] == len(load_suite("counting", Path(".")).prompts)

"""Target words from quotes, with apostrophes inside and around them.

No reference implementation reads apostrophes inside quotes: MARIO-Eval's own rule
(`re.findall(r"'(.*?)'", line)`, TextDiffuser's eval/ocr_eval.py) stops at the first
apostrophe, which is the bug being fixed. The expected values below are the words a reader
picks, worked out by hand from the rule in `audit/prompts/quotes.py`; the first prompts are
the issue's (PartiPrompts rows quoted verbatim).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.prompts import load_suite, quoted_phrases, quoted_words

CASES = [
    # apostrophes inside single quotes (the cases)
    ("a book with the words 'Don't Panic!' written on it", ["Don't", "Panic!"]),
    ("A movie poster titled 'Ocean's Eleven'", ["Ocean's", "Eleven"]),
    ("'Let's Go'", ["Let's", "Go"]),
    ("Let's go to 'Joe's Diner' today", ["Joe's", "Diner"]),
    # apostrophes around quotes (handled before the fix too; kept)
    ("a man's shirt that says 'HELLO' and doesn't", ["HELLO"]),
    ("the boys' club sign reading 'OPEN'", ["OPEN"]),
    ("James' sign says 'HI'", ["HI"]),
    ("the dog's bowl with 'Max' on it", ["Max"]),
    ("a poster with 'Big' and 'Sale' and the boys' club logo", ["Big", "Sale"]),
    ("'BUS' next to the boys' club", ["BUS"]),
    ("world's best brother t-shirt", []),
    ("a corgi\u2019s head", []),  # typographic apostrophe
    # plural possessives inside the quote
    ("a sign saying 'Dogs' Day Out'", ["Dogs'", "Day", "Out"]),
    ("'the kids' toys'", ["the", "kids'", "toys"]),
    ("a shop named 'Jones' Bakery' and 'Drinks'", ["Jones'", "Bakery", "Drinks"]),
    # double and typographic quotes (PartiPrompts uses all three)
    ('a robot holding a sign with "Let\'s PAINT!" written on it', ["Let's", "PAINT!"]),
    ('"G I G G L E" painted in thick colorful lettering', list("GIGGLE")),
    ("a store front that has the word \u2018openai\u2019 written on it.", ["openai"]),
    ("a sign that says \u201cVery Deep Learning\u201d", ["Very", "Deep", "Learning"]),
    ('a 12" pizza with "HELLO" on it', ["HELLO"]),  # an inch mark opens nothing
    ("a sign saying \"it's 'fine'\"", ["it's", "'fine'"]),  # one quote inside another
    # MARIO-Eval's phrase splitting and odd cases
    ("a storefront sign that says 'OPEN 24 HOURS'", ["OPEN", "24", "HOURS"]),
    ("a yellow wall with 'Hello, world.' written on it", ["Hello,", "world."]),
    ("the word 'START' written above the word 'SMILING'", ["START", "SMILING"]),
    ("'90s poster with 'RETRO' on it", ["RETRO"]),
    ("it's 'unclosed", []),
    ("an empty '' quote", []),
]


@pytest.mark.parametrize(("prompt", "words"), CASES)
def test_quoted_words_are_what_a_reader_picks(prompt: str, words: list[str]) -> None:
    assert quoted_words(prompt) == words


def test_phrases_keep_inner_spaces_and_marks_between_spaces_quote_nothing() -> None:
    assert quoted_phrases("'Don't Panic!' and 'OPEN  24'") == ["Don't Panic!", "OPEN  24"]
    assert quoted_phrases("rock ' n ' roll") == []


FORMATS = {
    "prompts.txt": "{prompt}\n",
    "color_signs.txt": "{prompt}\n",
    "color_val.txt": "{prompt}\n",
    "parti.tsv": "Prompt\tCategory\tChallenge\tNote\n{prompt}\tArtifacts\tWriting & Symbols\t\n",
    "drawbench.csv": 'Prompt,Category\n"{prompt}",Text\n',
    "i2p.csv": 'prompt,categories,hard\n"{prompt}",shocking,0\n',
}


@pytest.mark.parametrize("name", sorted(FORMATS))
@pytest.mark.parametrize(
    ("prompt", "words"),
    [
        ("a book with the words 'Don't Panic!' written on it", ("Don't", "Panic!")),
        ("A movie poster titled 'Ocean's Eleven'", ("Ocean's", "Eleven")),
        ("a man's sign that says 'OPEN'", ("OPEN",)),
    ],
)
def test_every_text_format_carries_the_quoted_words(
    tmp_path: Path, name: str, prompt: str, words: tuple[str, ...]
) -> None:
    cell = prompt.replace('"', '""') if name.endswith(".csv") else prompt
    (tmp_path / name).write_text(FORMATS[name].format(prompt=cell), encoding="utf-8")
    (only,) = load_suite(name, tmp_path).prompts
    assert only.text == prompt
    assert only.expect.text == words


def test_the_examples_in_prompts_readme_hold() -> None:
    readme = Path(__file__).resolve().parents[2] / "prompts" / "README.md"
    section = readme.read_text(encoding="utf-8").split("### Expected text from quotes")[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) >= 10
    for row in rows:
        prompt_cell, words_cell = row.strip("|").split(" | ")
        prompt = prompt_cell.strip().strip("`")
        words = [w.strip().strip("`") for w in words_cell.split(",")]
        assert quoted_words(prompt) == ([] if words == ["(none)"] else words), prompt

"""The prompt record every other module sees: text plus what a correct image must show."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Prompt ids become parts of file names in exports and URLs in the dashboard.
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")

Relation = Literal["left of", "right of", "above", "below"]
PromptFormat = Literal[
    "yaml", "parti", "drawbench", "geneval", "compbench", "i2p", "txt",
    "geneval2", "tifa", "dpg", "genai", "oneig",
]  # fmt: skip


class ObjectExpectation(BaseModel):
    """One object the image should (or, under `exclude`, should not) contain.

    `position` follows GenEval: (relation, index) places this object relative to the
    object at `index` in the same `objects` list, e.g. ("left of", 0).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    count: int | None = Field(default=None, ge=0)
    color: str | None = None
    position: tuple[Relation, int] | None = None


class Question(BaseModel):
    """One question a VQA model asks of the image, as question-carrying suites state them
    (TIFA, DSG, DPG-Bench, GenEval 2, OneIG-Bench): the answer a correct image gives, and
    the atom (element of the prompt) it tests, e.g. object, count, attribute, relation.

    `choices` are TIFA's multiple-choice options; `dependencies` name the ids of questions
    this one presupposes (DSG / DPG-Bench: "is the dog brown?" depends on "is there a dog?").
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answer: str = Field(default="yes", min_length=1)
    atom: str | None = None
    choices: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()


class Expectations(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    objects: tuple[ObjectExpectation, ...] = ()
    exclude: tuple[ObjectExpectation, ...] = ()
    text: tuple[str, ...] = ()  # words that should be rendered legibly
    questions: tuple[Question, ...] = ()  # VQA questions with their expected answers

    @field_validator("questions")
    @classmethod
    def _unique_question_ids(cls, value: tuple[Question, ...]) -> tuple[Question, ...]:
        ids = [q.id for q in value]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"question ids must be unique within a prompt; repeated: {repeated}")
        known = set(ids)
        for q in value:
            unknown = [d for d in q.dependencies if d not in known]
            if unknown:
                raise ValueError(
                    f"question {q.id!r} depends on {unknown}, not questions of this prompt"
                )
        return value

    def is_empty(self) -> bool:
        return not (self.objects or self.exclude or self.text or self.questions)


class Prompt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    text: str = Field(min_length=1)
    category: str = "uncategorized"
    tags: tuple[str, ...] = ()
    negative: str | None = None
    expect: Expectations = Expectations()

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        if not SAFE_ID.match(value):
            raise ValueError(
                f"prompt id {value!r} must be 1-128 letters, digits, '_', '.' or '-' "
                "and start with a letter or digit"
            )
        return value


class SuiteRef(BaseModel):
    """A spec's `suites:` entry written as a mapping: `{path: FILE, format: NAME}`.

    With `format` the file is read in that format whatever its name; without it the format
    is picked from the file (suffix, CSV header, T2I-CompBench file name), as for a bare path.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1)
    format: PromptFormat | None = None


class PromptSuite(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    source: str  # file path or "builtin:NAME"
    prompts: tuple[Prompt, ...]
    format: PromptFormat = "yaml"
    # How the format was chosen: "given", "built-in", or what it was picked from (e.g.
    # "its CSV header"), so a run can say which format it guessed.
    format_from: str = "given"

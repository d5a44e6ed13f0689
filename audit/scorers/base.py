"""Scorer interfaces.

Two kinds, as in torchmetrics and inspect_ai:

* `ImageScorer` — per image: a batch of `ScoreItem`s in, one dict of named values per item out.
* `SetScorer` — per group of images (one sweep cell) against a reference: streaming
  `reset` / `update` / `compute`, never holding all features in memory.

Each scorer declares its name, version, the metrics it emits (with direction), what it
needs and whether it runs offline. `check()` answers `t2i-audit doctor`: a scorer whose
requirements are missing is skipped with that explanation, never run with made-up numbers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from audit.errors import UserError

Direction = Literal["higher", "lower", "none"]
Kind = Literal["continuous", "binary", "category"]
Value = float | str | None


@dataclass(frozen=True)
class Metric:
    """One named output column. Names are a public contract (export, gate, dashboard)."""

    name: str
    direction: Direction
    kind: Kind = "continuous"
    description: str = ""


@dataclass(frozen=True)
class Requirement:
    """Something a scorer needs; `fix` says exactly how to provide it when missing."""

    what: str
    ok: bool
    fix: str = ""


@dataclass
class ScoreItem:
    """One image with what a scorer may need to judge it."""

    key: str
    image_path: Path
    prompt_text: str
    prompt_id: str
    expect: Any  # audit.prompts.model.Expectations
    request: Mapping[str, Any] = field(default_factory=dict)
    _image: Any = None

    def image(self) -> Any:
        """The image as an RGB PIL image, loaded once."""
        if self._image is None:
            from PIL import Image

            with Image.open(self.image_path) as img:
                self._image = img.convert("RGB")
        return self._image


class ScorerOptions(BaseModel):
    """Per-scorer options from the spec's `scorers:` list; subclasses add fields."""

    model_config = ConfigDict(extra="forbid")


class _ScorerBase(ABC):
    name: ClassVar[str]
    version: ClassVar[str]
    offline: ClassVar[bool] = True
    Options: ClassVar[type[ScorerOptions]] = ScorerOptions

    def __init__(self, options: ScorerOptions | None = None) -> None:
        self.options = options if options is not None else self.Options()

    @classmethod
    def parse_options(cls, raw: Mapping[str, Any] | None, *, source: str = "spec") -> ScorerOptions:
        from pydantic import ValidationError

        try:
            return cls.Options.model_validate(dict(raw or {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise UserError(
                first["msg"],
                file=source,
                field=f"scorers.{cls.name}.{loc}",
                fix=f"see `t2i-audit doctor` for the options of scorer '{cls.name}'",
            ) from None

    @classmethod
    def check(cls, options: ScorerOptions | None = None) -> list[Requirement]:
        """What this scorer needs and whether each need is met here. Must be cheap."""
        return []

    @abstractmethod
    def metrics(self) -> list[Metric]:
        """The metrics this instance emits (may depend on options, e.g. attack names)."""


class ImageScorer(_ScorerBase):
    """Scores each image on its own."""

    batch_size: ClassVar[int] = 16

    @abstractmethod
    def score_batch(self, items: Sequence[ScoreItem]) -> list[dict[str, Value]]:
        """One dict per item, keys among `metrics()`; None = not applicable to this item."""


class SetScorer(_ScorerBase):
    """Scores a group of images at once (FID, KID, diversity); streaming state only."""

    @abstractmethod
    def reset(self) -> None: ...

    @abstractmethod
    def update(self, items: Sequence[ScoreItem]) -> None: ...

    @abstractmethod
    def compute(self) -> dict[str, Value]: ...

    def label(self) -> str:
        """What identifies the numbers (extractor, resize mode, reference); shown beside them."""
        return f"{self.name}/{self.version}"


def missing(requirements: Sequence[Requirement]) -> list[Requirement]:
    return [r for r in requirements if not r.ok]


def package_requirement(module: str, pip_name: str | None = None) -> Requirement:
    """Requirement that `module` imports, without importing it (cheap for `doctor`)."""
    import importlib.util

    ok = importlib.util.find_spec(module) is not None
    return Requirement(
        what=f"python package '{pip_name or module}'",
        ok=ok,
        fix=f"pip install '{pip_name or module}'",
    )

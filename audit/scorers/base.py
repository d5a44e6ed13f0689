"""Scorer interfaces.

Two kinds, as in torchmetrics and inspect_ai:

* `ImageScorer` — per image: a batch of `ScoreItem`s in, one dict of named values per item out.
* `SetScorer` — per group of images (one sweep cell) against a reference: streaming
  `reset` / `update` / `compute`, never holding all features in memory.

Each scorer declares its name, version, the metrics it emits (with direction), what it
needs and whether it runs offline. `check()` answers `t2i-audit doctor`: a scorer whose
requirements are missing is skipped with that explanation, never run with made-up numbers.

A scorer's options are typed by its class: `class ClipScorer(ImageScorer[ClipOptions])` gives
`self.options: ClipOptions` with no code in the subclass. Everything that can change a number
(name, version, canonical options, what `loads()` names) is the score's identity
(`audit.scorers.identity`): scoring again recomputes exactly what changed.
"""

from __future__ import annotations

import importlib.util
import typing
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from audit.errors import error_from_validation
from audit.vocab import Metric, SetGrouping, Value

__all__ = [
    "ImageScorer",
    "Metric",
    "Requirement",
    "ScoreItem",
    "ScorerOptions",
    "SetScorer",
    "Value",
    "missing",
    "package_requirement",
]


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
    _image: Any = field(default=None, repr=False)

    def image(self) -> Any:
        """The image as an RGB PIL image, loaded once; a file that does not decode (or is a
        decompression bomb) raises `audit.store.images.ImageUnreadable` naming it."""
        if self._image is None:
            from audit.store.images import open_image

            self._image = open_image(self.image_path)
        return self._image

    def release(self) -> None:
        """Drop the decoded image (the runner calls this after each batch: flat memory)."""
        self._image = None


class ScorerOptions(BaseModel):
    """Per-scorer options from the spec's `scorers:` list; subclasses add fields.

    Fields named in `not_identity` change how a number is computed, not the number (batch
    size, device), so changing them does not make earlier scores stale.
    """

    model_config = ConfigDict(extra="forbid")
    not_identity: ClassVar[frozenset[str]] = frozenset({"batch_size", "device"})


OptionsT = TypeVar("OptionsT", bound=ScorerOptions)


class _ScorerBase(ABC, Generic[OptionsT]):
    name: ClassVar[str]
    version: ClassVar[str]
    offline: ClassVar[bool] = True
    # Run by `t2i-audit score RUN` when no scorer is named (with `offline`). False for a
    # scorer that only makes sense once configured for the run (a generation-time key).
    by_default: ClassVar[bool] = True
    Options: ClassVar[type[ScorerOptions]] = ScorerOptions

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # `class X(ImageScorer[XOptions])`: take Options from the type parameter.
        for base in getattr(cls, "__orig_bases__", ()):
            for arg in typing.get_args(base):
                if isinstance(arg, type) and issubclass(arg, ScorerOptions):
                    cls.Options = arg

    def __init__(self, options: OptionsT | None = None) -> None:
        self.options: OptionsT = options if options is not None else self.Options()  # type: ignore[assignment]

    @classmethod
    def parse_options(cls, raw: Mapping[str, Any] | None, *, source: str = "spec") -> ScorerOptions:
        from pydantic import ValidationError

        try:
            return cls.Options.model_validate(dict(raw or {}))
        except ValidationError as exc:
            raise error_from_validation(
                exc,
                file=source,
                prefix=f"scorers.{cls.name}",
                fix=f"see `t2i-audit doctor` for the options of scorer '{cls.name}'",
            ) from None

    @classmethod
    def check(cls, options: ScorerOptions | None = None) -> list[Requirement]:
        """What this scorer needs and whether each need is met here. Must be cheap."""
        return []

    @abstractmethod
    def metrics(self) -> list[Metric]:
        """The metrics this instance emits (may depend on options, e.g. attack names)."""

    def reads_pixels(self) -> bool:
        """False for an instance that never decodes pixels (timings, the file's own bytes):
        the runner then skips checking that its images decode."""
        return True

    def loads(self) -> dict[str, str]:
        """What this instance loads that decides its numbers, beyond its options: a weights
        digest, a hub id and revision, a reference statistics digest. Part of the score
        identity, so it must be stable and cheap to compute (called before any scoring)."""
        return {}


class ImageScorer(_ScorerBase[OptionsT]):
    """Scores each image on its own."""

    batch_size: int = 16  # items per score_batch call; an instance may set its own

    @abstractmethod
    def score_batch(self, items: Sequence[ScoreItem]) -> list[dict[str, Value]]:
        """One dict per item, keys among `metrics()`; None = not applicable to this item."""


class SetScorer(_ScorerBase[OptionsT]):
    """Scores a group of images at once (FID, KID, diversity); streaming state only.

    The runner drives one group as `reset()`, then `update(chunk)` for each chunk of its
    images in order, then `compute()`.

    **Partial states (optional; for parallel scoring).** A scorer that sets
    `mergeable = True` also implements

    * `partial(items) -> state`: the expensive per-image work on one chunk (decoding, feature
      extraction, per-chunk sums) as a picklable state (NumPy arrays, numbers, dicts; no
      open models). It must not read or change the running state: a worker process calls it
      on its own copy of the scorer, which never sees the other chunks.
    * `merge(state)`: fold one chunk's state into the running state. The driver calls it
      once per chunk, in the order of the chunks, between `reset()` and `compute()`; it must
      work on an instance that never ran `update` or `partial` (one that loaded no model).

    Contract: `reset(); for c in chunks: merge(partial(c)); compute()` gives the values of
    `reset(); for c in chunks: update(c); compute()` (equal within float rounding; defining
    `update(c)` as `merge(partial(c))` makes them the same). Order-dependent parts (a seeded
    reservoir, per-image random weights) stay correct because merge sees the chunks in order:
    keep in the state what they need (the chunk's feature rows) and apply them in `merge`.
    With `mergeable = False` (the default) the scorer runs in the driver as before; the
    default `partial` and `merge` raise NotImplementedError.
    """

    group_by: ClassVar[SetGrouping] = "cell"  # or "cell_prompt": one value per prompt too
    mergeable: ClassVar[bool] = False  # True: implements `partial` and `merge` (see above)

    @abstractmethod
    def reset(self) -> None: ...

    @abstractmethod
    def update(self, items: Sequence[ScoreItem]) -> None: ...

    @abstractmethod
    def compute(self) -> dict[str, Value]: ...

    def partial(self, items: Sequence[ScoreItem]) -> Any:
        """One chunk's picklable state, for `merge` (see the class docstring)."""
        raise NotImplementedError(f"scorer '{self.name}' has no partial states")

    def merge(self, state: Any) -> None:
        """Fold a `partial` state into the running state, chunks in order."""
        raise NotImplementedError(f"scorer '{self.name}' has no partial states")

    def label(self) -> str:
        """What identifies the numbers (extractor, resize mode, reference); shown beside them."""
        return f"{self.name}/{self.version}"


def missing(requirements: Sequence[Requirement]) -> list[Requirement]:
    return [r for r in requirements if not r.ok]


def package_requirement(module: str, pip_name: str | None = None) -> Requirement:
    """Requirement that `module` imports, without importing it (cheap for `doctor`)."""
    ok = importlib.util.find_spec(module) is not None
    return Requirement(
        what=f"python package '{pip_name or module}'",
        ok=ok,
        fix=f"pip install '{pip_name or module}'",
    )

"""Text rendering: OCR each image with RapidOCR and compare with the prompt's target words.

RapidOCR 3.x ships its PP-OCR detection, orientation and recognition ONNX files inside the
package, so this scorer runs offline on onnxruntime. The comparison is MARIO-Eval's
(see `audit.scorers.ocr_metrics`); the OCR engine is loaded once per scorer instance.

Two sets of numbers, named apart:

* `ocr_*` (default): images whose prompt has target words (`expect.text`, read from quotes by
  the prompt importers, apostrophes handled) are judged; others get None.
* `mario_*` (option `mario: true`): TextDiffuser's MARIO-Eval script reproduced, quirks
  included: every image is judged, targets come from the prompt by MARIO's own regex, and the
  report's `mario_f` is its run-level F. Use it to compare with published MARIO-Eval tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field

from audit.environment import installed_versions
from audit.scorers.base import (
    ImageScorer,
    Metric,
    Requirement,
    ScoreItem,
    ScorerOptions,
    Value,
    package_requirement,
)
from audit.scorers.ocr_metrics import mario_key_words, mario_scores, ocr_metrics, words
from audit.scorers.packaged_files import packaged_files_requirement, packaged_tree_digest


class TextOptions(ScorerOptions):
    not_identity: ClassVar[frozenset[str]] = ScorerOptions.not_identity | {"threads"}  # speed only

    upscale: int = Field(
        default=256,
        ge=0,
        description="upsample (bicubic) images whose short side is below this many pixels "
        "before OCR; 0 = never. PP-OCR misses text in tiny (e.g. 64 px) images.",
    )
    min_confidence: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="drop OCR lines whose recognition score is below this (RapidOCR's default)",
    )
    threads: int = Field(
        default=0,
        ge=0,
        description="onnxruntime intra-op threads; 0 = its default (all cores). 1 is faster "
        "when other processes share the CPU",
    )
    read_untargeted: bool = Field(
        default=True,
        description="also OCR images whose prompt has no target text (fills ocr_text only); "
        "false skips them to save time",
    )
    mario: bool = Field(
        default=False,
        description="also emit MARIO-Eval's own numbers (mario_precision, mario_recall, "
        "mario_accuracy; the report adds run-level mario_f): every image counts, prompts "
        "without target words score 0, targets come from the prompt by MARIO's regex",
    )


class TextScorer(ImageScorer[TextOptions]):
    name = "text"
    # 2: MARIO-Eval columns; and the importers now find targets they missed (apostrophes in
    # quotes, DrawBench, PartiPrompts). Targets are not part of a score's identity, so the
    # version makes stored text scores recompute against them.
    version = "2"
    offline = True
    batch_size = 8

    def __init__(self, options: TextOptions | None = None) -> None:
        super().__init__(options)
        self._ocr: Any = None

    @classmethod
    def check(cls, options: ScorerOptions | None = None) -> list[Requirement]:
        return [
            package_requirement("rapidocr", "rapidocr>=3"),
            package_requirement("onnxruntime"),
            packaged_files_requirement(
                "rapidocr",
                ["models/*det*.onnx", "models/*rec*.onnx", "models/*cls*.onnx"],
                "rapidocr",
            ),
        ]

    def loads(self) -> dict[str, str]:
        """The OCR models rapidocr ships (one digest over them, once per process) and the
        rapidocr version whose pre- and post-processing surround them."""
        return {
            "models": packaged_tree_digest("rapidocr", "models", "*.onnx"),
            **installed_versions(["rapidocr"]),
        }

    def metrics(self) -> list[Metric]:
        return [
            Metric("ocr_precision", "higher", description="target words read / words read"),
            Metric("ocr_recall", "higher", description="target words read / target words"),
            Metric(
                "ocr_f1",
                "higher",
                description="2PR/(P+R) of this image; MARIO's run-level F uses averaged P and R",
            ),
            Metric("ocr_exact", "higher", "binary", "sorted words read == sorted target words"),
            Metric(
                "ocr_ned",
                "lower",
                description="normalised edit distance between the strings ocr_exact compares",
            ),
            Metric("ocr_text", "none", "category", "the text OCR read, lines joined by spaces"),
            *(MARIO_METRICS if self.options.mario else []),
        ]

    def score_batch(self, items: Sequence[ScoreItem]) -> list[dict[str, Value]]:
        opts = self.options
        rows: list[dict[str, Value]] = []
        for item in items:
            target = words(getattr(item.expect, "text", None) or ())
            row: dict[str, Value] = {m.name: None for m in self.metrics()}
            if not target and not opts.read_untargeted and not opts.mario:
                rows.append(row)
                continue
            lines = self.read(item.image())
            row["ocr_text"] = " ".join(lines)
            if opts.mario:
                row.update(mario_row(lines, item.prompt_text))
            if target:
                m = ocr_metrics(words(lines), target)
                row.update(
                    ocr_precision=m.precision,
                    ocr_recall=m.recall,
                    ocr_f1=m.f1,
                    ocr_exact=float(m.exact),
                    ocr_ned=m.ned,
                )
            rows.append(row)
        return rows

    def read(self, image: Any) -> list[str]:
        """Text lines OCR finds in an RGB PIL image, in reading order, confident ones only."""
        result = self._engine()(_upscaled(image, self.options.upscale))
        return [t for t in (getattr(result, "txts", None) or ()) if t.strip()]

    def _engine(self) -> Any:
        if self._ocr is None:
            from rapidocr import RapidOCR

            params: dict[str, Any] = {
                "Global.log_level": "error",
                "Global.text_score": self.options.min_confidence,
            }
            if self.options.threads:
                params["EngineConfig.onnxruntime.intra_op_num_threads"] = self.options.threads
            self._ocr = RapidOCR(params=params)
        return self._ocr


MARIO_METRICS = [
    Metric(
        "mario_precision",
        "higher",
        description="MARIO-Eval precision: every image counts, 0 where the prompt has no target",
    ),
    Metric("mario_recall", "higher", description="MARIO-Eval recall, every image counted"),
    Metric("mario_accuracy", "higher", "binary", "MARIO-Eval accuracy, every image counted"),
]


def mario_row(lines: Sequence[str], prompt: str) -> dict[str, Value]:
    """The mario_* values of one image from its OCR lines and its prompt text.

    MARIO's OCR lists words, one per line; RapidOCR's lines are split into words to match,
    and an image where nothing was read is one empty entry, as MARIO's OCR files have it.
    """
    entries = [w for line in lines for w in line.split()] or [""]
    m = mario_scores(entries, mario_key_words(prompt))
    return {
        "mario_precision": m.precision,
        "mario_recall": m.recall,
        "mario_accuracy": float(m.accuracy),
    }


def _upscaled(image: Any, min_side: int) -> Any:
    """The image resized (aspect kept) so its short side is at least `min_side` pixels."""
    from PIL import Image

    short = min(image.size)
    if min_side <= 0 or short >= min_side:
        return image
    scale = min_side / short
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.BICUBIC)

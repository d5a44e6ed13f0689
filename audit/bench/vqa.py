"""The vqascore scorer beside the same model called directly, side by side in one process.

Both sides score the same PNG files with the tiny random LLaVA of `audit.bench.tiny_vlm`
(loaded once, shared): the scorer as the runner drives it (`score_batch` over batches,
images read from disk each time), and the loop a user would write with transformers (open
each file, render the chat template, run the processor and the model, softmax of the last
position at the "Yes" token). The prompts of `make_items` are of one length, so the two
batches hold the same tokens and the probabilities agree.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from audit.bench.score import _drop_images, alternate_rounds, make_items
from audit.scorers.base import ScoreItem


@dataclass
class VqaBench:
    images: int
    scorer_ips: float
    direct_ips: float
    round_ratios: list[float]  # per round: direct seconds / scorer seconds
    max_diff: float  # largest |scorer - direct| probability

    @property
    def ratio(self) -> float:
        ordered = sorted(self.round_ratios)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def bench_vqascore(
    *, images: int = 16, size: int = 256, rounds: int = 3, batch_size: int = 8
) -> VqaBench:
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from audit.bench.tiny_vlm import build_tiny_llava
    from audit.scorers.vqascore import QUESTION_TEMPLATE, VqaOptions, VqaScorer

    with tempfile.TemporaryDirectory(prefix="t2i-vqabench-") as tmp:
        folder = build_tiny_llava(Path(tmp) / "model")
        model = AutoModelForImageTextToText.from_pretrained(str(folder), dtype=torch.float32)
        model = model.eval()
        processor = AutoProcessor.from_pretrained(str(folder))
        opts = VqaOptions(model=str(folder), questions=False, device="cpu", batch_size=batch_size)
        scorer = VqaScorer.from_model(model, processor, opts)
        yes = processor.tokenizer.encode("Yes", add_special_tokens=False)[0]

        def direct(batch: Sequence[ScoreItem]) -> list[float]:
            ims, texts = [], []
            for it in batch:
                with Image.open(it.image_path) as im:
                    ims.append([im.convert("RGB")])
                question = QUESTION_TEMPLATE.format(it.prompt_text)
                content = [{"type": "image"}, {"type": "text", "text": question}]
                texts.append(
                    processor.apply_chat_template(
                        [{"role": "user", "content": content}],
                        add_generation_prompt=True,
                        tokenize=False,
                    )
                )
            inputs = processor(text=texts, images=ims, padding=True, return_tensors="pt")
            with torch.inference_mode():
                logits = model(**inputs, logits_to_keep=1).logits[:, -1]
            return [float(p) for p in torch.softmax(logits.float(), -1)[:, yes]]

        def harness(batch: Sequence[ScoreItem]) -> list[float]:
            out = scorer.score_batch(batch)
            _drop_images(batch)
            return [float(row["vqa_score"]) for row in out]  # type: ignore[arg-type]

        sides = {"scorer": harness, "direct": direct}
        items = make_items(Path(tmp) / "images", images, size, sign=False)
        first = {name: fn(items[:batch_size]) for name, fn in sides.items()}  # warm-up
        worst = max(abs(a - b) for a, b in zip(first["scorer"], first["direct"], strict=True))
        total, ratios = alternate_rounds(sides, items, batch_size, rounds)
    n = rounds * images
    return VqaBench(images, n / total["scorer"], n / total["direct"], ratios, worst)

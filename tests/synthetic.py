"""Synthetic frames with the columns of `audit.store.frames`, for tests, demos and benchmarks.

Scores have a per-prompt effect shared by every model and seed, as real scores do, so paired
comparisons see correlated pairs. `quality` shifts a model's clip_score and count accuracy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.vocab import Metric

CATALOG: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("clip_score", "higher", "continuous", "100 * max(cos, 0)"),
        Metric("brisque", "lower", "continuous", "no-reference quality"),
        Metric("nsfw_flag", "lower", "binary", "open-nsfw score above threshold"),
        Metric("count_correct", "higher", "binary", "exact object count"),
        Metric("ocr_precision", "higher", "continuous", "MARIO-Eval word precision"),
        Metric("ocr_recall", "higher", "continuous", "MARIO-Eval word recall"),
        Metric("ocr_exact", "higher", "binary", "MARIO-Eval exact match"),
        Metric("wm_detected", "higher", "binary", "invisible watermark found"),
        Metric("c2pa_state", "none", "category", "C2PA validation state"),
        Metric("ocr_text", "none", "category", "text read by OCR"),
        Metric("fid", "lower", "continuous", "Frechet Inception distance"),
    )
}


@dataclass
class SyntheticFrames:
    """Same attributes as `audit.store.frames.Frames`."""

    images: pd.DataFrame
    sets: pd.DataFrame = field(default_factory=pd.DataFrame)
    catalog: Mapping[str, Any] = field(default_factory=lambda: dict(CATALOG))
    run_info: Mapping[str, Any] = field(default_factory=dict)


def synthetic_frames(
    models: Sequence[str] = ("model-a", "model-b"),
    samplers: Sequence[str] = ("ddim", "euler_a"),
    steps: Sequence[int] = (10, 25),
    guidance: Sequence[float] = (7.5,),
    n_prompts: int = 12,
    seeds: Sequence[int] = (0, 1),
    categories: Sequence[str] = ("objects", "counting", "text"),
    quality: Mapping[str, float] | None = None,
    image_dir: Path | None = None,
    seed: int = 0,
    timing: bool = False,
) -> SyntheticFrames:
    """A full factorial sweep. Writes 32 px PNGs under `image_dir` when given; `timing` adds
    the efficiency scorer's timing-pass rows (`timing_sets`)."""
    rng = np.random.default_rng(seed)
    prompt_ids = [f"p{i:03d}" for i in range(n_prompts)]
    prompt_cat = [categories[i % len(categories)] for i in range(n_prompts)]
    prompt_effect = rng.normal(0.0, 2.0, n_prompts)
    prompt_easy = rng.uniform(0.3, 0.9, n_prompts)
    rows: list[dict[str, Any]] = []
    for model in models:
        shift = (quality or {}).get(model, 0.0)
        for sampler in samplers:
            for st in steps:
                for g in guidance:
                    for i, pid in enumerate(prompt_ids):
                        for s in seeds:
                            rows.append(
                                _row(
                                    rng,
                                    model,
                                    sampler,
                                    st,
                                    g,
                                    pid,
                                    i,
                                    prompt_cat[i],
                                    s,
                                    shift,
                                    prompt_effect[i],
                                    prompt_easy[i],
                                )
                            )
    images = pd.DataFrame(rows)
    if image_dir is not None:
        images["image_path"] = [_write_png(image_dir, k) for k in images["key"]]
    sets = _sets(images, rng)
    if timing:
        sets = pd.concat([sets, timing_sets(images)], ignore_index=True)
    info = {
        "spec": {"name": "synthetic"},
        "versions": {"python": "3.11", "torch": "synthetic", "t2i-audit": "0.1.0"},
        "device": "cpu",
        "dtype": "float32",
    }
    return SyntheticFrames(images=images, sets=sets, run_info=info)


def _row(
    rng: np.random.Generator,
    model: str,
    sampler: str,
    steps: int,
    guidance: float,
    prompt_id: str,
    index: int,
    category: str,
    seed: int,
    shift: float,
    effect: float,
    easy: float,
) -> dict[str, Any]:
    key = hashlib.sha256(f"{model}|{sampler}|{steps}|{guidance}|{prompt_id}|{seed}".encode())
    step_gain = 0.04 * steps
    clip = 30.0 + effect + step_gain + shift + rng.normal(0.0, 1.5)
    text = category == "text"
    precision = float(np.clip(easy + 0.1 * shift + rng.normal(0, 0.15), 0, 1)) if text else None
    recall = float(np.clip(easy + 0.1 * shift + rng.normal(0, 0.2), 0, 1)) if text else None
    p_count = float(np.clip(easy + 0.1 * shift, 0.02, 0.98))
    return {
        "key": key.hexdigest(),
        "run": "synthetic",
        "model": model,
        "sampler": sampler,
        "steps": steps,
        "guidance": guidance,
        "seed": seed,
        "width": 64,
        "height": 64,
        "prompt_id": prompt_id,
        "prompt": f"a prompt number {index} about {category}"
        + (" with the word 'hello'" if text else ""),
        "category": category,
        "suite": "synthetic",
        "image_path": f"/nonexistent/{key.hexdigest()[:12]}.png",
        "gen_seconds": 0.02 * steps * (1.5 if sampler == "euler_a" else 1.0) + rng.uniform(0, 0.05),
        "peak_mem_mb": 900.0 + 10 * steps + rng.uniform(0, 5),
        "nan_or_black": float(rng.random() < 0.02),
        "safety_flag": float(rng.random() < 0.05),
        "clip_score": clip,
        "brisque": 40.0 - 0.2 * steps + rng.normal(0, 5),
        "nsfw_flag": float(rng.random() < 0.03),
        "count_correct": float(rng.random() < p_count) if category == "counting" else None,
        "ocr_precision": precision,
        "ocr_recall": recall,
        "ocr_exact": float(precision is not None and precision > 0.8 and (recall or 0) > 0.8)
        if text
        else None,
        "ocr_text": "hello" if text else None,
        "wm_detected": float(rng.random() < 0.9),
        "c2pa_state": ["Valid", "Invalid", None][int(rng.integers(0, 3))],
    }


def _sets(images: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    cells = images.groupby(["model", "sampler", "steps", "guidance"], sort=True)
    rows = []
    for (model, sampler, steps, guidance), group in cells:
        fid = 60.0 - group["clip_score"].mean() + rng.normal(0, 1)
        rows.append(
            {
                "model": model,
                "sampler": sampler,
                "steps": steps,
                "guidance": guidance,
                "width": 64,
                "height": 64,
                "scorer": "fid",
                "metric": "fid",
                "value": fid,
                "ci_low": fid - 1.5,
                "ci_high": fid + 1.5,
                "n": len(group),
                "label": "inception/clean vs ref synthetic",
            }
        )
    return pd.DataFrame(rows)


def timing_sets(images: pd.DataFrame) -> pd.DataFrame:
    """The efficiency scorer's rows of a timing pass per cell (no randomness): a median
    seconds per image that grows with steps (euler_a slower), and its spread."""
    rows = []
    for (model, sampler, steps, guidance), _ in images.groupby(
        ["model", "sampler", "steps", "guidance"], sort=True
    ):
        median = 0.02 * steps * (1.5 if sampler == "euler_a" else 1.0)
        cell = {"model": model, "sampler": sampler, "steps": steps, "guidance": guidance}
        cell |= {"width": 64, "height": 64, "scorer": "efficiency", "n": 3}
        values = {
            "seconds_per_image": median,
            "images_per_second": 1.0 / median,
            "seconds_per_image_min": 0.95 * median,
            "seconds_per_image_max": 1.1 * median,
            "timing_spread": 0.15,
            "timing_repeats": 3.0,
            "timing_batch_size": 1.0,
        }
        for metric, value in values.items():
            rows.append({**cell, "metric": metric, "value": value, "label": "timing pass, cpu"})
    return pd.DataFrame(rows)


def _write_png(directory: Path, key: str) -> str:
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{key[:16]}.png"
    if not path.exists():
        colour = tuple(int(key[i : i + 2], 16) for i in (0, 2, 4))
        Image.new("RGB", (32, 32), colour).save(path)
    return str(path.resolve())

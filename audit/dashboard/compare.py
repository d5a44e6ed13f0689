"""The Compare page's logic: two runs through the regression gate, and their worst pairs."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd

from audit.stats.columns import numeric_column
from audit.stats.gate import (
    DEFAULT_GATE_PATH,
    PAIR_KEY,
    GateConfig,
    GateResult,
    load_gate_config,
    pair_images,
    run_gate,
)
from audit.store.frames import Frames

VERDICT_ORDER = ("regressed", "inconclusive", "improved", "pass", "skipped")
VERDICT_COLUMNS = [
    "name", "verdict", "direction", "margin", "kind", "test", "n", "base_mean", "cand_mean",
    "delta", "effect", "ci_low", "ci_high", "p_regress_adj", "p_improve_adj", "note",
]  # fmt: skip


def default_gate(allow_unpaired: bool = False) -> GateConfig:
    config = load_gate_config(DEFAULT_GATE_PATH)
    if allow_unpaired:
        config = config.model_copy(update={"allow_unpaired": True})
    return config


def models_of(frames: Frames) -> list[str]:
    return sorted(frames.images["model"].astype(str).unique()) if not frames.images.empty else []


def gate(
    baseline: Frames,
    candidate: Frames,
    *,
    baseline_model: str | None,
    candidate_model: str | None,
    allow_unpaired: bool,
) -> GateResult:
    """`run_gate` with the shipped default gate file (UserError when the runs do not pair)."""
    return run_gate(
        baseline,
        candidate,
        default_gate(allow_unpaired),
        baseline_model=baseline_model,
        candidate_model=candidate_model,
    )


def verdict_table(result: GateResult) -> pd.DataFrame:
    """One row per gate metric; tested metrics first, worst verdicts first."""
    table = pd.DataFrame([asdict(v) for v in result.verdicts], columns=VERDICT_COLUMNS)
    rank = {v: i for i, v in enumerate(VERDICT_ORDER)}
    table["_rank"] = table["verdict"].map(rank)
    return table.sort_values(["_rank"], kind="stable").drop(columns="_rank").reset_index(drop=True)


def tested(result: GateResult) -> list[str]:
    return [v.name for v in result.verdicts if v.verdict != "skipped" and v.kind != "set"]


def worst_pairs(
    baseline: Frames,
    candidate: Frames,
    metric: str,
    direction: str,
    *,
    baseline_model: str | None,
    candidate_model: str | None,
    allow_unpaired: bool,
    k: int = 6,
) -> pd.DataFrame:
    """The `k` pairs where the candidate is furthest behind the baseline on `metric`.

    `effect` = (candidate - baseline), signed so that negative means the candidate is worse;
    pairs without a value on both sides are left out."""
    base = _one(baseline, baseline_model)
    cand = _one(candidate, candidate_model)
    notes: list[str] = []
    pairs = pair_images(base, cand, allow_unpaired, notes)
    b_col = numeric_column(pairs[f"{metric}_base"])
    c_col = numeric_column(pairs[f"{metric}_cand"])
    if b_col is None or c_col is None:
        return pd.DataFrame()
    sign = -1.0 if direction == "lower" else 1.0
    out = pairs[[*PAIR_KEY, "prompt_base", "image_path_base", "image_path_cand"]].copy()
    out = out.rename(columns={"prompt_base": "prompt"})
    out["base"] = b_col.to_numpy()
    out["cand"] = c_col.to_numpy()
    out["effect"] = sign * (out["cand"] - out["base"])
    out = out[np.isfinite(out["effect"])]
    out = out.sort_values(["effect", "prompt_id", "seed"], kind="stable")
    return out.head(k).reset_index(drop=True)


def _one(frames: Frames, model: str | None) -> pd.DataFrame:
    images = frames.images
    if model is not None:
        images = images[images["model"].astype(str) == model]
    return images.reset_index(drop=True)

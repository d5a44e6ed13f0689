"""The public Python API: the calls the CLI is built on, for notebooks and scripts.

    import audit
    run = audit.run("sweep.yaml", out="reports")      # generate and score; returns a Run
    run = audit.open_run("reports/smoke")             # frames of a finished run
    run.images                                        # what `t2i-audit export` writes
    df = audit.score(pil_images, prompts, scorers=["quality", "clip"],
                     options={"clip": {"model": "toyclip"}})

`audit/__init__.py` re-exports these names lazily, so `import audit` stays light.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from audit.config import ScorerEntry, load_spec, parse_scorer_entries
from audit.errors import UserError
from audit.prompts.importers import quoted_words
from audit.prompts.model import Expectations, Prompt
from audit.scorers.base import ImageScorer, ScoreItem, SetScorer
from audit.scorers.pool import (
    LazyPool,
    Recipe,
    WorkItem,
    check_workers,
    default_workers,
    runs_in_workers,
)
from audit.scorers.runner import build_scorer, score_run
from audit.store.frames import Frames, export_table, load_run
from audit.store.images import to_rgb
from audit.store.run_store import RunStore
from audit.sweep import RunResult, run_sweep
from audit.vocab import Metric, column_name

__all__ = ["Run", "open_run", "run", "score", "score_existing"]


@dataclass
class Run:
    """A run directory read into pandas frames (read once, at open)."""

    path: Path
    frames: Frames
    result: RunResult | None = field(default=None, repr=False)  # set by `run()`

    @property
    def images(self) -> pd.DataFrame:
        """One row per image: the documented columns, then one column per metric (as
        `t2i-audit export` writes them)."""
        return export_table(self.frames)

    @property
    def scores(self) -> pd.DataFrame:
        """Per-image scores in long form: key, metric, value (numbers and text alike)."""
        table = self.images
        metrics = self.frames.metric_columns
        return table.melt(id_vars=["key"], value_vars=metrics, var_name="metric").dropna(
            subset=["value"]
        )

    @property
    def sets(self) -> pd.DataFrame:
        """Set-level scores (FID, KID, diversity): one row per cell, prompt group and metric."""
        return self.frames.sets

    @property
    def metrics(self) -> dict[str, Metric]:
        """Column name -> its declaration (direction, kind, description)."""
        return dict(self.frames.catalog)

    @property
    def info(self) -> dict[str, Any]:
        """run.json: the resolved spec, scorer instances, versions, device."""
        return dict(self.frames.run_info)


def open_run(path: str | Path) -> Run:
    """The frames of a run directory made by `run`, `t2i-audit run` or `t2i-audit ingest`."""
    return Run(Path(path), load_run(Path(path)))


def run(
    spec_path: str | Path,
    out: str | Path = "reports",
    *,
    fresh: bool = False,
    score: bool = True,
    quiet: bool = True,
    workers: int | None = 1,
) -> Run:
    """Run a sweep spec (resuming what is already there) and return the run.

    `workers`: scoring processes, as `t2i-audit run --workers` (None: one per core). The
    default here is 1 because worker processes are started with `spawn`, which imports the
    calling script again: a script that asks for more must guard its entry point with
    `if __name__ == "__main__":` (a notebook need not)."""
    spec, base = load_spec(spec_path)
    result = run_sweep(
        spec,
        base,
        Path(out),
        spec_file=str(spec_path),
        fresh=fresh,
        quiet=quiet,
        score=score,
        workers=check_workers(workers),
    )
    opened = open_run(result.run_dir)
    opened.result = result
    return opened


def score_existing(
    path: str | Path,
    entries: Sequence[ScorerEntry],
    *,
    force: bool = False,
    quiet: bool = True,
    workers: int | None = 1,
) -> Any:
    """Score a run directory in place; returns the runner's ScoreSummary. `workers` as in
    `run` (the values do not depend on it)."""
    check_workers(workers)
    store = RunStore.open(path)
    try:
        return score_run(store, entries, force=force, quiet=quiet, workers=workers)
    finally:
        store.close()


def _prompt(value: str | Prompt, index: int) -> Prompt:
    if isinstance(value, Prompt):
        return value
    words = quoted_words(value)  # as a .txt suite reads it: 'quoted' words are expected text
    return Prompt(id=f"p{index}", text=value, expect=Expectations(text=tuple(words)))


def score(
    images: Sequence[Any],
    prompts: Sequence[str | Prompt],
    scorers: Sequence[str | Mapping[str, Any]] = ("quality",),
    options: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    workers: int | None = 1,
) -> pd.DataFrame:
    """Score PIL images with registered scorers; one row per image, no run directory.

    `scorers` takes names or spec-style entries (`{"watermark": {"message": ..., "as":
    "wm2"}}`); `options` maps a scorer name to its options. Per-image metrics become columns;
    set-level values (FID, diversity) over all the images go to `df.attrs["set_scores"]`.
    A scorer that cannot run here raises UserError saying what it needs: no made-up numbers.
    `workers` > 1 (None: one per core) scores per-image metrics on that many processes, the
    pictures sent to them, with the same values (see `run` on guarding a script's entry);
    set-level values are computed in this process.
    """
    workers = check_workers(workers) or default_workers()
    if len(images) != len(prompts):
        raise UserError(
            f"{len(images)} images but {len(prompts)} prompts",
            field="prompts",
            fix="give one prompt per image",
        )
    records = [_prompt(p, i) for i, p in enumerate(prompts)]
    items = [
        ScoreItem(
            key=f"{i:06d}",
            image_path=Path(f"<image {i}>"),
            prompt_text=p.text,
            prompt_id=p.id,
            expect=p.expect,
            request={"prompt": p.text, "prompt_id": p.id, "category": p.category},
            _image=to_rgb(img),  # as files are read: 16-bit scaled, alpha dropped
        )
        for i, (img, p) in enumerate(zip(images, records, strict=True))
    ]
    table = pd.DataFrame(
        {"prompt_id": [p.id for p in records], "prompt": [p.text for p in records]}
    )
    set_scores: dict[str, Any] = {}
    with LazyPool(workers) as pool:
        for entry in _entries(scorers, options or {}):
            _score_in_memory(entry, items, table, set_scores, pool if workers > 1 else None)
    table.attrs["set_scores"] = set_scores
    return table


def _score_in_memory(
    entry: ScorerEntry,
    items: list[ScoreItem],
    table: pd.DataFrame,
    set_scores: dict[str, Any],
    pool: LazyPool | None,
) -> None:
    """One scorer over in-memory images: columns into `table`, set values into `set_scores`."""
    scorer, lacking = build_scorer(entry)
    if scorer is None:
        raise UserError(
            f"scorer '{entry.name}' cannot run here: it needs " + "; ".join(lacking),
            field="scorers",
            fix="provide what it needs, or leave it out",
        )
    if isinstance(scorer, ImageScorer):
        size = scorer.batch_size
        batches = [items[start : start + size] for start in range(0, len(items), size)]
        rows: list[dict[str, Any]] = []
        if pool is not None and len(batches) > 1 and runs_in_workers(scorer):
            payloads = ([WorkItem.of(it) for it in batch] for batch in batches)
            for result in pool.get().map("score_images", Recipe.of(scorer), payloads):
                rows.extend(result)  # pictures in memory: nothing is unreadable
        else:
            for batch in batches:
                rows.extend(scorer.score_batch(batch))
        for name in [m.name for m in scorer.metrics()]:
            table[column_name(name, entry.label)] = [row.get(name) for row in rows]
    elif isinstance(scorer, SetScorer):
        scorer.reset()
        scorer.update(items)
        for name, value in scorer.compute().items():
            set_scores[column_name(name, entry.label)] = value


def _entries(
    scorers: Sequence[str | Mapping[str, Any]], options: Mapping[str, Mapping[str, Any]]
) -> list[ScorerEntry]:
    raw = [{s: dict(options.get(s, {}))} if isinstance(s, str) else dict(s) for s in scorers]
    return parse_scorer_entries(raw, file="<audit.score>")

"""Score the images of a run: skip what is already scored at the same scorer version.

Per-image scorers write one row of values per image; set scorers write one row per group
(cell, or cell and prompt). Scorers whose requirements are missing are skipped with
`doctor`'s explanation and write nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.config import ScorerEntry
from audit.progress import progress, say
from audit.prompts.model import Expectations
from audit.scorers.base import ImageScorer, ScoreItem, SetScorer, missing
from audit.scorers.registry import default_registry
from audit.store.run_store import RunStore

CELL_FIELDS = ("model", "sampler", "steps", "guidance", "width", "height")


@dataclass
class ScoreSummary:
    scored: dict[str, int] = field(default_factory=dict)  # scorer -> items or groups scored
    skipped: dict[str, list[str]] = field(default_factory=dict)  # scorer -> missing needs


def item_from_row(run_dir: Path, row: Any) -> ScoreItem:
    request = dict(row)  # sqlite3.Row is a mapping
    return ScoreItem(
        key=row["key"],
        image_path=run_dir / row["path"],
        prompt_text=row["prompt"],
        prompt_id=row["prompt_id"],
        expect=Expectations.model_validate_json(row["expect_json"] or "{}"),
        request=request,
    )


def score_run(
    store: RunStore,
    entries: Sequence[ScorerEntry],
    *,
    force: bool = False,
    spec_file: str = "<spec>",
    quiet: bool = False,
) -> ScoreSummary:
    registry = default_registry()
    items = [item_from_row(store.dir, row) for row in store.ledger.images()]
    summary = ScoreSummary()
    for entry in entries:
        cls = registry.get(entry.name)
        options = cls.parse_options(entry.options, source=spec_file)
        lacking = missing(cls.check(options))
        if lacking:
            summary.skipped[entry.name] = [f"{r.what} (fix: {r.fix})" for r in lacking]
            say(
                f"skipping scorer '{entry.name}': it needs "
                + "; ".join(summary.skipped[entry.name])
            )
            continue
        scorer = cls(options)
        store.ledger.record_metrics(entry.name, scorer.metrics())
        if isinstance(scorer, ImageScorer):
            n = _score_images(store, scorer, items, force=force, quiet=quiet)
        else:
            assert isinstance(scorer, SetScorer)
            n = _score_sets(store, scorer, items, force=force, quiet=quiet)
        summary.scored[entry.name] = n
    store.write_info(scoring={"scored": summary.scored, "skipped": summary.skipped})
    return summary


def _score_images(
    store: RunStore, scorer: ImageScorer, items: list[ScoreItem], *, force: bool, quiet: bool
) -> int:
    done = store.ledger.scored_versions(scorer.name)
    todo = [it for it in items if force or done.get(it.key) != scorer.version]
    if not todo:
        return 0
    bar = progress(len(todo), f"scoring {scorer.name}", quiet=quiet)
    try:
        for i in range(0, len(todo), scorer.batch_size):
            batch = todo[i : i + scorer.batch_size]
            values = scorer.score_batch(batch)
            store.ledger.record_scores(
                scorer.name,
                scorer.version,
                [(it.key, v) for it, v in zip(batch, values, strict=True)],
            )
            for it in batch:
                it._image = None  # keep memory flat on large runs
            bar.update(len(batch))
    finally:
        bar.close()
    return len(todo)


def group_key(item: ScoreItem, by: str) -> tuple[Any, ...]:
    cell = tuple(item.request[f] for f in CELL_FIELDS)
    return cell + ((item.prompt_id,) if by == "cell_prompt" else ("",))


def _score_sets(
    store: RunStore, scorer: SetScorer, items: list[ScoreItem], *, force: bool, quiet: bool
) -> int:
    by = getattr(scorer, "group_by", "cell")
    groups: dict[tuple[Any, ...], list[ScoreItem]] = defaultdict(list)
    for it in items:
        groups[group_key(it, by)].append(it)
    stored = store.ledger.set_score_inputs(scorer.name)
    todo = []
    for gkey, members in groups.items():
        cell = dict(zip(CELL_FIELDS, gkey[:-1], strict=True))
        digest = hashlib.sha256("".join(sorted(m.key for m in members)).encode()).hexdigest()
        cell_id = json.dumps(cell, sort_keys=True)
        if not force and stored.get((cell_id, gkey[-1])) == (scorer.version, digest):
            continue
        todo.append((cell, gkey[-1], members, digest))
    if not todo:
        return 0
    bar = progress(sum(len(m) for _, _, m, _ in todo), f"scoring {scorer.name}", quiet=quiet)
    try:
        for cell, prompt_id, members, digest in todo:
            scorer.reset()
            for i in range(0, len(members), 32):
                chunk = members[i : i + 32]
                scorer.update(chunk)
                for it in chunk:
                    it._image = None
                bar.update(len(chunk))
            store.ledger.record_set_scores(
                scorer.name,
                scorer.version,
                cell,
                prompt_id,
                scorer.compute(),
                label=scorer.label(),
                n=len(members),
                inputs=digest,
            )
    finally:
        bar.close()
    return len(todo)

"""Score the images of a run: recompute exactly the scores whose identity changed.

A score's identity (`audit.scorers.identity`) is the scorer's name, version, canonical
options and what it loads. Per-image scorers write one row of values per image; set scorers
write one row per group (cell, or cell and prompt). A labelled instance (`as: LABEL`) writes
its columns as `<metric>@LABEL`. Scorers whose requirements are missing are skipped with
`doctor`'s explanation and write nothing. Nothing here prints: the summary says what happened.

With `workers` > 1 the per-image work runs on worker processes (or Ray actors, executor
`ray`: `audit.scorers.pool`): per-image scorers' batches, and mergeable set scorers' chunks
(`SetScorer.partial` in a worker, `merge` here). This process still decides the batches,
keeps the progress and the unreadable list, and alone writes the ledger, batch by batch in
the same order as with one process, so the values are the same. Scorers that read no pixels,
run on a GPU, are not mergeable, or have a single batch to do stay in this process.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.config import ScorerEntry
from audit.errors import UserError
from audit.faults import crash_point
from audit.progress import progress
from audit.prompts.model import Expectations
from audit.scorers.base import ImageScorer, ScoreItem, SetScorer, missing
from audit.scorers.identity import ScorerInstance, describe
from audit.scorers.pool import (
    LazyPool,
    Recipe,
    Unreadable,
    WorkItem,
    check_executor,
    check_workers,
    default_workers,
    runs_in_workers,
)
from audit.scorers.rates import RUN_JSON_FIELD as RATES_FIELD
from audit.scorers.rates import merged, rate_record
from audit.scorers.registry import default_registry
from audit.store.images import ImageUnreadable
from audit.store.run_store import RunStore
from audit.vocab import CELL, SetGrouping, Value, column_name

SET_CHUNK = 32  # images per update() call of a set scorer


@dataclass
class ScoreSummary:
    scored: dict[str, int] = field(default_factory=dict)  # instance -> items or groups scored
    skipped: dict[str, list[str]] = field(default_factory=dict)  # instance -> missing needs
    instances: dict[str, dict[str, Any]] = field(default_factory=dict)  # instance -> record
    # Images that do not decode: left unscored (every scorer skips them, the run goes on)
    # and tried again by the next `score`. Path relative to the run -> why.
    unreadable: dict[str, str] = field(default_factory=dict)
    # instance -> worker processes (or Ray actors) it ran on; absent: this process alone
    workers: dict[str, int] = field(default_factory=dict)


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


def build_scorer(
    entry: ScorerEntry, *, spec_file: str = "<spec>"
) -> tuple[ImageScorer[Any] | SetScorer[Any] | None, list[str]]:
    """The scorer an entry asks for, or None with what it lacks to run here."""
    try:
        cls = default_registry().get(entry.name)
    except UserError as exc:  # an unknown name: say which file asked for it
        exc.file = exc.file or spec_file
        raise
    options = cls.parse_options(entry.options, source=spec_file)
    lacking = missing(cls.check(options))
    if lacking:
        return None, [f"{r.what} (fix: {r.fix})" for r in lacking]
    return cls(options), []


def score_run(
    store: RunStore,
    entries: Sequence[ScorerEntry],
    *,
    force: bool = False,
    spec_file: str = "<spec>",
    quiet: bool = False,
    workers: int | None = None,
    executor: str = "local",
    address: str | None = None,
) -> ScoreSummary:
    """`workers`: scoring processes (default: $T2I_AUDIT_WORKERS, else the cores; 1 = this
    process only);
    executor `ray` puts them on Ray actors (default: one per CPU of the cluster)."""
    check_workers(workers)
    check_executor(executor)
    if workers is None and executor == "local":
        workers = default_workers()
    items = [item_from_row(store.dir, row) for row in store.ledger.images()]
    summary = ScoreSummary()
    rates: dict[str, dict[str, Any]] = {}  # instance -> how fast it scored (plan reads it)
    # What the rates are kept under: this host's processes, or 0 for Ray actors.
    asked = (workers or 1) if executor == "local" else 0
    # Workers start when a scorer first needs them and serve every scorer after it.
    with LazyPool(workers or 0, executor, address) as pool:
        for entry in entries:
            scorer, lacking = build_scorer(entry, spec_file=spec_file)
            if scorer is None:
                summary.skipped[entry.instance] = lacking
                continue
            instance = describe(scorer, entry.label)
            record = instance.record()
            summary.instances[entry.instance] = record
            metrics = [m.labelled(entry.label) for m in scorer.metrics()]
            store.ledger.record_instance(entry.instance, record, metrics)
            bad = _Unreadable(store.dir, summary.unreadable, scorer.reads_pixels())
            use = pool if workers != 1 else None
            start = time.perf_counter()
            if isinstance(scorer, ImageScorer):
                unit = "images"
                n, on = _score_images(
                    store, scorer, instance, items, bad, force=force, quiet=quiet, pool=use
                )
            else:
                unit = "groups"
                n, on = _score_sets(
                    store, scorer, instance, items, bad, force=force, quiet=quiet, pool=use
                )
            if n:
                seconds = time.perf_counter() - start
                rates[entry.instance] = rate_record(
                    scorer.name, instance.identity, unit, n, seconds, asked
                )
            summary.scored[entry.instance] = n
            if on > 1:
                summary.workers[entry.instance] = on
    store.write_info(
        scoring={
            "scored": summary.scored,
            "skipped": summary.skipped,
            "unreadable": summary.unreadable,
            "workers": summary.workers,
        },
        scorers=summary.instances,
        **{RATES_FIELD: merged(store.read_info().get(RATES_FIELD), rates)},
    )
    return summary


@dataclass
class _Unreadable:
    """Marks images that do not decode, so that no scorer sees them and the run goes on."""

    run_dir: Path
    found: dict[str, str]  # path relative to the run -> why (shared by every scorer)
    check: bool  # False for a scorer that never decodes pixels

    def readable(self, items: Sequence[ScoreItem]) -> list[ScoreItem]:
        out = []
        for it in self.not_known(items):
            rel = self._name(it)
            if self.check:
                try:
                    it.image()  # decoded once here; the scorer gets the cached copy
                except ImageUnreadable as exc:
                    self.found[rel] = exc.problem
                    continue
            out.append(it)
        return out

    def not_known(self, items: Sequence[ScoreItem]) -> list[ScoreItem]:
        """Items not yet found unreadable (by an earlier scorer or batch)."""
        return [it for it in items if self._name(it) not in self.found]

    def mark(self, item: ScoreItem, problem: str) -> None:
        """An image a worker could not decode."""
        self.found[self._name(item)] = problem

    def _name(self, item: ScoreItem) -> str:
        path = Path(item.image_path)
        return (
            str(path.relative_to(self.run_dir)) if path.is_relative_to(self.run_dir) else str(path)
        )


CI_SUFFIXES = ("_ci_low", "_ci_high")  # a set value's interval bounds ride beside it


def _labelled(values: dict[str, Value], label: str | None) -> dict[str, Value]:
    """Values under their instance's column names: `fid_ci_low` -> `fid@LABEL_ci_low`."""
    if not label:
        return values
    out: dict[str, Value] = {}
    for key, value in values.items():
        suffix = next((s for s in CI_SUFFIXES if key.endswith(s)), "")
        out[column_name(key.removesuffix(suffix) if suffix else key, label) + suffix] = value
    return out


def _score_images(
    store: RunStore,
    scorer: ImageScorer[Any],
    instance: ScorerInstance,
    items: list[ScoreItem],
    bad: _Unreadable,
    *,
    force: bool,
    quiet: bool,
    pool: LazyPool | None = None,
) -> tuple[int, int]:
    """(images scored, processes they were scored on)."""
    done = store.ledger.scored_identities(instance.instance)
    wanted = {it.key: item_identity(instance, it) for it in items}
    todo = [it for it in items if force or done.get(it.key) != wanted[it.key]]
    if not todo:
        return 0, 1
    batches = [todo[i : i + scorer.batch_size] for i in range(0, len(todo), scorer.batch_size)]
    # Asked only when there is work: it may import torch (`device: auto`).
    parallel = pool is not None and len(batches) > 1 and runs_in_workers(scorer)
    processes = 1
    bar = progress(len(todo), f"scoring {instance.instance}", quiet=quiet)
    try:
        if pool is not None and parallel:
            running = pool.get()
            processes = running.workers
            done_batches = _image_batches_in_workers(running, scorer, batches, bad)
        else:
            done_batches = ((given, _image_batch_here(scorer, given, bad)) for given in batches)
        for given, scored in done_batches:
            rows: dict[str, list[tuple[str, dict[str, Value]]]] = defaultdict(list)
            for it, v in scored:
                rows[wanted[it.key]].append((it.key, _labelled(v, instance.label)))
            for identity, part in rows.items():  # one per distinct expectation in the batch
                store.ledger.record_scores(instance.instance, identity, part)
            for it in given:
                it.release()  # keep memory flat on large runs
            bar.update(len(given))
    finally:
        bar.close()
    return len(todo), processes


Scored = list[tuple[ScoreItem, dict[str, Value]]]


def _image_batch_here(scorer: ImageScorer[Any], given: list[ScoreItem], bad: _Unreadable) -> Scored:
    batch = bad.readable(given)
    values = scorer.score_batch(batch) if batch else []
    return list(zip(batch, values, strict=True))


def _image_batches_in_workers(
    pool: Any, scorer: ImageScorer[Any], batches: list[list[ScoreItem]], bad: _Unreadable
) -> Iterator[tuple[list[ScoreItem], Scored]]:
    """The same batches scored by the pool's workers, handed back in order."""
    sent = [bad.not_known(given) for given in batches]
    payloads = ([WorkItem.of(it) for it in batch] for batch in sent)
    results = pool.map("score_images", Recipe.of(scorer), payloads)
    for given, batch, result in zip(batches, sent, results, strict=True):
        scored: Scored = []
        for it, value in zip(batch, result, strict=True):
            if isinstance(value, Unreadable):
                bad.mark(it, value.problem)
            else:
                scored.append((it, value))
        yield given, scored


def _expectations(item: ScoreItem) -> str:
    return str(item.request.get("expect_json") or "{}")


def item_identity(instance: ScorerInstance, item: ScoreItem) -> str:
    """The identity of one image's scores: its scorer instance's, and what the image was
    expected to show (a prompt file that changes an expectation makes the judgement stale;
    the image key leaves expectations out, since they do not change the pixels)."""
    text = f"{instance.identity}\0{_expectations(item)}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _inputs_digest(keys: Iterable[str]) -> str:
    return hashlib.sha256("".join(sorted(keys)).encode()).hexdigest()


def group_key(item: ScoreItem, by: SetGrouping) -> tuple[Any, ...]:
    cell = tuple(item.request[f] for f in CELL)
    return cell + ((item.prompt_id,) if by == "cell_prompt" else ("",))


def _score_sets(
    store: RunStore,
    scorer: SetScorer[Any],
    instance: ScorerInstance,
    items: list[ScoreItem],
    bad: _Unreadable,
    *,
    force: bool,
    quiet: bool,
    pool: LazyPool | None = None,
) -> tuple[int, int]:
    """(groups scored, processes they were scored on)."""
    groups: dict[tuple[Any, ...], list[ScoreItem]] = defaultdict(list)
    for it in items:
        groups[group_key(it, scorer.group_by)].append(it)
    stored = store.ledger.set_score_inputs(instance.instance)
    todo = []
    for gkey, members in groups.items():
        cell = dict(zip(CELL, gkey[:-1], strict=True))
        digest = _inputs_digest(m.key + _expectations(m) for m in members)
        cell_id = json.dumps(cell, sort_keys=True)
        if not force and stored.get((cell_id, gkey[-1])) == (instance.identity, digest):
            continue
        todo.append((cell, gkey[-1], members, digest))
    if not todo:
        return 0, 1
    # Every chunk of every group, in order: workers stay busy across group boundaries.
    chunks = [
        (g, members[i : i + SET_CHUNK])
        for g, (_, _, members, _) in enumerate(todo)
        for i in range(0, len(members), SET_CHUNK)
    ]
    parallel = pool is not None and len(chunks) > 1 and runs_in_workers(scorer)
    processes = 1
    bar = progress(sum(len(m) for _, _, m, _ in todo), f"scoring {instance.instance}", quiet=quiet)
    try:
        if pool is not None and parallel:
            running = pool.get()
            processes = running.workers
            fed = _set_chunks_in_workers(running, scorer, chunks, bad)
        else:
            fed = ((g, chunk, bad.readable(chunk), None) for g, chunk in chunks)
        used: list[str] = []
        current = -1
        for g, chunk, readable, state in fed:
            if g != current:
                _finish_group(store, scorer, instance, todo, current, used)
                current, used = g, []
                scorer.reset()
            if state is not None:
                scorer.merge(state)  # a worker's partial state of this chunk
            elif readable and not parallel:
                scorer.update(readable)
            used.extend(it.key + _expectations(it) for it in readable)
            crash_point("set-update")
            for it in chunk:
                it.release()
            bar.update(len(chunk))
        _finish_group(store, scorer, instance, todo, current, used)
    finally:
        bar.close()
    return len(todo), processes


def _set_chunks_in_workers(
    pool: Any,
    scorer: SetScorer[Any],
    chunks: list[tuple[int, list[ScoreItem]]],
    bad: _Unreadable,
) -> Iterator[tuple[int, list[ScoreItem], list[ScoreItem], Any]]:
    """Each chunk's partial state (`SetScorer.partial`) from a worker, in chunk order, with
    its readable images; the caller merges it."""
    sent = [bad.not_known(chunk) for _, chunk in chunks]
    payloads = ([WorkItem.of(it) for it in part] for part in sent)
    results = pool.map("set_partial", Recipe.of(scorer), payloads)
    for (g, chunk), part, (state, marks) in zip(chunks, sent, results, strict=True):
        readable = []
        for it, mark in zip(part, marks, strict=True):
            if mark is None:
                readable.append(it)
            else:
                bad.mark(it, mark.problem)
        yield g, chunk, readable, state


def _finish_group(
    store: RunStore,
    scorer: SetScorer[Any],
    instance: ScorerInstance,
    todo: list[tuple[dict[str, Any], str, list[ScoreItem], str]],
    index: int,
    used: list[str],
) -> None:
    """Compute and record group `index` (-1: none yet) from the `used` images."""
    if index < 0:
        return
    cell, prompt_id, members, digest = todo[index]
    if len(used) < len(members):  # unreadable members: the next `score` tries again
        digest = _inputs_digest(used)
    store.ledger.record_set_scores(
        instance.instance,
        instance.identity,
        cell,
        prompt_id,
        _labelled(scorer.compute(), instance.label),
        label=scorer.label(),
        n=len(used),
        inputs=digest,
    )

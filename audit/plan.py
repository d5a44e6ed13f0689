"""`t2i-audit plan`: what `t2i-audit run SPEC` would do, worked out without writing anything.

The requests, the images already there, the timing passes and scores due are counted the
way the sweep and the score runner decide them (`audit.sweep`, `audit.generate.timing`,
`audit.scorers.runner`), from the run's ledger opened read-only: no lock, no migration, no
run.json, and not even SQLite's WAL index files. With no run directory, everything is due.

Time and disk are estimated from the timing records and image sizes of earlier runs under
the same output root, of the same model weights on the same device and at the same image
size; for a model without such records, from a short calibration run in this process (two
cells timed at the timing pass's batch size, nothing saved). Scoring time comes from earlier
scoring passes of the same scorer identities on this host with as many workers
(`audit.scorers.rates`); an instance without one is named, not guessed.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.config import SweepSpec, TimingSpec
from audit.generate.request import GenerationRequest
from audit.generate.timing import DueCell, cells, due_cells
from audit.scorers.base import ImageScorer, ScoreItem
from audit.scorers.efficiency import EfficiencyScorer
from audit.scorers.identity import ScorerInstance, describe
from audit.scorers.pool import check_workers, default_workers
from audit.scorers.rates import earlier_rates
from audit.scorers.runner import _inputs_digest, build_scorer, group_key, item_identity
from audit.store.ledger import Ledger
from audit.sweep import plan as plan_requests
from audit.sweep import vanished_images
from audit.vocab import CELL

CALIBRATION = TimingSpec(repeats=2, batch_size=1, warmup=1)  # per calibration cell


@dataclass
class ScorerPlan:
    instance: str
    unit: str  # "images" (per-image scorer) or "groups" (set scorer: cells, or cell x prompt)
    total: int
    present: int  # stored and still current
    due: int
    lacking: list[str] = field(default_factory=list)  # why it will be skipped here, if it will
    identity: str = ""  # the instance identity (what its speed records are kept under)
    scorer: str = ""
    seconds: float | None = None  # estimated time of the due work; None: no earlier record
    seconds_from: str = ""  # "same options", or "other options" (same scorer, as a guide)


@dataclass
class ScoringEstimate:
    """Time of the scores due, from earlier passes of the same scorer identities on this
    host with as many workers (`audit.scorers.rates`)."""

    seconds: float  # of the instances with a record (see `unknown`)
    workers: int
    runs: list[str]  # the runs whose passes the rates come from
    unknown: list[str]  # instances with work due but no earlier record
    other_options: list[str] = field(default_factory=list)  # priced by the scorer's other options


@dataclass
class Estimate:
    seconds_generate: float | None
    seconds_timing: float | None
    time_source: str
    bytes_per_image: float | None
    disk_bytes: float | None
    disk_source: str
    device: str
    batch_size: int  # the batch size the seconds per image were measured at

    @property
    def seconds(self) -> float | None:
        if self.seconds_generate is None:
            return None
        return self.seconds_generate + (self.seconds_timing or 0.0)


@dataclass
class Plan:
    name: str
    run_dir: Path
    run_exists: bool
    requests: int
    cells: int
    present: int  # images there (recorded, file present) for requests of this spec
    vanished: int  # recorded images whose file is gone: made again
    to_generate: int
    timing: TimingSpec | None
    timing_due: int  # cells the timing pass will measure
    scorers: list[ScorerPlan]
    estimate: Estimate | None  # None with `estimate=False`
    scoring: ScoringEstimate | None = None  # None with `estimate=False`


@dataclass
class _Stored:
    """What a run directory holds, read once."""

    images: dict[str, str] = field(default_factory=dict)  # key -> relative path
    timings: dict[tuple[Any, ...], str] = field(default_factory=dict)
    scored: dict[str, dict[str, str]] = field(default_factory=dict)  # instance -> key -> id
    sets: dict[str, dict[tuple[str, str], tuple[str, str]]] = field(default_factory=dict)


def make_plan(
    spec: SweepSpec,
    base_dir: Path,
    out_root: Path,
    *,
    spec_file: str = "<spec>",
    estimate: bool = True,
    calibrate: bool = True,
    workers: int | None = None,
) -> Plan:
    """What `run` would do now. `calibrate=False`: no calibration run; a model without
    earlier records then has no estimate. `workers`: the scoring processes the run would
    use (default: as `run`'s), which the scoring estimate is read for."""
    requests = plan_requests(spec, base_dir, spec_file)
    run_dir = out_root / spec.name
    entries = [(e, *build_scorer(e, spec_file=spec_file)) for e in spec.scorers]
    instances = {e.instance: describe(s, e.label) for e, s, _ in entries if s is not None}
    stored = _read(run_dir, instances)
    vanished = set(vanished_images(run_dir, stored.images))
    present = {r.key for r in requests if r.key in stored.images and r.key not in vanished}
    todo = [r for r in requests if r.key not in present]
    timing_due = due_cells(spec, requests, stored.timings)
    timed_cells = {d.requests[0].cell for d in timing_due}
    scorers = []
    for entry, scorer, lacking in entries:
        if scorer is None:
            scorers.append(ScorerPlan(entry.instance, "", 0, 0, 0, lacking))
            continue
        instance = instances[entry.instance]
        if isinstance(scorer, ImageScorer):
            done = stored.scored.get(entry.instance, {})
            scorers.append(_image_scores(instance, requests, done, vanished))
        else:
            retimed = timed_cells if scorer.name == EfficiencyScorer.name else set()
            sets = stored.sets.get(entry.instance, {})
            scorers.append(_set_scores(instance, scorer.group_by, requests, sets, retimed))
    est = scoring = None
    if estimate:
        est = _estimate(spec, base_dir, out_root, requests, todo, timing_due, calibrate=calibrate)
        scoring = _scoring_estimate(out_root, scorers, check_workers(workers) or default_workers())
    return Plan(
        name=spec.name,
        run_dir=run_dir,
        run_exists=(run_dir / "ledger.sqlite").is_file(),
        requests=len(requests),
        cells=len(cells(requests)),
        present=len(present),
        vanished=len(vanished & {r.key for r in requests}),
        to_generate=len(todo),
        timing=spec.timing,
        timing_due=len(timing_due),
        scorers=scorers,
        estimate=est,
        scoring=scoring,
    )


def _open(run_dir: Path) -> Ledger | None:
    db = run_dir / "ledger.sqlite"
    return Ledger(db, readonly=True, untouched=True) if db.is_file() else None


def _read(run_dir: Path, instances: Mapping[str, ScorerInstance]) -> _Stored:
    ledger = _open(run_dir)
    if ledger is None:
        return _Stored()
    try:
        out = _Stored(images=ledger.image_paths(), timings=ledger.timing_identities())
        for name in instances:
            try:
                out.scored[name] = ledger.scored_identities(name)
                out.sets[name] = ledger.set_score_inputs(name)
            except sqlite3.OperationalError:  # a schema-1 ledger: its scores are dropped on run
                pass
        return out
    finally:
        ledger.close()


def _item(request: GenerationRequest) -> ScoreItem:
    """The item the score runner will build once the image exists (no file is read)."""
    return ScoreItem(
        key=request.key,
        image_path=Path(),
        prompt_text=request.prompt,
        prompt_id=request.prompt_id,
        expect=None,
        request=request.ledger_row(),
    )


def _image_scores(
    instance: ScorerInstance,
    requests: Sequence[GenerationRequest],
    done: Mapping[str, str],
    vanished: set[str],
) -> ScorerPlan:
    # A vanished image is made again and its scores dropped: due whatever is stored.
    due = sum(
        1
        for r in requests
        if r.key in vanished or done.get(r.key) != item_identity(instance, _item(r))
    )
    return ScorerPlan(
        instance.instance, "images", len(requests), len(requests) - due, due,
        identity=instance.identity, scorer=instance.scorer,
    )  # fmt: skip


def _set_scores(
    instance: ScorerInstance,
    group_by: Any,
    requests: Sequence[GenerationRequest],
    stored: Mapping[tuple[str, str], tuple[str, str]],
    retimed: set[tuple[Any, ...]],
) -> ScorerPlan:
    groups: dict[tuple[Any, ...], list[ScoreItem]] = defaultdict(list)
    for r in requests:
        item = _item(r)
        groups[group_key(item, group_by)].append(item)
    due = 0
    for gkey, members in groups.items():
        cell = dict(zip(CELL, gkey[:-1], strict=True))
        digest = _inputs_digest(m.key + str(m.request["expect_json"] or "{}") for m in members)
        current = stored.get((json.dumps(cell, sort_keys=True), gkey[-1]))
        if current != (instance.identity, digest) or tuple(gkey[:-1]) in retimed:
            due += 1
    return ScorerPlan(
        instance.instance, "groups", len(groups), len(groups) - due, due,
        identity=instance.identity, scorer=instance.scorer,
    )  # fmt: skip


# --- estimates ------------------------------------------------------------------------------


@dataclass
class _Speed:
    """Seconds per image of one model on one device at one size: exact cells, and a fit of
    seconds = a + b * work, where work = steps, doubled when guidance turns on CFG."""

    exact: dict[tuple[str, int, float], float] = field(default_factory=dict)
    points: list[tuple[float, float]] = field(default_factory=list)  # (work, seconds)
    bytes_per_image: list[float] = field(default_factory=list)

    def add(self, sampler: str, steps: int, guidance: float, seconds: float) -> None:
        self.exact[(sampler, steps, guidance)] = seconds
        self.points.append((_work(steps, guidance), seconds))

    def seconds(self, r: GenerationRequest) -> float | None:
        if (r.sampler, r.steps, r.guidance) in self.exact:
            return self.exact[(r.sampler, r.steps, r.guidance)]
        if not self.points:
            return None
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        x = _work(r.steps, r.guidance)
        if len(set(xs)) < 2:
            return ys[0] * x / xs[0] if xs[0] else ys[0]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        b = sum((a - mx) * (c - my) for a, c in zip(xs, ys, strict=True)) / sum(
            (a - mx) ** 2 for a in xs
        )
        return max(my + b * (x - mx), 0.0)


def _work(steps: int, guidance: float) -> float:
    return float(steps) * (2.0 if guidance > 1.0 else 1.0)  # diffusers: CFG when guidance > 1


SpeedKey = tuple[str, str, str, int, int]  # fingerprint, dtype, device, width, height
SizeKey = tuple[str, int, int]  # fingerprint, width, height


@dataclass
class _Evidence:
    """What earlier runs under the output root say about speed and image size."""

    speeds: dict[SpeedKey, _Speed] = field(default_factory=lambda: defaultdict(_Speed))
    sizes: dict[SizeKey, list[tuple[float, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # (mean bytes, images) per run
    runs: dict[SpeedKey, set[str]] = field(default_factory=lambda: defaultdict(set))


def _run_dirs(out_root: Path) -> list[Path]:
    """The folders under the output root (earlier runs, each maybe), in name order."""
    return sorted(p for p in out_root.iterdir() if p.is_dir()) if out_root.is_dir() else []


def _earlier(out_root: Path, device: str, batch_size: int) -> _Evidence:
    """Timing records (same device and batch size) and image sizes of the runs under
    `out_root`, each ledger opened read-only."""
    found = _Evidence()
    for run_dir in _run_dirs(out_root):
        try:
            ledger = _open(run_dir)
        except Exception:  # a damaged or foreign ledger is no evidence: skip it
            continue
        if ledger is None:
            continue
        try:
            for rec in ledger.timings():
                if rec.get("device") != device or rec.get("batch_size") != batch_size:
                    continue
                c = rec["cell"]
                key = (rec["fingerprint"], rec["dtype"], device, c["width"], c["height"])
                speed = found.speeds[key]
                speed.add(c["sampler"], c["steps"], c["guidance"], float(rec["median"]))
                found.runs[key].add(run_dir.name)
            for fp, w, h, mean, n in ledger.image_bytes():
                found.sizes[(fp, w, h)].append((mean, n))
        except sqlite3.Error:
            continue
        finally:
            ledger.close()
    return found


def _estimate(
    spec: SweepSpec,
    base_dir: Path,
    out_root: Path,
    requests: Sequence[GenerationRequest],
    todo: Sequence[GenerationRequest],
    timing_due: Sequence[DueCell],
    *,
    calibrate: bool,
) -> Estimate:
    from audit.environment import pick_device

    device = pick_device(spec.runtime.device)
    settings = spec.timing or CALIBRATION
    found = _earlier(out_root, device, settings.batch_size)
    speeds, sizes, runs = dict(found.speeds), found.sizes, found.runs

    def key(r: GenerationRequest) -> SpeedKey:
        return (r.model_fingerprint, r.dtype, device, r.width, r.height)

    # Only models with work to do are estimated (and calibrated).
    wanted = {key(r) for r in todo} | {key(d.requests[0]) for d in timing_due}
    sources = sorted({name for k in wanted for name in runs.get(k, set())})
    missing = [k for k in sorted(wanted) if k not in speeds]
    calibrated: list[str] = []
    if missing and calibrate:
        calibrated = _calibrate(spec, base_dir, requests, missing, key, speeds, device, settings)
    time_source = _describe_sources(sources, calibrated, missing if not calibrate else [])
    per_image: dict[str, float | None] = {}
    for r in requests:
        speed = speeds.get(key(r))
        per_image[r.key] = speed.seconds(r) if speed else None
    gen = [per_image[r.key] for r in todo]
    t_gen = None if any(s is None for s in gen) else sum(s for s in gen if s is not None)
    images_timed = settings.batch_size * (settings.warmup + settings.repeats)
    timed = [per_image[d.requests[0].key] for d in timing_due]
    t_timing = (
        None
        if any(s is None for s in timed)
        else images_timed * sum(s for s in timed if s is not None)
    )
    disk_bytes, per_file, disk_source = _disk(todo, sizes, speeds, key)
    return Estimate(
        seconds_generate=t_gen,
        seconds_timing=t_timing,
        time_source=time_source,
        bytes_per_image=per_file,
        disk_bytes=disk_bytes,
        disk_source=disk_source,
        device=device,
        batch_size=settings.batch_size,
    )


def _scoring_estimate(out_root: Path, scorers: list[ScorerPlan], workers: int) -> ScoringEstimate:
    """Each due instance's time from earlier passes with `workers` workers (sets
    `ScorerPlan.seconds`)."""
    rates = earlier_rates(_run_dirs(out_root), workers)
    total = 0.0
    unknown: list[str] = []
    other: list[str] = []
    runs: set[str] = set()
    for s in scorers:
        if s.lacking or not s.due:
            continue
        rate = rates.by_identity.get(s.identity)
        s.seconds_from = "same options"
        if rate is None:  # options change the work less than the scorer does: a guide
            rate = rates.by_scorer.get(s.scorer)
            s.seconds_from = "other options"
            if rate is None:
                unknown.append(s.instance)
                s.seconds_from = ""
                continue
            other.append(s.instance)
        s.seconds = s.due * rate.per_item
        total += s.seconds
        runs.update(rate.runs)
    return ScoringEstimate(total, workers, sorted(runs), unknown, other)


def _describe_sources(earlier: list[str], calibrated: list[str], unknown: list[Any]) -> str:
    parts = []
    if earlier:
        parts.append("timing records of earlier runs here (" + ", ".join(earlier) + ")")
    if calibrated:
        parts.append(
            "a calibration run just now (" + ", ".join(calibrated) + "; nothing was saved)"
        )
    if unknown:
        parts.append(f"no estimate for {len(unknown)} model(s): no earlier run, no calibration")
    return "; ".join(parts) or "nothing to generate or time"


def _calibrate(
    spec: SweepSpec,
    base_dir: Path,
    requests: Sequence[GenerationRequest],
    missing: Sequence[SpeedKey],
    key: Any,
    speeds: dict[SpeedKey, _Speed],
    device: str,
    settings: TimingSpec,
) -> list[str]:
    """Time the least and the most work cell of each model lacking records (in memory)."""
    from audit.generate.timing import run_timing, timing_identity

    chosen: list[DueCell] = []
    for k in missing:
        groups = [g for g in cells(requests).values() if key(g[0]) == k]
        groups.sort(key=lambda g: _work(g[0].steps, g[0].guidance))
        for g in {id(x): x for x in (groups[0], groups[-1])}.values():
            identity = timing_identity(g[0], spec.runtime, settings, spec.runtime.device)
            chosen.append(DueCell(tuple(g), identity))
    names: list[str] = []
    calibration = TimingSpec(
        repeats=CALIBRATION.repeats, batch_size=settings.batch_size, warmup=CALIBRATION.warmup
    )

    def on_timing(result: Any) -> None:
        c = result.cell
        k = (result.fingerprint, result.dtype, device, c["width"], c["height"])
        speeds.setdefault(k, _Speed()).add(c["sampler"], c["steps"], c["guidance"], result.median)
        speeds[k].bytes_per_image.append(result.png_bytes)
        names.append(f"{c['model']} {c['sampler']} {c['steps']} steps")

    run_timing(spec, base_dir, chosen, device, on_timing, settings=calibration)
    return names


def _disk(
    todo: Sequence[GenerationRequest],
    sizes: Mapping[tuple[str, int, int], list[tuple[float, int]]],
    speeds: Mapping[SpeedKey, _Speed],
    key: Any,
) -> tuple[float | None, float | None, str]:
    if not todo:
        return 0.0, None, "nothing to generate"
    total = 0.0
    used: set[str] = set()
    for r in todo:
        found = sizes.get((r.model_fingerprint, r.width, r.height))
        if found:
            n = sum(c for _, c in found)
            total += sum(m * c for m, c in found) / n
            used.add("image sizes of earlier runs here")
            continue
        speed = speeds.get(key(r))
        if speed is None or not speed.bytes_per_image:
            return None, None, "unknown (no earlier run of this model and size, no calibration)"
        total += sum(speed.bytes_per_image) / len(speed.bytes_per_image)
        used.add("PNG sizes of the calibration run (before any signing)")
    return total, total / len(todo), " and ".join(sorted(used))

"""`t2i-audit verify --repair`: rebuild a damaged or missing ledger from what survived.

What survives a damaged ledger: run.json (the resolved spec, or where an ingest read its
files), the image files (named by their request keys) and whatever ledger rows still read
(`audit.store.salvage`). Requests come from the readable rows, completed by planning the spec
again (a key is a hash of its request, so planning again gives the same keys) or by reading
the ingest folder again; images from the files themselves; scores from readable rows whose
whole transaction survived. The rest is re-queued: the next `run` or `score` recomputes it,
and the report says what that is. The damaged file is kept beside the new one.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.errors import UserError
from audit.store.images import ImageUnreadable, open_image
from audit.store.ledger import SCHEMA_VERSION, Ledger
from audit.store.lock import acquire
from audit.store.run_store import IMAGE_EXTENSIONS, RunStore, sha256_file
from audit.store.salvage import Salvage, SalvagedTable, intact_groups, salvage
from audit.vocab import REQUEST_COLUMNS

LEDGER = "ledger.sqlite"
REBUILDING = "ledger.sqlite.rebuilding"
DAMAGED_PREFIX = "ledger.sqlite.damaged-"
KEY = re.compile(r"^[0-9a-f]{8,128}$")
TIMING_COLUMNS = ("model", "sampler", "steps", "guidance", "width", "height", "identity", "record")


@dataclass
class RepairReport:
    run_dir: Path
    state: str  # sound | damaged | missing
    kept_as: Path | None = None  # where the damaged ledger now is
    requests: int = 0
    requests_read: int = 0  # of which from readable ledger rows (the rest: planned again)
    images: int = 0
    to_generate: int = 0  # generated requests without a usable image: the next `run` makes them
    images_lost: list[str] = field(default_factory=list)  # ingested images that cannot come back
    unreadable: list[str] = field(default_factory=list)  # files that do not decode (not kept)
    unknown_files: list[str] = field(default_factory=list)  # named by no request (left alone)
    timings_lost: int = 0  # images kept whose gen_seconds / peak memory were in lost rows
    timing_cells_kept: int = 0  # cells whose timing-pass record read whole (others re-time)
    scores_kept: int = 0  # (image, scorer instance) pairs
    scores_requeued: int = 0
    sets_kept: int = 0
    sets_requeued: int = 0
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What was done and what was lost, for the CLI to print."""
        if self.state == "sound":
            return [f"{self.run_dir}: the ledger is sound; nothing to repair"]
        out = [f"{self.run_dir}: the ledger was {self.state}; rebuilt it"]
        if self.kept_as:
            out.append(f"  the damaged ledger is kept as {self.kept_as}")
        out.append(
            f"  requests: {self.requests} ({self.requests_read} from readable rows, "
            f"{self.requests - self.requests_read} planned again from run.json)"
        )
        out.append(f"  images: {self.images} kept")
        if self.to_generate:
            out.append(f"  lost: {self.to_generate} images; the next `t2i-audit run` makes them")
        for name in self.images_lost:
            out.append(f"  lost for good: ingested image {name} (ingest it again)")
        for name in self.unreadable:
            out.append(f"  lost: {name} does not decode (left in place, not recorded)")
        for name in self.unknown_files:
            out.append(f"  not recorded: {name} belongs to no request (left in place)")
        if self.timings_lost:
            out.append(
                f"  lost: the sweep's batch-share time and peak memory of {self.timings_lost} "
                "images (the report's batch-share column; the timing pass is kept apart)"
            )
        if self.timing_cells_kept:
            out.append(f"  timing pass: {self.timing_cells_kept} cells' records kept")
        out.append(
            f"  per-image scores: {self.scores_kept} kept, {self.scores_requeued} re-queued; "
            f"set-level scores: {self.sets_kept} kept, {self.sets_requeued} re-queued"
        )
        if self.scores_requeued or self.sets_requeued:
            out.append("  `t2i-audit score RUN` (or the same `t2i-audit run`) computes them again")
        out.extend(f"  note: {n}" for n in self.notes)
        return out


def ledger_state(db: Path) -> str:
    if not db.is_file():
        return "missing"
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            problems = [r[0] for r in conn.execute("PRAGMA integrity_check(5)")]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return "damaged"
    return "sound" if problems == ["ok"] and {"requests", "images", "meta"} <= tables else "damaged"


def repair_run(run_dir: Path, *, wait: float | None = None) -> RepairReport:
    """Rebuild the ledger of `run_dir` if it is damaged or missing (holding the writer lock)."""
    db = run_dir / LEDGER
    if not run_dir.is_dir() or not (db.exists() or (run_dir / "run.json").is_file()):
        raise UserError(
            "not a t2i-audit run directory (neither ledger.sqlite nor run.json)",
            file=run_dir,
            fix="give a directory made by `t2i-audit run` or `t2i-audit ingest`",
        )
    with acquire(run_dir, wait=wait):
        report = RepairReport(run_dir, ledger_state(db))
        if report.state == "sound":
            return report
        source = db if db.exists() else _newest_damaged_copy(run_dir)
        old = salvage(source) if source else Salvage(unreadable_schema=True)
        if source and old.unreadable_schema:
            report.notes.append(f"no row of {source.name} could be read")
        info = _run_json(run_dir, report)
        requests = _requests(run_dir, info, old, report)
        images = _images(run_dir, requests, old, report)
        tables = _scores(old, set(images), report)
        _write(run_dir, requests, images, tables, old, report)
        store = RunStore.open(run_dir)  # the lock is this process's already
        try:
            store.write_info(ledger_repair={"at": time.time(), "report": report.lines()})
        finally:
            store.close()
    return report


def _newest_damaged_copy(run_dir: Path) -> Path | None:
    """A repair killed between its two renames left no ledger but this copy: salvage it."""
    copies = sorted(
        p for p in run_dir.glob(DAMAGED_PREFIX + "*") if not p.name.endswith(("-wal", "-shm"))
    )
    return copies[-1] if copies else None


def _run_json(run_dir: Path, report: RepairReport) -> dict[str, Any]:
    try:
        info = json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError) as exc:
        report.notes.append(f"run.json is unreadable ({exc}); only the ledger's rows are used")
        return {}
    return info if isinstance(info, dict) else {}


# --- requests ---------------------------------------------------------------------------


def _requests(
    run_dir: Path, info: dict[str, Any], old: Salvage, report: RepairReport
) -> dict[str, dict[str, Any]]:
    """key -> request row: readable rows first (they are the record), then planned ones."""
    out: dict[str, dict[str, Any]] = {}
    for row in old.table("requests").rows:
        if isinstance(row.get("key"), str) and all(row.get(c) is not None for c in REQUEST_COLUMNS):
            out[row["key"]] = row
    report.requests_read = len(out)
    for row in _planned(run_dir, info, report):
        out.setdefault(str(row["key"]), {**row, "active": 1, "created_at": time.time()})
    report.requests = len(out)
    return out


def _planned(run_dir: Path, info: dict[str, Any], report: RepairReport) -> list[dict[str, Any]]:
    try:
        if info.get("ingested_from"):
            return _ingested_rows(info)
        if isinstance(info.get("spec"), dict):
            return _spec_rows(info)
    except UserError as exc:
        report.notes.append(f"could not plan the requests again: {exc}")
        return []
    report.notes.append("run.json holds no spec: requests come from the ledger's rows only")
    return []


def _spec_rows(info: dict[str, Any]) -> list[dict[str, Any]]:
    from pydantic import ValidationError

    from audit.config import SweepSpec
    from audit.sweep import plan

    try:
        spec = SweepSpec.model_validate(info["spec"])
    except ValidationError as exc:
        raise UserError(
            f"the spec in run.json does not load ({exc.error_count()} problems)"
        ) from None
    spec_file = str(info.get("spec_file") or "<spec>")
    # Suites are relative to the spec: where it was (recorded), else beside its file name.
    bases = [Path(info["spec_dir"])] if info.get("spec_dir") else []
    bases.append(Path(spec_file).parent)
    error: UserError | None = None
    for base in bases:
        try:
            return [r.ledger_row() for r in plan(spec, base, spec_file)]
        except UserError as exc:
            error = exc
    assert error is not None
    raise error


def _ingested_rows(info: dict[str, Any]) -> list[dict[str, Any]]:
    from audit.ingest import read_source, request_rows

    src = Path(info["ingested_from"])
    options = info.get("ingest_options") or {}
    items = read_source(src, str(info.get("layout") or "jsonl"), options.get("model"))
    return request_rows(items, src, str(options.get("suite") or "ingested"))


# --- images -----------------------------------------------------------------------------


def _images(
    run_dir: Path, requests: dict[str, dict[str, Any]], old: Salvage, report: RepairReport
) -> dict[str, dict[str, Any]]:
    """key -> image row, one per image file that belongs to a request and decodes."""
    recorded = {r["key"]: r for r in old.table("images").rows if isinstance(r.get("key"), str)}
    order = {key: i for i, key in enumerate(recorded)}
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((run_dir / "images").glob("*/*")):
        if path.name.startswith("."):
            path.unlink(missing_ok=True)  # a temporary file of a write that never finished
            continue
        rel = str(path.relative_to(run_dir))
        key = path.stem
        if (
            not path.is_file()
            or path.suffix not in IMAGE_EXTENSIONS
            or not KEY.match(key)
            or path.parent.name != key[:2]
            or key not in requests
        ):
            report.unknown_files.append(rel)
            continue
        row = _image_row(path, rel, requests[key], recorded.get(key), report)
        if row is not None:
            out[key] = row
    report.images = len(out)
    for key, request in requests.items():
        if key in out or not request.get("active", 1):
            continue
        if str(request.get("source", "")).startswith("ingest:"):
            report.images_lost.append(f"{key[:16]} ({request.get('prompt_id')})")
        else:
            report.to_generate += 1
    # Kept in the order the old ledger had them (exports list images in that order).
    return dict(sorted(out.items(), key=lambda kv: order.get(kv[0], len(order))))


def _image_row(
    path: Path,
    rel: str,
    request: dict[str, Any],
    recorded: dict[str, Any] | None,
    report: RepairReport,
) -> dict[str, Any] | None:
    digest = sha256_file(path)
    if recorded is not None and recorded.get("sha256") == digest and recorded.get("path") == rel:
        return recorded  # the same bytes the ledger recorded: all its facts still hold
    try:
        img = open_image(path)
    except ImageUnreadable:
        report.unreadable.append(rel)
        return None
    generated = not str(request.get("source", "")).startswith("ingest:")
    if generated:
        report.timings_lost += 1
    return {
        "key": request["key"],
        "path": rel,
        "sha256": digest,
        "bytes": path.stat().st_size,
        "gen_seconds": None,
        "peak_mem_mb": None,
        # As the generator judged it: no pixel above 1/255, i.e. all zero once stored.
        "nan_or_black": int(generated and img.getbbox() is None),
        "safety_flag": None,
        "origin": "generated" if generated else "ingested",
        "created_at": path.stat().st_mtime,
    }


# --- scores -----------------------------------------------------------------------------


def _scores(
    old: Salvage, images: set[str], report: RepairReport
) -> dict[str, list[dict[str, Any]]]:
    """The score tables' rows to keep: whole groups only, of instances whose record survived."""
    metrics = old.table("metrics")
    whole_metrics = intact_groups(metrics, lambda r: r["scorer"])
    instances = [r for r in old.table("instances").rows if r.get("scorer") in whole_metrics]
    known = {r["scorer"] for r in instances}

    scores = old.table("scores")
    whole = intact_groups(scores, lambda r: (r["key"], r["scorer"]))
    have_rows = {(r["key"], r["scorer"]) for r in scores.rows}
    scored = [
        r
        for r in old.table("scored").rows
        if r.get("scorer") in known
        and r.get("key") in images
        and _whole((r["key"], r["scorer"]), whole, have_rows, scores)
    ]
    kept = {(r["key"], r["scorer"]) for r in scored}
    # Per-image instances: those with per-image rows, else (rows lost) any not set-level.
    per_image = {r.get("scorer") for r in [*old.table("scored").rows, *scores.rows]}
    if not (scores.complete and old.table("scored").complete):
        set_level = {r.get("scorer") for r in old.table("set_scored").rows}
        per_image |= {r.get("scorer") for r in old.table("instances").rows} - set_level
    report.scores_kept = len(kept)
    report.scores_requeued = len({(k, s) for k in images for s in per_image if s} - kept)

    sets = old.table("set_scores")
    set_whole = intact_groups(sets, lambda r: (r["cell"], r["prompt_id"], r["scorer"]))
    set_rows = {(r["cell"], r["prompt_id"], r["scorer"]) for r in sets.rows}
    set_scored_all = old.table("set_scored")
    set_scored = [
        r
        for r in set_scored_all.rows
        if r.get("scorer") in known
        and _whole((r["cell"], r["prompt_id"], r["scorer"]), set_whole, set_rows, sets)
    ]
    set_kept = {(r["cell"], r["prompt_id"], r["scorer"]) for r in set_scored}
    report.sets_kept = len(set_kept)
    report.sets_requeued = len(set_scored_all.rows) - len(set_kept)
    if not set_scored_all.complete:
        report.notes.append("some set-level groups were unreadable; `score` recomputes them")
    return {
        "instances": instances,
        "metrics": [r for r in metrics.rows if r.get("scorer") in known],
        "scored": scored,
        "scores": [r for r in scores.rows if (r["key"], r["scorer"]) in kept],
        "set_scored": set_scored,
        "set_scores": [
            r for r in sets.rows if (r["cell"], r["prompt_id"], r["scorer"]) in set_kept
        ],
    }


def _whole(group: Any, whole: set[Any], have_rows: set[Any], table: SalvagedTable) -> bool:
    """A group's rows all survived; a group with no row at all (every value None) only counts
    as whole if nothing in its table was lost."""
    return group in whole if group in have_rows else table.complete


# --- writing ----------------------------------------------------------------------------


def _write(
    run_dir: Path,
    requests: dict[str, dict[str, Any]],
    images: dict[str, dict[str, Any]],
    tables: dict[str, list[dict[str, Any]]],
    old: Salvage,
    report: RepairReport,
) -> None:
    """Build the new ledger beside the old one, then swap: a crash midway leaves the old one
    (or, after the first rename, no ledger and the damaged copy, which a rerun salvages)."""
    db = run_dir / LEDGER
    new = run_dir / REBUILDING
    for leftover in (new, Path(f"{new}-wal"), Path(f"{new}-shm")):
        leftover.unlink(missing_ok=True)
    ledger = Ledger(new)
    try:
        ledger.restore("requests", requests.values())
        ledger.restore("images", images.values())
        for name in ("instances", "metrics", "scored", "scores", "set_scored", "set_scores"):
            ledger.restore(name, tables[name])
        ledger.restore("meta", _meta(old.table("meta").rows))
        report.timing_cells_kept = ledger.restore("timings", _timings(old.table("timings").rows))
    finally:
        ledger.close()
    if db.exists():
        stamp = time.strftime("%Y%m%d-%H%M%S")
        report.kept_as = run_dir / f"{DAMAGED_PREFIX}{stamp}"
        os.replace(db, report.kept_as)
        for suffix in ("-wal", "-shm"):
            side = Path(f"{db}{suffix}")
            if side.exists():
                os.replace(side, Path(f"{report.kept_as}{suffix}"))
    os.replace(new, db)


def _timings(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Timing-pass records that read whole: each is one cell's, written in one statement, so
    a row with every column and a record that parses is the record as measured."""
    kept = []
    for row in rows:
        if any(row.get(col) is None for col in TIMING_COLUMNS):
            continue
        try:
            record = json.loads(row["record"])
        except (TypeError, ValueError):
            continue
        if isinstance(record, dict):
            kept.append(row)
    return kept


def _meta(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = [r for r in rows if r.get("name") == "migrated_from"]
    return [*kept, {"name": "schema_version", "value": str(SCHEMA_VERSION)}]

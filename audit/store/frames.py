"""The one reader of run directories: builds pandas frames for report, gate and dashboard.

`load_frames(path)` takes a run directory or an exported csv/parquet file. Nothing
downstream opens SQLite or image files by itself.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from audit.errors import UserError
from audit.store.failures import is_corruption, ledger_damaged
from audit.store.ledger import SCHEMA_VERSION, connect_readonly
from audit.vocab import BASE_COLUMNS, EXTRA_COLUMNS, SET_COLUMNS, Metric


@dataclass
class Frames:
    images: pd.DataFrame
    sets: pd.DataFrame
    catalog: dict[str, Metric] = field(default_factory=dict)
    run_info: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def metric_columns(self) -> list[str]:
        described = {*BASE_COLUMNS, *EXTRA_COLUMNS}
        return [c for c in self.images.columns if c not in described]


def ledger_mtime(run_dir: Path) -> float:
    """Changes whenever the ledger does (WAL included): the dashboard's cache key."""
    paths = [run_dir / "ledger.sqlite", run_dir / "ledger.sqlite-wal", run_dir / "run.json"]
    return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)


def _connect_readonly(db: Path) -> sqlite3.Connection:
    try:
        return connect_readonly(db)
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc):
            raise ledger_damaged(db, str(exc)) from exc
        raise


def run_progress(run_dir: Path) -> tuple[int, int]:
    """(active requests, of which have an image): a sweep's progress, read while it runs.

    Only counts, so the dashboard can poll it cheaply; (0, 0) when there is no ledger yet.
    """
    db = run_dir / "ledger.sqlite"
    if not db.is_file():
        return 0, 0
    conn = _connect_readonly(db)
    try:
        row = conn.execute(
            "SELECT COUNT(*), COUNT(i.key) FROM requests r LEFT JOIN images i USING (key) "
            "WHERE r.active = 1"
        ).fetchone()
    except sqlite3.DatabaseError:
        return 0, 0  # a ledger being created has no tables yet; a damaged one says so on open
    finally:
        conn.close()
    return int(row[0]), int(row[1])


def run_info(run_dir: Path) -> dict[str, Any]:
    """The run's run.json ({} when absent or unreadable, e.g. mid-write on another OS): what a
    listing of many runs needs without reading their ledgers."""
    try:
        loaded = json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def load_run(run_dir: Path, *, active_only: bool = True) -> Frames:
    db = run_dir / "ledger.sqlite"
    if not db.is_file():
        raise UserError(
            "not a t2i-audit run directory (no ledger.sqlite)",
            file=run_dir,
            fix="give a directory made by `t2i-audit run` or `t2i-audit ingest`",
        )
    where = "WHERE r.active = 1" if active_only else ""
    conn = _connect_readonly(db)
    try:
        # One snapshot for every query below: a writer rewriting scores meanwhile is seen
        # entirely or not at all, never half a transaction, and is never blocked (WAL).
        conn.execute("BEGIN")
        _check_schema(conn, db)
        images = pd.read_sql_query(
            "SELECT r.key, r.model, r.sampler, r.steps, r.guidance, r.seed, r.prompt_id, r.prompt,"
            " r.category, r.width, r.height, i.path AS image_path, i.gen_seconds, i.peak_mem_mb,"
            " i.nan_or_black, r.suite, i.safety_flag, r.source, r.dtype, r.negative, i.origin "
            f"FROM images i JOIN requests r USING (key) {where} ORDER BY i.rowid",
            conn,
        )
        scores = pd.read_sql_query(
            "SELECT s.key, s.metric, s.value, s.text FROM scores s "
            f"JOIN requests r USING (key) {where}",
            conn,
        )
        sets = pd.read_sql_query(f"SELECT {', '.join(SET_COLUMNS)} FROM set_scores", conn)
        catalog = {
            row[0]: Metric(row[0], row[2], row[3], row[4])
            for row in conn.execute(
                "SELECT name, scorer, direction, kind, description FROM metrics"
            )
        }
    except (sqlite3.DatabaseError, pd.errors.DatabaseError) as exc:
        cause = exc.__cause__ if isinstance(exc, pd.errors.DatabaseError) else exc  # pandas wraps
        if cause is not None and is_corruption(cause):
            raise ledger_damaged(db, str(cause)) from exc
        raise
    finally:
        conn.close()
    base = str(run_dir.resolve())  # once: resolving per row cost 1.4 s on 20,000 images
    images["image_path"] = [os.path.join(base, p) for p in images["image_path"]]
    images["nan_or_black"] = images["nan_or_black"].astype(bool)
    images.insert(images.columns.get_loc("suite"), "run", run_dir.name)
    images = _attach_scores(images, scores, catalog)
    info_file = run_dir / "run.json"
    info = json.loads(info_file.read_text()) if info_file.is_file() else {}
    return Frames(images, sets, catalog, info, str(run_dir))


def _check_schema(conn: sqlite3.Connection, db: Path) -> None:
    """Frames of an older ledger would mix scores of unknown options: refuse, say how."""
    row = conn.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()
    version = int(row[0]) if row else SCHEMA_VERSION
    if version != SCHEMA_VERSION:
        raise UserError(
            f"this run's ledger has schema version {version}, not {SCHEMA_VERSION}",
            file=db,
            fix="run `t2i-audit score RUN_DIR` once: it migrates the ledger and scores again",
        )


def _attach_scores(
    images: pd.DataFrame, scores: pd.DataFrame, catalog: dict[str, Metric]
) -> pd.DataFrame:
    if scores.empty:
        return images
    numeric = scores.dropna(subset=["value"])
    wide = numeric.pivot(index="key", columns="metric", values="value")
    text = scores.dropna(subset=["text"])
    if not text.empty:
        wide = wide.join(text.pivot(index="key", columns="metric", values="text"), how="outer")
    ordered = sorted(wide.columns, key=lambda m: (m not in catalog, m))
    return images.merge(wide[ordered], left_on="key", right_index=True, how="left")


CATALOG_KEY = "t2i_audit.metrics"  # parquet schema metadata; csv: a `<file>.metrics.json` beside


def catalog_sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".metrics.json")


def write_export(frames: Frames, path: Path, fmt: str) -> pd.DataFrame:
    """Write the export table with the metric declarations it needs to be gated on its own
    (directions travel with the numbers: a baseline export is gated like a run)."""
    table = export_table(frames)
    columns = set(table.columns)
    catalog = {n: asdict(m) for n, m in frames.catalog.items() if n in columns}
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrow = pa.Table.from_pandas(table, preserve_index=False)
        meta = {**(arrow.schema.metadata or {}), CATALOG_KEY.encode(): json.dumps(catalog)}
        pq.write_table(arrow.replace_schema_metadata(meta), path)
    else:
        table.to_csv(path, index=False)
        catalog_sidecar(path).write_text(json.dumps(catalog, indent=1) + "\n")
    return table


def _export_catalog(path: Path) -> dict[str, Metric]:
    raw: Any = None
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        raw = meta.get(CATALOG_KEY.encode())
    elif catalog_sidecar(path).is_file():
        raw = catalog_sidecar(path).read_text()
    if raw is None:
        return {}  # an export of an older version, or a table made by hand
    try:
        return {n: Metric(**m) for n, m in json.loads(raw).items()}
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise UserError(
            f"unreadable metric declarations ({exc})",
            file=catalog_sidecar(path) if path.suffix == ".csv" else path,
            fix="export the run again with `t2i-audit export`",
        ) from None


def load_export(path: Path) -> Frames:
    if path.suffix not in (".parquet", ".csv"):
        raise UserError(
            f"unsupported score file type {path.suffix!r}",
            file=path,
            fix="give a run directory, or a .csv/.parquet file made by `t2i-audit export`",
        )
    try:
        images = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # pandas and pyarrow raise many types for a damaged file
        raise UserError(
            f"not a readable {path.suffix[1:]} file ({type(exc).__name__}: {exc})",
            file=path,
            fix="export the run again with `t2i-audit export`",
        ) from None
    lacking = [c for c in ("key", "model", "prompt_id", "seed") if c not in images.columns]
    if lacking:
        raise UserError(
            f"missing columns {lacking}", file=path, fix="export it again with `t2i-audit export`"
        )
    catalog = _export_catalog(path)
    return Frames(images, pd.DataFrame(columns=list(SET_COLUMNS)), catalog, {}, str(path))


def load_frames(path: str | Path) -> Frames:
    path = Path(path)
    if path.is_dir():
        return load_run(path)
    if path.is_file():
        return load_export(path)
    raise UserError("no such run directory or score file", file=path, fix="check the path")


def export_table(frames: Frames) -> pd.DataFrame:
    """One row per image: the documented base columns, then one column per metric."""
    images = frames.images
    return images[[c for c in BASE_COLUMNS if c in images.columns] + frames.metric_columns]

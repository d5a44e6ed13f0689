"""The versioned SQLite ledger of a run (WAL mode, so the dashboard can read during a sweep).

Only this module writes SQL; `frames.py` is the only reader that builds tables from it.

Schema 2 stores each score with the identity of the scorer instance that made it (name,
version, canonical options, what it loaded: `audit.scorers.identity`), so a changed option
recomputes instead of keeping old numbers. A scorer instance is named by its `as` label, or
by the scorer's name when unlabelled; the `scorer` columns below hold that instance name.
A schema-1 ledger is migrated on open: requests and images are kept, and its scores, whose
options were never recorded, are dropped so they are computed again, never mixed.

Schema 3 adds `timings`: each cell's timing pass (`audit.generate.timing`), the one source of
a run's speed figures. A schema-2 ledger is migrated on open by adding the table; nothing is
dropped. A new timing record of a cell makes the set scores that read it stale (the sweep
names them), so they are computed again from it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.errors import UserError
from audit.faults import crash_point
from audit.store.failures import ledger_damaged, sqlite_failure
from audit.vocab import CELL, REQUEST_COLUMNS, Metric

SCHEMA_VERSION = 3

META = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
SCORE_TABLES = ("scored", "scores", "set_scores", "set_scored", "metrics", "instances")

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL, source TEXT NOT NULL, fingerprint TEXT NOT NULL, dtype TEXT NOT NULL,
    sampler TEXT NOT NULL, steps INTEGER NOT NULL, guidance REAL NOT NULL,
    width INTEGER NOT NULL, height INTEGER NOT NULL, seed INTEGER NOT NULL,
    suite TEXT NOT NULL, prompt_id TEXT NOT NULL, prompt TEXT NOT NULL, negative TEXT NOT NULL,
    category TEXT NOT NULL, expect_json TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,  -- part of the spec as last run
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS images (
    key TEXT PRIMARY KEY REFERENCES requests(key),
    path TEXT NOT NULL,            -- relative to the run directory
    sha256 TEXT NOT NULL, bytes INTEGER NOT NULL,
    gen_seconds REAL, peak_mem_mb REAL,
    nan_or_black INTEGER NOT NULL DEFAULT 0, safety_flag INTEGER,
    origin TEXT NOT NULL,          -- generated | ingested
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS instances (  -- each scorer instance as last run
    scorer TEXT PRIMARY KEY, name TEXT NOT NULL, label TEXT, version TEXT NOT NULL,
    identity TEXT NOT NULL, record TEXT NOT NULL  -- JSON: options and what it loaded
);
CREATE TABLE IF NOT EXISTS scored (
    key TEXT NOT NULL, scorer TEXT NOT NULL, identity TEXT NOT NULL, created_at REAL NOT NULL,
    PRIMARY KEY (key, scorer)
);
CREATE TABLE IF NOT EXISTS scores (
    key TEXT NOT NULL, scorer TEXT NOT NULL, metric TEXT NOT NULL,
    value REAL, text TEXT,
    PRIMARY KEY (key, metric)
);
CREATE TABLE IF NOT EXISTS set_scores (
    cell TEXT NOT NULL, scorer TEXT NOT NULL, identity TEXT NOT NULL, metric TEXT NOT NULL,
    model TEXT NOT NULL, sampler TEXT NOT NULL, steps INTEGER NOT NULL, guidance REAL NOT NULL,
    width INTEGER NOT NULL, height INTEGER NOT NULL, prompt_id TEXT NOT NULL DEFAULT '',
    value REAL, text TEXT, ci_low REAL, ci_high REAL, n INTEGER, label TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (cell, prompt_id, metric)
);
CREATE TABLE IF NOT EXISTS set_scored (  -- groups done, even those that yield no value
    cell TEXT NOT NULL, prompt_id TEXT NOT NULL, scorer TEXT NOT NULL, identity TEXT NOT NULL,
    inputs TEXT NOT NULL,  -- digest of the image keys the values were computed from
    PRIMARY KEY (cell, prompt_id, scorer)
);
CREATE TABLE IF NOT EXISTS metrics (
    name TEXT PRIMARY KEY, scorer TEXT NOT NULL, direction TEXT NOT NULL, kind TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS timings (  -- each cell's timing pass, as last measured
    model TEXT NOT NULL, sampler TEXT NOT NULL, steps INTEGER NOT NULL, guidance REAL NOT NULL,
    width INTEGER NOT NULL, height INTEGER NOT NULL,
    identity TEXT NOT NULL,  -- what decides the speed: weights, dtype, runtime, pass settings
    record TEXT NOT NULL,    -- JSON: per-batch seconds, median, spread, device, load average
    created_at REAL NOT NULL,
    PRIMARY KEY (model, sampler, steps, guidance, width, height)
);
CREATE INDEX IF NOT EXISTS scores_by_scorer ON scores(scorer);
"""
TIMING_JOIN = (
    "LEFT JOIN timings t ON t.model = r.model AND t.sampler = r.sampler AND t.steps = r.steps "
    "AND t.guidance = r.guidance AND t.width = r.width AND t.height = r.height"
)


def connect_readonly(db: Path, *, untouched: bool = False) -> sqlite3.Connection:
    """A connection that can neither write nor block the writer (WAL readers see the last
    committed state). In a directory this process may not write (a read-only copy of a
    run), SQLite cannot make the WAL index it needs; with no WAL file there, no writer is
    active, so the file is read as immutable instead. `untouched`: read as immutable
    whenever no WAL file is there, so that not even SQLite's WAL index files appear beside
    the ledger (`plan` leaves a run exactly as it found it)."""
    wal = db.with_name(db.name + "-wal")
    if untouched and not wal.exists():
        return sqlite3.connect(
            f"file:{db}?immutable=1", uri=True, timeout=30.0, isolation_level=None
        )
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30.0, isolation_level=None)
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.OperationalError:
        if os.access(db.parent, os.W_OK) or wal.exists():
            raise
        conn.close()
        conn = sqlite3.connect(
            f"file:{db}?immutable=1", uri=True, timeout=30.0, isolation_level=None
        )
    return conn


@dataclass(frozen=True)
class ImageRecord:
    key: str
    path: str
    sha256: str
    bytes: int
    gen_seconds: float | None
    peak_mem_mb: float | None
    nan_or_black: bool
    safety_flag: bool | None
    origin: str


class Ledger:
    """A ledger opened for writing (the caller holds the run's writer lock), or with
    `readonly=True` for a reader that must neither block nor change it (`verify`)."""

    def __init__(
        self, path: Path, *, create: bool = True, readonly: bool = False, untouched: bool = False
    ) -> None:
        if (readonly or not create) and not path.is_file():
            raise UserError(
                "no ledger here: this is not a t2i-audit run directory",
                file=path.parent,
                fix="give a directory made by `t2i-audit run` or `t2i-audit ingest`",
            )
        self.path = path
        self.migrated_from: int | None = None  # schema version this ledger was migrated from
        self._untouched = untouched  # readonly: leave no WAL index files (connect_readonly)
        try:
            self._open(readonly)
        except sqlite3.Error as exc:
            failure = sqlite_failure(exc, path)
            if failure is None:
                raise
            raise failure from exc

    def _open(self, readonly: bool) -> None:
        if readonly:
            self.conn = connect_readonly(self.path, untouched=self._untouched)
        else:
            self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        # A damaged page fails every command later, one way or another: say so at the door,
        # before anything is written (quick_check reads each page once: milliseconds for a
        # run of a few thousand images).
        problems = [r[0] for r in self.conn.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise ledger_damaged(self.path, "; ".join(problems))
        if readonly:
            return
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(META)
        self._check_version()
        self.conn.executescript(SCHEMA)

    def _check_version(self) -> None:
        row = self.conn.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()
        if row is None:
            self._set_version()
        elif int(row[0]) == 1:
            self._migrate_from_1()
        elif int(row[0]) == 2:
            self._migrate_from_2()
        elif int(row[0]) != SCHEMA_VERSION:
            raise UserError(
                f"ledger schema version {row[0]} is not the supported {SCHEMA_VERSION}",
                file=self.path,
                fix="use the t2i-audit version that made this run, or start over with --fresh",
            )

    def _set_version(self) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )

    def _migrate_from_1(self) -> None:
        # Schema 1 keyed scores by (scorer, version) only: the options they were computed with
        # are unknown, so they cannot be trusted beside schema-2 scores. Keep what can be
        # kept (requests, images) and let the next `score` recompute the rest.
        with self.transaction() as c:
            for table in SCORE_TABLES:
                c.execute(f"DROP TABLE IF EXISTS {table}")
            c.execute("INSERT OR REPLACE INTO meta VALUES ('migrated_from', '1')")
            c.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        self.migrated_from = 1

    def _migrate_from_2(self) -> None:
        # Schema 3 only adds the `timings` table (created by SCHEMA right after): keep all.
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO meta VALUES ('migrated_from', '2')")
            c.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        self.migrated_from = 2

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing. A write the disk refuses (full, read-only) or a damaged page is a
        UserError naming the ledger; SQLite has rolled back by then."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:  # SQLite rolls back by itself on a full disk
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            failure = sqlite_failure(exc, self.path)
            if failure is None:
                raise
            raise failure from exc

    # --- requests -----------------------------------------------------------------------

    def upsert_requests(self, rows: Iterable[dict[str, Any]], *, deactivate_others: bool) -> None:
        now = time.time()
        with self.transaction() as c:
            if deactivate_others:
                c.execute("UPDATE requests SET active = 0")
            c.executemany(
                f"INSERT INTO requests ({', '.join(REQUEST_COLUMNS)}, active, created_at) "
                f"VALUES ({', '.join('?' * len(REQUEST_COLUMNS))}, 1, ?) "
                "ON CONFLICT(key) DO UPDATE SET active = 1, category = excluded.category, "
                "expect_json = excluded.expect_json",
                ([row[c] for c in REQUEST_COLUMNS] + [now] for row in rows),
            )

    def image_paths(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.conn.execute("SELECT key, path FROM images")}

    def delete_images(self, keys: Sequence[str]) -> None:
        with self.transaction() as c:
            c.executemany("DELETE FROM images WHERE key = ?", ((k,) for k in keys))
            c.executemany("DELETE FROM scores WHERE key = ?", ((k,) for k in keys))
            c.executemany("DELETE FROM scored WHERE key = ?", ((k,) for k in keys))

    def record_image(self, rec: ImageRecord) -> None:
        self.record_images([rec])

    def record_images(self, recs: Iterable[ImageRecord]) -> None:
        """Record images (already on disk) in one transaction."""
        now = time.time()
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO images VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        rec.key,
                        rec.path,
                        rec.sha256,
                        rec.bytes,
                        rec.gen_seconds,
                        rec.peak_mem_mb,
                        int(rec.nan_or_black),
                        None if rec.safety_flag is None else int(rec.safety_flag),
                        rec.origin,
                        now,
                    )  # fmt: skip
                    for rec in recs
                ),
            )

    def images(self, *, active_only: bool = True) -> list[sqlite3.Row]:
        """Every stored image joined with its request, in insertion order; `timing` is its
        cell's timing record (JSON), or None when the cell has none."""
        where = "WHERE r.active = 1" if active_only else ""
        return self.conn.execute(
            "SELECT r.*, i.path, i.sha256, i.bytes, i.gen_seconds, i.peak_mem_mb, "
            "i.nan_or_black, i.safety_flag, i.origin, t.record AS timing FROM images i "
            f"JOIN requests r USING (key) {TIMING_JOIN} {where} ORDER BY i.rowid"
        ).fetchall()

    def image_bytes(self) -> list[tuple[str, int, int, float, int]]:
        """(model fingerprint, width, height, mean file bytes, images) of the stored images."""
        rows = self.conn.execute(
            "SELECT r.fingerprint, r.width, r.height, AVG(i.bytes), COUNT(*) FROM images i "
            "JOIN requests r USING (key) GROUP BY r.fingerprint, r.width, r.height"
        )
        return [(str(a), int(b), int(c), float(d), int(e)) for a, b, c, d, e in rows]

    # --- timings ------------------------------------------------------------------------

    def _has_timings(self) -> bool:
        # A schema-2 ledger opened read-only (`plan`, never migrated) has no such table.
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'timings'"
        return self.conn.execute(query).fetchone() is not None

    def timing_identities(self) -> dict[tuple[Any, ...], str]:
        """Cell (audit.vocab.CELL order) -> identity of its stored timing record."""
        if not self._has_timings():
            return {}
        return {
            tuple(r[:6]): r[6]
            for r in self.conn.execute(
                "SELECT model, sampler, steps, guidance, width, height, identity FROM timings"
            )
        }

    def timings(self) -> list[dict[str, Any]]:
        """Every stored timing record (JSON decoded), in the order they were measured."""
        if not self._has_timings():
            return []
        return [
            json.loads(r[0]) for r in self.conn.execute("SELECT record FROM timings ORDER BY rowid")
        ]

    def record_timing(
        self, cell: dict[str, Any], identity: str, record: dict[str, Any], *, stale: Sequence[str]
    ) -> None:
        """Store a cell's timing record; the stored set scores of the cell by the scorers
        named in `stale` (scorer names, not instances) are dropped, to be computed again."""
        values = [cell[c] for c in CELL]
        cell_id = json.dumps(cell, sort_keys=True)
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO timings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, identity, json.dumps(record, sort_keys=True), time.time()),
            )
            names = ", ".join("?" * len(stale))
            instances = f"SELECT scorer FROM instances WHERE name IN ({names})"
            for table in ("set_scored", "set_scores"):
                c.execute(
                    f"DELETE FROM {table} WHERE cell = ? AND scorer IN ({instances})",
                    (cell_id, *stale),
                )

    # --- scores -------------------------------------------------------------------------

    def scored_identities(self, scorer: str) -> dict[str, str]:
        """key -> identity of the stored scores of one scorer instance."""
        return {
            r[0]: r[1]
            for r in self.conn.execute(
                "SELECT key, identity FROM scored WHERE scorer = ?", (scorer,)
            )
        }

    def record_instance(
        self, scorer: str, record: dict[str, Any], metrics: Iterable[Metric]
    ) -> None:
        """A scorer instance as run now, with the columns it emits (already labelled)."""
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO instances VALUES (?, ?, ?, ?, ?, ?)",
                (
                    scorer, record["scorer"], record.get("label"), record["version"],
                    record["identity"], json.dumps(record, sort_keys=True),
                ),
            )  # fmt: skip
            c.execute("DELETE FROM metrics WHERE scorer = ?", (scorer,))
            c.executemany(
                "INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, ?, ?)",
                ((m.name, scorer, m.direction, m.kind, m.description) for m in metrics),
            )

    def instances(self) -> dict[str, dict[str, Any]]:
        """Scorer instance -> its record (scorer, label, version, options, loads, identity)."""
        return {
            r[0]: json.loads(r[1])
            for r in self.conn.execute("SELECT scorer, record FROM instances")
        }

    def record_scores(
        self, scorer: str, identity: str, rows: Sequence[tuple[str, dict[str, Any]]]
    ) -> None:
        now = time.time()
        with self.transaction() as c:
            for key, values in rows:
                # "+scorer" keeps SQLite on the primary-key index (by key): the scorer index
                # would scan every earlier row of this scorer, quadratic in the run size.
                c.execute("DELETE FROM scores WHERE key = ? AND +scorer = ?", (key, scorer))
                for metric, value in values.items():
                    if value is None:
                        continue
                    if isinstance(value, str):
                        c.execute(
                            "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, NULL, ?)",
                            (key, scorer, metric, value),
                        )
                    else:
                        c.execute(
                            "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, NULL)",
                            (key, scorer, metric, float(value)),
                        )
                c.execute(
                    "INSERT OR REPLACE INTO scored VALUES (?, ?, ?, ?)",
                    (key, scorer, identity, now),
                )
                crash_point("score-row")

    def set_score_inputs(self, scorer: str) -> dict[tuple[str, str], tuple[str, str]]:
        """(cell, prompt_id) -> (identity, digest of inputs) of a set scorer's stored results."""
        return {
            (r[0], r[1]): (r[2], r[3])
            for r in self.conn.execute(
                "SELECT cell, prompt_id, identity, inputs FROM set_scored WHERE scorer = ?",
                (scorer,),
            )
        }

    def record_set_scores(
        self,
        scorer: str,
        identity: str,
        cell: dict[str, Any],
        prompt_id: str,
        values: dict[str, Any],
        *,
        label: str,
        n: int,
        inputs: str,
    ) -> None:
        cell_id = json.dumps(cell, sort_keys=True)
        with self.transaction() as c:
            c.execute(
                "DELETE FROM set_scores WHERE cell = ? AND prompt_id = ? AND scorer = ?",
                (cell_id, prompt_id, scorer),
            )
            c.execute(
                "INSERT OR REPLACE INTO set_scored VALUES (?, ?, ?, ?, ?)",
                (cell_id, prompt_id, scorer, identity, inputs),
            )
            for metric, value in values.items():
                if metric.endswith(("_ci_low", "_ci_high")) or value is None:
                    continue
                text = value if isinstance(value, str) else None
                num = None if isinstance(value, str) else float(value)
                c.execute(
                    "INSERT INTO set_scores VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        cell_id, scorer, identity, metric, cell["model"], cell["sampler"],
                        cell["steps"], cell["guidance"], cell["width"], cell["height"], prompt_id,
                        num, text, values.get(f"{metric}_ci_low"), values.get(f"{metric}_ci_high"),
                        n, label,
                    ),
                )  # fmt: skip
            crash_point("set-row")

    # --- repair ---------------------------------------------------------------------------

    def restore(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        """Insert rows saved from a damaged ledger (`audit.store.salvage`) into this new
        one, table by table; columns this schema does not have are dropped."""
        columns = [r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")]
        if not columns or table not in (*SCORE_TABLES, "requests", "images", "meta", "timings"):
            raise ValueError(f"not a ledger table: {table!r}")
        n = 0
        with self.transaction() as c:
            for row in rows:
                names = [col for col in columns if col in row]
                c.execute(
                    f"INSERT OR REPLACE INTO {table} ({', '.join(names)}) "
                    f"VALUES ({', '.join('?' * len(names))})",
                    [row[col] for col in names],
                )
                n += 1
        return n

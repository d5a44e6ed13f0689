"""The ledger: scores tied to their scorer instance's identity; old schemas migrated, not mixed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from audit.errors import UserError
from audit.store.frames import load_run
from audit.store.ledger import SCHEMA_VERSION, Ledger
from audit.store.run_store import RunStore
from audit.vocab import Metric

# The schema-1 tables as t2i-audit 0.1.0 (commit 3543d34) created them, trimmed to the
# columns these tests fill: enough to check that a run of the first build migrates.
SCHEMA_1 = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
CREATE TABLE requests (
    key TEXT PRIMARY KEY, model TEXT NOT NULL, source TEXT NOT NULL, fingerprint TEXT NOT NULL,
    dtype TEXT NOT NULL, sampler TEXT NOT NULL, steps INTEGER NOT NULL, guidance REAL NOT NULL,
    width INTEGER NOT NULL, height INTEGER NOT NULL, seed INTEGER NOT NULL, suite TEXT NOT NULL,
    prompt_id TEXT NOT NULL, prompt TEXT NOT NULL, negative TEXT NOT NULL,
    category TEXT NOT NULL, expect_json TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL
);
CREATE TABLE images (
    key TEXT PRIMARY KEY, path TEXT NOT NULL, sha256 TEXT NOT NULL, bytes INTEGER NOT NULL,
    gen_seconds REAL, peak_mem_mb REAL, nan_or_black INTEGER NOT NULL DEFAULT 0,
    safety_flag INTEGER, origin TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE scored (key TEXT NOT NULL, scorer TEXT NOT NULL, version TEXT NOT NULL,
    created_at REAL NOT NULL, PRIMARY KEY (key, scorer));
CREATE TABLE scores (key TEXT NOT NULL, scorer TEXT NOT NULL, metric TEXT NOT NULL,
    value REAL, text TEXT, PRIMARY KEY (key, metric));
CREATE TABLE metrics (name TEXT PRIMARY KEY, scorer TEXT NOT NULL, direction TEXT NOT NULL,
    kind TEXT NOT NULL, description TEXT NOT NULL DEFAULT '');
"""
KEY = "ab" * 32


def _v1_run(folder: Path) -> Path:
    folder.mkdir()
    conn = sqlite3.connect(folder / "ledger.sqlite")
    conn.executescript(SCHEMA_1)
    conn.execute(
        "INSERT INTO requests VALUES (?, 'm', 'builtin:x', 'f', 'float32', 'ddim', 2, 1.0, 8, 8,"
        " 0, 's', 'p0', 'a red cube', '', 'c', '{}', 1, 0)",
        (KEY,),
    )
    conn.execute(
        "INSERT INTO images VALUES (?, ?, 'h', 1, 0.1, 1.0, 0, NULL, 'generated', 0)",
        (KEY, f"images/ab/{KEY}.png"),
    )
    conn.execute("INSERT INTO scored VALUES (?, 'watermark', '1', 0)", (KEY,))
    conn.execute("INSERT INTO scores VALUES (?, 'watermark', 'wm_bit_accuracy', 0.5, NULL)", (KEY,))
    conn.execute("INSERT INTO metrics VALUES ('wm_bit_accuracy', 'watermark', 'higher', 'c', '')")
    conn.commit()
    conn.close()
    return folder


def test_a_schema_1_run_is_refused_by_readers_until_migrated(tmp_path: Path) -> None:
    run = _v1_run(tmp_path / "old")
    with pytest.raises(UserError) as err:
        load_run(run)
    assert "schema version 1" in err.value.problem and "t2i-audit score" in (err.value.fix or "")


def test_opening_a_schema_1_run_keeps_images_and_drops_untrusted_scores(tmp_path: Path) -> None:
    run = _v1_run(tmp_path / "old")
    store = RunStore.open(run)
    try:
        assert store.ledger.migrated_from == 1
        assert [r["key"] for r in store.ledger.images()] == [KEY]
        assert store.ledger.scored_identities("watermark") == {}
    finally:
        store.close()
    info = json.loads((run / "run.json").read_text())
    assert info["ledger_migration"]["from_schema"] == 1
    frames = load_run(run)  # readers accept it now
    assert len(frames.images) == 1 and "wm_bit_accuracy" not in frames.images.columns
    again = Ledger(run / "ledger.sqlite")  # a second open has nothing left to migrate
    assert again.migrated_from is None
    again.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "ledger.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(UserError, match="not the supported"):
        Ledger(db)


def test_scores_carry_the_identity_they_were_computed_with(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    record = {"scorer": "watermark", "label": "wm2", "version": "1", "identity": "id-a"}
    ledger.record_instance("wm2", record, [Metric("wm_bit_accuracy@wm2", "higher")])
    ledger.record_scores("wm2", "id-a", [(KEY, {"wm_bit_accuracy@wm2": 1.0})])
    assert ledger.scored_identities("wm2") == {KEY: "id-a"}
    assert ledger.scored_identities("watermark") == {}
    # A new identity replaces the instance's declared metrics and its values, key by key.
    ledger.record_instance("wm2", {**record, "identity": "id-b"}, [Metric("other@wm2", "lower")])
    ledger.record_scores("wm2", "id-b", [(KEY, {"other@wm2": 2.0})])
    assert ledger.scored_identities("wm2") == {KEY: "id-b"}
    rows = ledger.conn.execute("SELECT metric FROM scores WHERE key = ?", (KEY,)).fetchall()
    assert [r[0] for r in rows] == ["other@wm2"]
    names = [r[0] for r in ledger.conn.execute("SELECT name FROM metrics").fetchall()]
    assert names == ["other@wm2"]
    assert ledger.instances()["wm2"]["identity"] == "id-b"
    ledger.close()

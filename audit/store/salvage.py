"""Read what can still be read from a damaged SQLite file, row by row, like sqlite's `.recover`.

Each table is scanned in rowid order. Where a damaged page stops the scan, the next readable
rowid is found by seeking past the damage (doubling the jump, then bisecting back), and the
rowids in between are recorded as a lost interval. Rows are never guessed: a row is either
read whole or counted lost. Index pages are never used, so a damaged index loses nothing.

`intact_groups` says which groups of rows written in one transaction (one image's scores,
one scorer's metric list) survived whole: the ledger writes such a group as consecutive
rowids, so a group with no gap inside and no lost interval at either end is complete.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_ROWID = 2**63 - 1


@dataclass
class SalvagedTable:
    rows: list[dict[str, Any]] = field(default_factory=list)  # each with its "rowid"
    # (last readable rowid before, first readable after); None = the table's start / end
    lost: list[tuple[int | None, int | None]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.lost


@dataclass
class Salvage:
    tables: dict[str, SalvagedTable] = field(default_factory=dict)
    unreadable_schema: bool = False  # nothing could be listed (page 1 or the schema is gone)

    def table(self, name: str) -> SalvagedTable:
        """A table's rows; a table that could not be read at all counts as wholly lost."""
        return self.tables.get(name) or SalvagedTable(lost=[(None, None)])


def salvage(db: Path) -> Salvage:
    if not db.is_file():
        return Salvage(unreadable_schema=True)
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error:
        return Salvage(unreadable_schema=True)
    try:
        conn.execute("PRAGMA cell_size_check=ON")  # refuse malformed cells instead of reading them
        try:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%'"
                )
            ]
        except sqlite3.DatabaseError:
            return Salvage(unreadable_schema=True)
        return Salvage({name: _scan(conn, name) for name in names})
    finally:
        conn.close()


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]


def _scan(conn: sqlite3.Connection, table: str) -> SalvagedTable:
    out = SalvagedTable()
    try:
        columns = ["rowid", *_columns(conn, table)]
    except sqlite3.DatabaseError:
        return SalvagedTable(lost=[(None, None)])
    select = f'SELECT rowid, * FROM "{table}" WHERE rowid > ? ORDER BY rowid'
    last: int | None = None  # last rowid read
    resumed: set[int] = set()
    while True:
        try:
            for row in conn.execute(select, (-MAX_ROWID - 1 if last is None else last,)):
                out.rows.append(dict(zip(columns, row, strict=True)))
                last = row[0]
            return out
        except sqlite3.DatabaseError:
            after = _next_readable(conn, table, last)
            while after is not None and after in resumed:  # read once, failed in the scan
                after = _next_readable(conn, table, after)
            if after is not None:
                resumed.add(after)
            out.lost.append((last, after))
            if after is None:
                return out
            last = after - 1  # the loop reads `after` itself next


def _readable_from(conn: sqlite3.Connection, table: str, start: int) -> int | None:
    """The first rowid >= start if the seek to it and its whole row read; raises if not."""
    row = conn.execute(
        f'SELECT rowid, * FROM "{table}" WHERE rowid >= ? ORDER BY rowid LIMIT 1', (start,)
    ).fetchone()
    return MAX_ROWID if row is None else int(row[0])  # MAX_ROWID: nothing further


def _next_readable(conn: sqlite3.Connection, table: str, last: int | None) -> int | None:
    """The first readable rowid after the damage that follows `last`; None if none."""
    low = (0 if last is None else last) + 1  # rowids of this ledger are positive
    step = 1
    failed = low - 1
    found: int | None = None
    probe = low
    while probe <= MAX_ROWID:
        try:
            found = _readable_from(conn, table, probe)
            break
        except sqlite3.DatabaseError:
            failed = probe
            probe = low + step
            step *= 2
    if found is None:
        return None
    # Bisect back between the last failing seek and the first good one, so no readable row
    # between them is skipped.
    good = probe
    while good - failed > 1:
        mid = (good + failed) // 2
        try:
            found = _readable_from(conn, table, mid)
            good = mid
        except sqlite3.DatabaseError:
            failed = mid
    return None if found == MAX_ROWID else found


def intact_groups(table: SalvagedTable, key: Callable[[dict[str, Any]], Hashable]) -> set[Hashable]:
    """Keys of the groups whose rows (written together, as consecutive rowids) all survived."""
    rowids: dict[Hashable, list[int]] = defaultdict(list)
    for row in table.rows:
        rowids[key(row)].append(int(row["rowid"]))
    # Rowids next to a lost interval: a group ending or starting there may have lost rows.
    edges = {b for a, b in table.lost if b is not None} | {
        a for a, b in table.lost if a is not None
    }
    intact = set()
    for group, ids in rowids.items():
        first, last = min(ids), max(ids)
        if last - first + 1 == len(ids) and first not in edges and last not in edges:
            intact.add(group)
    return intact

"""`t2i-audit verify`: the ledger against the files on disk.

A reader: it opens the ledger read-only and takes no lock, so it can check a run while a
sweep is writing it, and a read-only copy of a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from audit.errors import UserError
from audit.store.images import ImageUnreadable, probe
from audit.store.ledger import Ledger
from audit.store.run_store import sha256_file


@dataclass
class VerifyReport:
    checked: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)  # bytes differ from the recorded hash
    mismatched: list[str] = field(default_factory=list)  # decodes, but not at the asked size
    orphans: list[str] = field(default_factory=list)  # files the ledger does not know

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupt or self.mismatched)


def verify_run(run_dir: Path) -> VerifyReport:
    if not (run_dir / "ledger.sqlite").is_file():
        raise UserError(
            "not a t2i-audit run directory (no ledger.sqlite)",
            file=run_dir,
            fix="give a directory made by `t2i-audit run` or `t2i-audit ingest`; if run.json "
            "and images/ are there, `t2i-audit verify RUN --repair` rebuilds the ledger",
        )
    ledger = Ledger(run_dir / "ledger.sqlite", readonly=True)
    report = VerifyReport()
    try:
        known = set()
        for row in ledger.images(active_only=False):
            report.checked += 1
            path = run_dir / row["path"]
            known.add(path.resolve())
            if not path.is_file():
                report.missing.append(row["path"])
                continue
            if sha256_file(path) != row["sha256"]:
                report.corrupt.append(row["path"])
                continue
            try:
                info = probe(path)
                size = (info.width, info.height)
            except ImageUnreadable as exc:
                report.corrupt.append(f"{row['path']} ({exc.problem})")
                continue
            if row["origin"] == "generated" and size != (row["width"], row["height"]):
                report.mismatched.append(
                    f"{row['path']} is {size}, asked {row['width']}x{row['height']}"
                )
        images_dir = run_dir / "images"
        if images_dir.is_dir():
            for f in images_dir.rglob("*"):
                if f.is_file() and not f.name.startswith(".") and f.resolve() not in known:
                    report.orphans.append(str(f.relative_to(run_dir)))
    finally:
        ledger.close()
    return report

"""`t2i-audit verify`: the ledger against the files on disk."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from audit.store.run_store import RunStore, sha256_file


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
    from PIL import Image

    store = RunStore.open(run_dir)
    report = VerifyReport()
    try:
        known = set()
        for row in store.ledger.images(active_only=False):
            report.checked += 1
            path = store.image_path(row["path"])
            known.add(path.resolve())
            if not path.is_file():
                report.missing.append(row["path"])
                continue
            if sha256_file(path) != row["sha256"]:
                report.corrupt.append(row["path"])
                continue
            try:
                with Image.open(io.BytesIO(path.read_bytes())) as img:
                    img.load()
                    size = img.size
            except Exception:
                report.corrupt.append(row["path"])
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
        store.close()
    return report

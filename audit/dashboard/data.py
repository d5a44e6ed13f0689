"""Loading runs for the dashboard: through `audit.store.frames` only, cached on the ledger's
modification time so a finished run is read once and a running sweep is re-read as it grows.

The cache lives in this module (one per server process) rather than in Streamlit's
`st.cache_data`, which would copy the frames on every rerun; the pages treat what they get
as read-only.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from audit.stats.aggregate import AggregateOptions, Summary, summarize
from audit.store.frames import Frames, ledger_mtime, load_run, run_info, run_progress

T = TypeVar("T")


class KeyedCache:
    """A small LRU cache whose keys carry the ledger mtimes their values were built from."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.RLock()
        self.misses = 0

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[no-any-return]
            # Built under the lock: two sessions opening one big run read it once.
            value = build()
            self.misses += 1
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.misses = 0


CACHE = KeyedCache(12)
OVERVIEWS = KeyedCache(256)  # cheap per-run rows; a live sweep makes a new one per poll


def stamp(run_dir: Path) -> tuple[str, float]:
    """The cache identity of a run as it is now."""
    return str(run_dir.resolve()), ledger_mtime(run_dir)


def frames(run_dir: Path) -> Frames:
    """The run's frames, read again only when its ledger changed."""
    key = ("frames", *stamp(run_dir))
    return CACHE.get(key, lambda: load_run(run_dir))


def suites_of(images: pd.DataFrame) -> list[str]:
    if "suite" not in images.columns:
        return []
    return sorted(images["suite"].dropna().astype(str).unique())


def summary(run_dir: Path, suites: tuple[str, ...] = (), by_category: bool = False) -> Summary:
    """Per-cell statistics of the run (only `suites` when given); per prompt category too
    when `by_category`, which doubles the bootstrap work and only the leaderboard's category
    filter needs. Intervals of the pooled rows are the same either way (the resample counts
    depend only on the sample size and the seed)."""
    key = ("summary", *stamp(run_dir), suites, by_category)

    def build() -> Summary:
        data = frames(run_dir)
        images = data.images
        if suites:
            images = images[images["suite"].astype(str).isin(suites)]
        options = AggregateOptions(by_category=by_category)
        return summarize(images, data.catalog, data.sets, options)

    return CACHE.get(key, build)


def categories_of(images: pd.DataFrame) -> list[str]:
    """Prompt categories as the statistics name them (missing ones: "uncategorised")."""
    if "category" not in images.columns:
        return []
    return sorted(images["category"].fillna("uncategorised").astype(str).unique())


def cached(name: str, run_dirs: tuple[Path, ...], extra: Hashable, build: Callable[[], T]) -> T:
    """Anything derived from some runs (e.g. a gate result), rebuilt when one of them changes."""
    key = (name, tuple(stamp(d) for d in run_dirs), extra)
    return CACHE.get(key, build)


@dataclass(frozen=True)
class RunOverview:
    name: str
    spec: str
    status: str
    done: int
    total: int
    models: str
    samplers: str
    steps: str
    guidance: str
    size: str
    seeds: int
    scorers: str
    device: str
    dtype: str
    created: str
    updated: str
    git: str
    has_report: bool

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


def _when(ts: Any) -> str:
    if not isinstance(ts, int | float):
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _listed(values: Any) -> str:
    if isinstance(values, list | tuple):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)
    return "" if values is None else str(values)


def overview(name: str, run_dir: Path) -> RunOverview:
    """What the Runs page shows for one run: read from run.json and the ledger's counts only,
    so a list of many large runs stays cheap."""
    key = ("overview", name, *stamp(run_dir))
    return OVERVIEWS.get(key, lambda: _overview(name, run_dir))


def _overview(name: str, run_dir: Path) -> RunOverview:
    total, done = run_progress(run_dir)
    info = run_info(run_dir)
    spec = info.get("spec") if isinstance(info.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    models = [m.get("id", "?") for m in spec.get("models", []) if isinstance(m, dict)]
    width = spec.get("width") or spec.get("size")
    height = spec.get("height") or spec.get("size")
    scorers = [
        s.get("name", "?") if isinstance(s, dict) else str(s) for s in spec.get("scorers", [])
    ]
    status = str(info.get("status", "unknown"))
    if status == "complete" and total and done < total:
        status = "incomplete"
    return RunOverview(
        name=name,
        spec=str(spec["name"]) if "name" in spec else _ingested(info),
        status=status,
        done=done,
        total=total,
        models=", ".join(models),
        samplers=_listed(spec.get("samplers")),
        steps=_listed(spec.get("steps")),
        guidance=_listed(spec.get("guidance")),
        size=f"{width}x{height}" if width and height else "",
        seeds=len(spec.get("seeds", []) or []),
        scorers=", ".join(scorers),
        device=str(info.get("device", "")),
        dtype=_listed(info.get("dtype", "")),
        created=_when(info.get("created_at")),
        updated=_when(info.get("updated_at")),
        git=str(info.get("git_revision") or "")[:12],
        has_report=(run_dir / "report.html").is_file(),
    )


def _ingested(info: dict[str, Any]) -> str:
    if "layout" in info:
        return f"ingested ({info['layout']})"
    return "unknown" if not info else ""


def environment(run_dir: Path) -> dict[str, Any]:
    """run.json for the environment panel (versions, platform, argv, spec)."""
    return run_info(run_dir)

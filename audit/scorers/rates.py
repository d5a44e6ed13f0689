"""How fast each scorer instance scored, kept so that `t2i-audit plan` can estimate scoring.

The score runner times each instance's pass (loading, worker start-up and every batch: what
a later pass costs too) and keeps one record per instance in run.json under `score_rates`;
a pass that scored nothing leaves the earlier record. A record names the instance identity
(options, version and weights decide the work), the host and the number of workers, since
speed read elsewhere or on another number of workers says little.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUN_JSON_FIELD = "score_rates"


@dataclass(frozen=True)
class Rate:
    """Seconds per item of one scorer identity, pooled over earlier passes."""

    items: int
    seconds: float
    runs: tuple[str, ...]  # run directories the passes were in

    @property
    def per_item(self) -> float:
        return self.seconds / self.items


def rate_record(
    scorer: str, identity: str, unit: str, items: int, seconds: float, workers: int
) -> dict[str, Any]:
    return {
        "scorer": scorer,
        "identity": identity,
        "unit": unit,  # images, or groups for a set scorer
        "items": items,
        "seconds": seconds,
        "workers": workers,
        "host": platform.node(),
    }


def merged(earlier: Mapping[str, Any] | None, new: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """run.json's records after a pass: the new ones replace those of their instance."""
    out = dict(earlier) if isinstance(earlier, Mapping) else {}
    out.update(new)
    return out


@dataclass(frozen=True)
class Rates:
    """Pooled rates by scorer identity, and by scorer name (any options) as a fallback."""

    by_identity: dict[str, Rate]
    by_scorer: dict[str, Rate]


def earlier_rates(run_dirs: Iterable[Path], workers: int) -> Rates:
    """Pooled rates from the run.json of `run_dirs`, for passes on this host with `workers`
    workers. An unreadable run.json is no evidence and is skipped."""
    host = platform.node()
    pools: dict[tuple[str, str], list[tuple[int, float, str]]] = {}
    for run_dir in run_dirs:
        try:
            info = json.loads((run_dir / "run.json").read_text())
            records = info.get(RUN_JSON_FIELD) or {}
            chosen = [
                (str(r["scorer"]), str(r["identity"]), int(r["items"]), float(r["seconds"]))
                for r in records.values()
                if r.get("host") == host and int(r.get("workers", 0)) == workers
            ]
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            continue
        for scorer, identity, n, s in chosen:
            if n > 0 and s >= 0:
                for key in (("identity", identity), ("scorer", scorer)):
                    pools.setdefault(key, []).append((n, s, run_dir.name))
    pooled = {
        key: Rate(
            sum(n for n, _, _ in p), sum(s for _, s, _ in p), tuple(dict.fromkeys(r for *_, r in p))
        )
        for key, p in pools.items()
    }
    return Rates(
        {k: v for (kind, k), v in pooled.items() if kind == "identity"},
        {k: v for (kind, k), v in pooled.items() if kind == "scorer"},
    )

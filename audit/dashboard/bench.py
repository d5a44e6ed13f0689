"""How fast the dashboard's pages load on a 20,000-image run: `python -m audit.dashboard.bench`.

A run of the requested size is fabricated through the ledger API (no image is generated: every
record points at one of a few tiny placeholder PNGs) with about twenty metrics per image, then
each page is run through Streamlit's AppTest twice: cold (the process cache emptied, so the
page reads the ledger and summarises it; libraries already imported, as in a server that has
served anyone before) and warm (what every later visit, filter or click costs). Times are
server-side script runs; the issue's target is under 3 seconds per page load.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import io
import itertools
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audit.dashboard.navigation import PAGE_URLS, app_file, page

MODELS = ("model-a", "model-b", "model-c", "model-d")
SAMPLERS = ("ddim", "euler_a", "dpmpp_2m")
STEPS = (10, 20, 30, 50)
GUIDANCE = (3.0, 5.0, 7.5)
SEEDS = (0, 1, 2, 3)
CATEGORIES = ("objects", "counting", "text", "people", "scenes")
ATTACKS = ("jpeg90", "jpeg50", "resize05", "crop08", "png")
PAGES = PAGE_URLS
TARGET_S = 3.0
SCORE_BLOCK = 100


def _metrics() -> list[Any]:
    from audit.vocab import Metric

    out = [
        Metric("clip_score", "higher", "continuous", "fabricated"),
        Metric("brisque", "lower", "continuous", "fabricated"),
        Metric("nsfw_score", "lower", "continuous", "fabricated"),
        Metric("nsfw_flag", "lower", "binary", "fabricated"),
        Metric("count_correct", "higher", "binary", "fabricated"),
        Metric("ocr_precision", "higher", "continuous", "fabricated"),
        Metric("ocr_recall", "higher", "continuous", "fabricated"),
        Metric("ocr_exact", "higher", "binary", "fabricated"),
        Metric("wm_bit_accuracy", "higher", "continuous", "fabricated"),
        Metric("wm_detected", "higher", "binary", "fabricated"),
        Metric("c2pa_present", "higher", "binary", "fabricated"),
        Metric("c2pa_state", "none", "category", "fabricated"),
    ]
    out += [Metric(f"wm_detected_{a}", "higher", "binary", "fabricated") for a in ATTACKS]
    return out


def _placeholders(run_dir: Path, count: int = 8) -> list[tuple[str, str, int]]:
    """A few 32 px PNGs every record shares: (relative path, sha256, bytes)."""
    from PIL import Image

    out = []
    for i in range(count):
        buffer = io.BytesIO()
        shade = (40 + 25 * i, 90, 200 - 20 * i)
        Image.new("RGB", (32, 32), shade).save(buffer, format="PNG")
        data = buffer.getvalue()
        rel = f"images/placeholder/{i}.png"
        (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / rel).write_bytes(data)
        out.append((rel, hashlib.sha256(data).hexdigest(), len(data)))
    return out


def fabricate(run_dir: Path, n_images: int = 20_000, seed: int = 0) -> int:
    """Write a complete run of about `n_images` images (rounded up to whole prompts) into
    `run_dir` through RunStore and Ledger; returns the number of images."""
    from audit.store.ledger import ImageRecord
    from audit.store.run_store import RunStore
    from audit.vocab import request_row

    rng = np.random.default_rng(seed)
    cells = list(itertools.product(MODELS, SAMPLERS, STEPS, GUIDANCE))
    n_prompts = math.ceil(n_images / (len(cells) * len(SEEDS)))
    store = RunStore(run_dir, create=True)
    try:
        ledger = store.ledger
        shared = _placeholders(run_dir)
        requests: list[dict[str, Any]] = []  # ledger rows, as every writer builds them
        for (model, sampler, steps, guidance), p, s in itertools.product(
            cells, range(n_prompts), SEEDS
        ):
            ident = f"{model}|{sampler}|{steps}|{guidance}|{p}|{s}"
            requests.append(
                request_row(
                    key=hashlib.sha256(ident.encode()).hexdigest(),
                    model=model, source=f"bench:{model}", fingerprint=model, dtype="float16",
                    sampler=sampler, steps=steps, guidance=guidance, width=512, height=512,
                    seed=s, suite="bench", prompt_id=f"p{p:03d}",
                    prompt=f"fabricated prompt number {p}", negative="",
                    category=CATEGORIES[p % len(CATEGORIES)], expect_json="{}",
                )
            )  # fmt: skip
        ledger.upsert_requests(requests, deactivate_others=True)
        n = len(requests)
        model_idx = np.array([MODELS.index(r["model"]) for r in requests])
        steps_arr = np.array([r["steps"] for r in requests], dtype=np.float64)
        seconds = 0.02 * steps_arr * (1 + 0.3 * model_idx) + rng.uniform(0, 0.1, n)
        records = []
        for i, r in enumerate(requests):
            rel, digest, size = shared[i % len(shared)]
            records.append(
                ImageRecord(
                    r["key"], rel, digest, size, float(seconds[i]), 6000.0 + 500 * model_idx[i],
                    bool(rng.random() < 0.002), None, "generated",
                )
            )  # fmt: skip
        ledger.record_images(records)
        metrics = _metrics()
        fabricated = {"scorer": "bench", "label": None, "version": "1", "identity": "bench"}
        ledger.record_instance("bench", fabricated, metrics)
        quality = 0.4 + 0.05 * model_idx + 0.1 * np.log(steps_arr / 10 + 1)
        values: dict[str, np.ndarray] = {
            "clip_score": 26 + 6 * quality + rng.normal(0, 2, n),
            "brisque": 40 - 10 * quality + rng.normal(0, 5, n),
            "nsfw_score": rng.beta(1, 40, n),
            "count_correct": (rng.random(n) < quality).astype(float),
            "ocr_precision": np.clip(quality + rng.normal(0, 0.2, n), 0, 1),
            "ocr_recall": np.clip(quality + rng.normal(0, 0.2, n), 0, 1),
            "wm_bit_accuracy": np.clip(0.9 + rng.normal(0, 0.08, n), 0, 1),
            "c2pa_present": (rng.random(n) < 0.8).astype(float),
        }
        values["nsfw_flag"] = (values["nsfw_score"] > 0.1).astype(float)
        values["ocr_exact"] = (values["ocr_precision"] > 0.8).astype(float)
        values["wm_detected"] = (values["wm_bit_accuracy"] > 0.75).astype(float)
        for i, attack in enumerate(ATTACKS):
            survive = values["wm_detected"] * (rng.random(n) < 0.9 - 0.2 * i)
            values[f"wm_detected_{attack}"] = survive.astype(float)
        states = np.where(values["c2pa_present"] > 0, "valid", "absent")
        rows = []
        for i, r in enumerate(requests):
            row: dict[str, Any] = {name: float(v[i]) for name, v in values.items()}
            row["c2pa_state"] = str(states[i])
            rows.append((r["key"], row))
        # Scores go in under one scorer name per block of keys: record_scores' per-key DELETE
        # (key = ? AND scorer = ?) is planned on the scorer index of a fresh ledger, so it
        # scans every earlier row of that scorer, and one name for 20,000 keys is quadratic
        # (about 11 minutes here). The frames read scores by key and metric only.
        for block in range(0, n, SCORE_BLOCK):
            name = f"bench-{block // SCORE_BLOCK:04d}"
            ledger.record_scores(name, "1", rows[block : block + SCORE_BLOCK])
        spec = {
            "name": run_dir.name, "models": [{"id": m, "source": f"bench:{m}"} for m in MODELS],
            "samplers": list(SAMPLERS), "steps": list(STEPS), "guidance": list(GUIDANCE),
            "seeds": list(SEEDS), "suites": ["bench"], "size": 512, "scorers": ["bench"],
        }  # fmt: skip
        store.write_info(spec=spec, status="complete", requests=n, device="fabricated")
    finally:
        store.close()
    return n


@dataclass
class PageTime:
    page: str
    cold_s: float
    warm_s: float
    errors: list[str]


def time_pages(root: Path, run: str, pages: tuple[str, ...] = PAGES) -> list[PageTime]:
    """Each page run cold (process cache emptied) and then warm, through AppTest."""
    from audit.dashboard.paths import reports_in_environment

    with reports_in_environment(root):
        return _time_pages(str(app_file()), run, pages)


def _time_pages(app: str, run: str, pages: tuple[str, ...]) -> list[PageTime]:
    from streamlit.testing.v1 import AppTest

    from audit.dashboard import data

    # A server imports the pages' libraries once, for its first visitor; that second or so is
    # not a page load of this run, so it is paid here before the clock starts.
    importlib.import_module("audit.dashboard.charts")
    importlib.import_module("audit.dashboard.compare")
    importlib.import_module("scipy.stats")
    out = []
    for url in pages:
        times = []
        errors: list[str] = []
        at = AppTest.from_file(app, default_timeout=600)
        at.query_params.update({"run": run, "baseline": run, "candidate": run})
        at.run()  # a first run registers the pages; only then does switch_page find them
        data.CACHE.clear()
        data.OVERVIEWS.clear()
        at.switch_page(page(url).script)
        for _ in range(2):
            start = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - start)
            errors += [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]
        out.append(PageTime(url, times[0], times[1], errors))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.dashboard.bench", description=__doc__)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--keep", help="fabricate into this folder and keep it (default: temp)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="t2i-dash-bench-") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        run = root / "bench"
        start = time.perf_counter()
        if not (run / "ledger.sqlite").is_file():
            n = fabricate(run, args.images)
            print(f"fabricated {n} images in {time.perf_counter() - start:.1f} s -> {run}")
        else:
            print(f"reusing {run}")
        results = time_pages(root, "bench")
    print(f"{'page':<12}{'cold s':>8}{'warm s':>8}  under {TARGET_S:g} s?")
    for r in results:
        cold = "yes" if r.cold_s < TARGET_S else "NO"
        warm = "yes" if r.warm_s < TARGET_S else "NO"
        print(f"{r.page:<12}{r.cold_s:>8.2f}{r.warm_s:>8.2f}  cold {cold}, warm {warm}")
        for e in r.errors:
            print(f"  error: {e.splitlines()[0]}")
    print(
        "cold: first visit after the run changed (reads the ledger, summarises it); "
        "warm: every later visit, filter or click. Server-side script time, one process."
    )
    slow = any(r.warm_s >= TARGET_S or r.cold_s >= TARGET_S for r in results)
    return 1 if slow or any(r.errors for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())

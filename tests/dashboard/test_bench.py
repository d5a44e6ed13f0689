"""The page-load benchmark's fabricated run is a real run, and every page loads it (small
size here; `python -m audit.dashboard.bench` times the 20,000-image one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from audit.dashboard.bench import ATTACKS, PAGES, fabricate, time_pages
from audit.stats.columns import CELL
from audit.store.frames import load_run, run_progress


def test_fabricated_run_loads_and_every_page_renders_it(tmp_path: Path) -> None:
    n = fabricate(tmp_path / "bench", n_images=300)
    assert n == 576  # whole prompts: 144 cells x 4 seeds x 1 prompt
    assert run_progress(tmp_path / "bench") == (n, n)
    frames = load_run(tmp_path / "bench")
    images = frames.images
    assert len(images) == n and images.groupby(list(CELL)).ngroups == 144
    for column in ["clip_score", "brisque", "wm_detected", *(f"wm_detected_{a}" for a in ATTACKS)]:
        assert np.isfinite(images[column].to_numpy(dtype=float)).all(), column
    assert set(images["c2pa_state"]) == {"valid", "absent"}
    assert all(Path(p).is_file() for p in images["image_path"].unique())

    results = time_pages(tmp_path, "bench")
    assert [r.page for r in results] == list(PAGES)
    assert all(r.errors == [] for r in results), [r.errors for r in results]

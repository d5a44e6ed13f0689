"""Safety and provenance rates: one computation, one missing-value rule, for report and
dashboard alike (checked against brute force and scipy's exact interval)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit.dashboard import safety as dashboard_safety
from audit.report.data import build_report
from audit.stats.safety import UNREADABLE, binary_rates, c2pa_states, measured
from audit.store.frames import SET_COLUMNS, Frames
from audit.vocab import CELL

CELL_A = {"model": "m", "sampler": "ddim", "steps": 2, "guidance": 1.0, "width": 64, "height": 64}
CELL_B = {**CELL_A, "steps": 4}


def _images() -> pd.DataFrame:
    """Two cells of five images. NaN: not measured. None state: the file was unreadable."""
    rows = []
    nsfw = [1.0, 0.0, np.nan, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, np.nan]
    states = ["valid", "absent", None, "absent", "invalid", "trusted", None, None, "valid", "x"]
    for i in range(10):
        cell = CELL_A if i < 5 else CELL_B
        rows.append(
            {
                **cell,
                "key": f"k{i}",
                "seed": 0,
                "prompt_id": f"p{i}",
                "prompt": f"prompt {i}",
                "category": "c",
                "image_path": f"images/{i}.png",
                "gen_seconds": 0.1,
                "peak_mem_mb": 1.0,
                "nan_or_black": False,
                "nsfw_flag": nsfw[i],
                "c2pa_state": states[i],
                "c2pa_present": np.nan if states[i] is None else float(states[i] != "absent"),
            }
        )
    return pd.DataFrame(rows)


def _exact(k: int, n: int) -> tuple[float, float]:
    ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    return ci.low, ci.high


def test_rates_count_measured_images_only() -> None:
    images = _images()
    out = binary_rates(images, ["c2pa_present", "nsfw_flag", "not_there"], CELL)
    assert list(out.columns) == [*CELL, "metric", "n", "k", "rate", "ci_low", "ci_high"]
    assert list(out["metric"]) == ["c2pa_present", "c2pa_present", "nsfw_flag", "nsfw_flag"]
    for row in out.to_dict("records"):
        cell = images[images["steps"] == row["steps"]]
        values = cell[row["metric"]].dropna()  # brute force: the measured images
        assert (row["n"], row["k"]) == (len(values), int(values.sum()))
        assert row["rate"] == pytest.approx(values.mean())
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(_exact(row["k"], row["n"]))
    assert measured(images, ["nsfw_flag", "c2pa_state", "not_there"]) == ["nsfw_flag"]
    assert binary_rates(images.iloc[:0], ["nsfw_flag"], CELL).empty


def test_a_missing_state_is_unreadable_not_absent() -> None:
    out = c2pa_states(_images(), ["steps"])
    got = {(r["steps"], r["state"]): r["count"] for r in out.to_dict("records")}
    assert got == {
        (2, "valid"): 1, (2, "invalid"): 1, (2, "absent"): 2, (2, UNREADABLE): 1,
        (4, "trusted"): 1, (4, "valid"): 1, (4, UNREADABLE): 2, (4, "x"): 1,
    }  # fmt: skip
    # Best first, unknown states last.
    assert list(out[out["steps"] == 4]["state"]) == ["trusted", "valid", UNREADABLE, "x"]
    assert c2pa_states(_images().drop(columns="c2pa_state"), ["steps"]).empty


def test_report_and_dashboard_show_the_same_rates_and_states() -> None:
    images = _images()
    expected = binary_rates(images, ["nsfw_flag", "c2pa_present"], CELL).set_index(
        ["steps", "metric"]
    )
    frames = Frames(images, pd.DataFrame(columns=SET_COLUMNS))
    report = build_report(frames).safety.set_index("steps")
    shown = dashboard_safety.rates(images, ["nsfw_flag", "c2pa_present"], "cell")
    assert len(shown) == len(expected) == 4
    for row in shown.to_dict("records"):
        steps = 2 if "2 steps" in row["group"] else 4
        ref = expected.loc[(steps, row["metric"])]
        assert (row["n"], row["k"]) == (ref["n"], ref["k"])
        assert (row["rate"], row["ci_low"], row["ci_high"]) == pytest.approx(
            (ref["rate"], ref["ci_low"], ref["ci_high"])
        )
        name = row["metric"]
        assert report.loc[steps, name] == pytest.approx(ref["rate"])
        assert report.loc[steps, f"{name}_lo"] == pytest.approx(ref["ci_low"])
        assert report.loc[steps, f"{name}_hi"] == pytest.approx(ref["ci_high"])
    # The same state counts, the unreadable file counted as such on both sides.
    assert report.loc[2, "c2pa_state"] == "valid: 1, invalid: 1, absent: 2, unreadable: 1"
    states = dashboard_safety.c2pa_states(images, "cell")
    first = states[states["group"].str.contains("2 steps")]
    assert dict(zip(first["state"], first["count"], strict=True)) == {
        "valid": 1, "invalid": 1, "absent": 2, UNREADABLE: 1,
    }  # fmt: skip

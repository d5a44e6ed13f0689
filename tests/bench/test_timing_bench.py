"""`t2i-audit bench timing` at a toy size: two passes, their medians and the ratio printed."""

from __future__ import annotations

import pytest

from audit.bench.timing import AGREEMENT, bench_timing, format_timing
from audit.cli import main
from audit.config import TimingSpec

pytestmark = pytest.mark.slow  # two model loads, as the other generation benchmarks


def test_two_passes_of_one_cell_give_medians_and_their_ratio() -> None:
    settings = TimingSpec(repeats=2, batch_size=1, warmup=0)
    b = bench_timing("builtin:tiny-random-sd", steps=1, size=32, settings=settings, device="cpu")
    assert len(b.passes) == 2
    for p in b.passes:
        assert len(p["seconds"]) == 2 and p["median"] > 0 and p["device"] == "cpu"
    first, second = b.medians
    assert b.ratio == pytest.approx(second / first)
    assert b.agree == (abs(first - second) / min(first, second) <= AGREEMENT)
    text = format_timing(b)
    assert f"ratio pass 2 / pass 1: {b.ratio:.3f}" in text
    assert text.count("median") == 2


def test_bad_settings_exit_2_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "timing", "--repeats", "0"]) == 2
    assert "--repeats" in capsys.readouterr().err

"""Generation benchmarks at toy sizes: harness vs plain, embedding reuse, the GPU script."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.bench.embeddings import bench_embeddings
from audit.bench.generate import bench_generate
from audit.bench.gpu_check import run_check
from audit.bench.suite import torch_threads

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Two torch threads on two shared cores mostly wait for each other."""
    with torch_threads(1):
        yield


def test_harness_and_plain_loop_make_the_same_number_of_images() -> None:
    b = bench_generate(size=32, batch_size=2, steps=2, rounds=3, images_per_round=2, device="cpu")
    assert b.images == 6 and len(b.round_ratios) == 3
    assert b.harness_ips > 0 and b.plain_ips > 0
    assert b.ratio == sorted(b.round_ratios)[1]  # the median of three


def test_embedding_reuse_bench_sides_make_the_same_images() -> None:
    e = bench_embeddings(size=32, batch_size=2, steps=2, rounds=2, images_per_round=4)
    assert e.images == 8 and e.max_pixel_diff <= 2
    assert e.on_ips > 0 and e.off_ips > 0


def test_gpu_script_writes_a_row_per_configuration(tmp_path: Path) -> None:
    # The GPU script's own loop, on the CPU with the tiny model (the GPU run is the lead's).
    out = tmp_path / "gpu.txt"
    rows = run_check(
        out, models=["tiny-random-sd"], sizes=[32], batches=[1, 2], steps=2, rounds=2,
        device="cpu", dtype="float32",
    )  # fmt: skip
    assert [(r.size, r.batch) for r in rows] == [(32, 1), (32, 2)]
    assert all(r.ratio is not None and r.ratio > 0 for r in rows)
    text = out.read_text()
    assert "torch" in text and "| tiny-random-sd | harness | 32 " in text
    assert "lowest ratio" in text


def test_gpu_script_skips_what_does_not_fit_the_budget(tmp_path: Path) -> None:
    out = tmp_path / "gpu.txt"
    rows = run_check(out, models=["tiny-random-sd"], sizes=[32], batches=[1], budget=0.0)
    assert [r.note for r in rows] == ["skipped: time budget"] and rows[0].ratio is None
    assert "skipped: time budget" in out.read_text()


def test_gpu_script_records_a_model_that_fails_and_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "gpu.txt"
    rows = run_check(
        out, models=["no-such-model", "tiny-random-sd"], sizes=[32], batches=[1], steps=1,
        rounds=1, device="cpu", dtype="float32",
    )  # fmt: skip
    assert rows[0].note.startswith("failed to load: UserError") and rows[0].ratio is None
    assert rows[1].ratio is not None


def test_gpu_script_times_a_variant_against_the_untouched_plain_loop(tmp_path: Path) -> None:
    # channels_last on the CPU with the tiny model: the row exists, is measured, and the
    # verdict lines name the plain target only (channels_last has none; compile is not run).
    out = tmp_path / "gpu.txt"
    rows = run_check(
        out, models=["tiny-random-sd"], sizes=[32], batches=[1], steps=1, rounds=1,
        device="cpu", dtype="float32", variants=["channels_last"],
        variant_model="tiny-random-sd", variant_size=32, variant_batches=[2],
    )  # fmt: skip
    assert [(r.variant, r.size, r.batch) for r in rows] == [
        ("harness", 32, 1),
        ("channels_last", 32, 2),
    ]
    assert rows[1].ratio is not None and rows[1].ratio > 0
    text = out.read_text()
    assert "| tiny-random-sd | channels_last | 32 " in text
    assert "lowest ratio" in text and "lowest channels_last ratio" not in text


def test_gpu_verdict_holds_each_variant_to_its_own_target() -> None:
    from audit.bench.gpu_check import GpuRow, passed, verdicts

    rows = [GpuRow("m", 512, 1, ratio=0.99), GpuRow("m", 512, 1, ratio=1.2, variant="compile")]
    assert passed(rows, 0.97) is False  # compile must reach 1.3
    assert any("compile" in line and "MISSED" in line for line in verdicts(rows, 0.97))
    rows[1].ratio = 1.4
    assert passed(rows, 0.97) is True
    rows[0].ratio = 0.9
    assert passed(rows, 0.97) is False
    assert passed([GpuRow("m", 512, 1, note="out of GPU memory")], 0.97) is False

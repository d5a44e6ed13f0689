"""`bench score`'s cmmd and dinov2 rows: both sides run and give the same numbers."""

from __future__ import annotations

from audit.bench.set_scores import bench_cmmd, bench_dinov2


def test_cmmd_and_dinov2_beside_the_libraries() -> None:
    for bench in (bench_cmmd, bench_dinov2):
        b = bench(images=6, size=64, rounds=1, batch_size=4)
        assert b.max_diff < 1e-6, (b.name, b.max_diff)
        assert b.scorer_ips > 0 and b.direct_ips > 0 and len(b.round_ratios) == 1

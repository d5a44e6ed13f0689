"""Scoring speed records: kept per instance in run.json, read back for this host only."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from audit.scorers.rates import earlier_rates, merged, rate_record


def _run(root: Path, name: str, records: dict[str, dict[str, object]] | str) -> Path:
    run = root / name
    run.mkdir(parents=True)
    body = records if isinstance(records, str) else json.dumps({"score_rates": records})
    (run / "run.json").write_text(body)
    return run


def test_rates_pool_passes_of_one_identity_on_this_host_and_worker_count(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", {"text": rate_record("text", "id-t", "images", 10, 5.0, 2)})
    b = _run(
        tmp_path,
        "b",
        {
            "text": rate_record("text", "id-t", "images", 30, 9.0, 2),
            "text@1w": rate_record("text", "id-t", "images", 30, 30.0, 1),  # other count
            "nsfw": {**rate_record("nsfw", "id-n", "images", 8, 1.0, 2), "host": "elsewhere"},
        },
    )
    broken = _run(tmp_path, "broken", "{not json")
    missing = tmp_path / "no-run-json"
    missing.mkdir()
    c = _run(tmp_path, "c", {"text": rate_record("text", "id-other", "images", 10, 1.0, 2)})
    rates = earlier_rates([a, b, broken, missing, c], workers=2)
    assert set(rates.by_identity) == {"id-t", "id-other"}
    assert rates.by_identity["id-t"].items == 40 and rates.by_identity["id-t"].per_item == 14 / 40
    assert rates.by_identity["id-t"].runs == ("a", "b")
    # By scorer name (a guide for options not seen before): every text pass pooled.
    assert rates.by_scorer["text"].items == 50 and rates.by_scorer["text"].runs == ("a", "b", "c")
    assert set(rates.by_scorer) == {"text"}  # nsfw ran elsewhere
    assert earlier_rates([a, b], workers=1).by_identity["id-t"].per_item == 1.0
    assert rate_record("x", "i", "images", 1, 1.0, 1)["host"] == platform.node()


def test_a_new_pass_replaces_only_its_own_instances() -> None:
    old = {"text": {"items": 1}, "nsfw": {"items": 2}}
    assert merged(old, {"text": {"items": 3}}) == {"text": {"items": 3}, "nsfw": {"items": 2}}
    assert merged(None, {}) == {} and merged("garbage", {"a": {}}) == {"a": {}}  # type: ignore[arg-type]


def test_the_runner_keeps_a_record_per_instance_and_a_pass_with_nothing_new_keeps_it(
    smoke_run: Path, tmp_path: Path
) -> None:
    import shutil

    from audit.cli import main

    run = tmp_path / "smoke"
    shutil.copytree(smoke_run, run)

    def rates() -> dict[str, dict[str, object]]:
        return dict(json.loads((run / "run.json").read_text())["score_rates"])

    assert main(["score", str(run), "--scorers", "c2pa", "--quiet"]) == 0
    first = rates()
    assert first["c2pa"]["items"] == 48 and float(first["c2pa"]["seconds"]) > 0  # type: ignore[arg-type]
    assert main(["score", str(run), "--scorers", "c2pa,quality", "--quiet"]) == 0
    second = rates()
    assert second["c2pa"] == first["c2pa"]  # nothing new: the measured pass stays
    assert second["quality"]["items"] == 48

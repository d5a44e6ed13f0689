"""Hostile and broken images wherever images are read: ingest, score, verify, reference
build, report thumbnails and the dashboard. A file the user gave is exit 2 naming it before
anything is written; an image that breaks during scoring is marked unreadable, the rest go on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.cli import main
from audit.dashboard.paths import safe_picture
from audit.errors import UserError
from audit.report.thumbs import thumbnail_data_uri
from audit.scorers.reference import build_reference
from tests import hostile
from tests.scorers.test_reference import _write_images  # also registers the tiny extractor


def _ingest_dir(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (name, data) in enumerate(files.items()):
        (folder / name).write_bytes(data)
        lines.append(json.dumps({"file": name, "prompt": f"prompt {i}", "seed": i}))
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def _fine(n: int = 2) -> dict[str, bytes]:
    return {f"ok{i}.png": hostile.encode(hostile.rgb(32, i)) for i in range(n)}


def test_a_decompression_bomb_among_ingested_files_is_exit_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _ingest_dir(tmp_path / "src", {**_fine(), "bomb.png": hostile.png_bomb()})
    run = tmp_path / "run"
    assert main(["ingest", str(src), "--out", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(src / "bomb.png") in err and "decompression bomb" in err
    assert "Traceback" not in err
    assert not run.exists()  # validated before anything was written


@pytest.mark.parametrize("name", sorted(hostile.BROKEN))
def test_every_broken_file_at_ingest_is_exit_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    src = _ingest_dir(tmp_path / "src", {**_fine(1), name: hostile.BROKEN[name]()})
    assert main(["ingest", str(src), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert name in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_unusual_but_valid_images_are_ingested_and_animated_ones_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    still = {n: make() for n, make in hostile.UNUSUAL.items() if n != "animated.png"}
    src = _ingest_dir(tmp_path / "src", still)
    run = tmp_path / "run"
    assert main(["ingest", str(src), "--out", str(run), "--quiet"]) == 0
    assert main(["verify", str(run)]) == 0
    assert main(["score", str(run), "--scorers", "watermark", "--quiet"]) == 0
    assert f"watermark: scored {len(still)}" in capsys.readouterr().out

    moving = _ingest_dir(tmp_path / "moving", {"animated.png": hostile.animated_png()})
    assert main(["ingest", str(moving), "--out", str(tmp_path / "run2"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "animated.png" in err and "animated image (2 frames)" in err


def test_an_image_that_breaks_during_scoring_is_marked_and_the_run_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _ingest_dir(tmp_path / "src", _fine(3))
    run = tmp_path / "run"
    assert main(["ingest", str(src), "--out", str(run), "--quiet"]) == 0
    victim = sorted((run / "images").rglob("*.png"))[0]
    victim.write_bytes(hostile.png_bomb())  # damaged on disk after ingest
    capsys.readouterr()
    assert main(["score", str(run), "--scorers", "quality,watermark", "--quiet"]) == 0
    out = capsys.readouterr().out
    rel = str(victim.relative_to(run))
    assert f"unreadable, not scored (the next `score` tries again): {rel}" in out
    assert "decompression bomb" in out
    assert "quality: scored 3" in out and "watermark: scored 3" in out
    info = json.loads((run / "run.json").read_text())
    assert rel in info["scoring"]["unreadable"]
    export = tmp_path / "e.csv"
    assert main(["export", str(run), "--format", "csv", "--out", str(export)]) == 0
    import pandas as pd

    table = pd.read_csv(export).set_index("key")
    assert table["brisque"].notna().sum() == 2  # the two readable images, not the bomb
    assert table.loc[victim.stem, "brisque"] != table.loc[victim.stem, "brisque"]  # NaN
    # verify names it; scoring again tries it again and still goes on.
    assert main(["verify", str(run)]) == 1
    assert f"corrupt: {rel}" in capsys.readouterr().out
    assert main(["score", str(run), "--scorers", "quality", "--quiet"]) == 0
    assert "quality: scored 1" in capsys.readouterr().out


def test_reference_build_names_a_bomb_before_writing(tmp_path: Path) -> None:
    _write_images(tmp_path / "real", 3, 0)
    (tmp_path / "real" / "zbomb.png").write_bytes(hostile.png_bomb())
    with pytest.raises(UserError) as err:
        build_reference(tmp_path / "real", "toy", tmp_path, {"kind": "tinyref"}, 4, False)
    assert "zbomb.png" in str(err.value) and "decompression bomb" in str(err.value)
    assert not (tmp_path / "references" / "toy").exists()


def test_the_dashboard_and_the_report_show_a_warning_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    for name, make in {**hostile.BROKEN, "ok.png": lambda: hostile.encode(hostile.rgb(64))}.items():
        (tmp_path / "images" / name).write_bytes(make())
    picture, why = safe_picture(tmp_path, "images/ok.png", px=32)
    assert picture is not None and picture.size == (32, 32) and why == ""
    assert thumbnail_data_uri(tmp_path / "images" / "ok.png") is not None
    for name in hostile.BROKEN:
        picture, why = safe_picture(tmp_path, f"images/{name}", px=32)
        assert picture is None and why.startswith("Unreadable image"), name
        assert thumbnail_data_uri(tmp_path / "images" / name) is None

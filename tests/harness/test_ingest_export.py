"""Ingest keeps files byte for byte; export has the documented columns."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from audit.cli import main
from audit.vocab import BASE_COLUMNS


def _image_bytes(fmt: str, colour: tuple[int, int, int], size: int = 32) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, format=fmt)
    return buf.getvalue()


def _write_jsonl_dir(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "a.png": _image_bytes("PNG", (200, 10, 10)),
        "b.jpg": _image_bytes("JPEG", (10, 200, 10)),
        "sub/c.webp": _image_bytes("WEBP", (10, 10, 200)),
    }
    lines = []
    for i, (name, data) in enumerate(files.items()):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        lines.append(json.dumps({"file": name, "prompt": f"a sign that says 'W{i}'", "seed": i}))
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return files


def test_ingest_keeps_bytes_and_exports(tmp_path: Path) -> None:
    files = _write_jsonl_dir(tmp_path / "src")
    run = tmp_path / "run"
    assert main(["ingest", str(tmp_path / "src"), "--out", str(run), "--quiet"]) == 0
    stored = sorted(p.read_bytes() for p in (run / "images").rglob("*.*"))
    assert stored == sorted(files.values())
    assert main(["verify", str(run)]) == 0
    # A second ingest adds nothing.
    assert main(["ingest", str(tmp_path / "src"), "--out", str(run), "--quiet"]) == 0
    assert len(list((run / "images").rglob("*.*"))) == 3

    out = tmp_path / "scores.csv"
    assert main(["export", str(run), "--format", "csv", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert tuple(table.columns[: len(BASE_COLUMNS)]) == BASE_COLUMNS
    assert "safety_flag" in table.columns  # export once dropped it
    assert len(table) == 3
    assert all(Path(p).is_file() for p in table["image_path"])
    assert sorted(table["width"]) == [32, 32, 32]
    pq = tmp_path / "scores.parquet"
    assert main(["export", str(run), "--format", "parquet", "--out", str(pq)]) == 0
    assert len(pd.read_parquet(pq)) == 3


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('{"file": "a.png"}', "'prompt' is required"),
        ('{"file": "a.png", "prompt": "x", "colour": 1}', "unknown field"),
        ('{"file": "../outside.png", "prompt": "x"}', "leaves the ingest directory"),
        ('{"file": "nope.png", "prompt": "x"}', "not found"),
        ('{"file": "bad.png", "prompt": "x"}', "not a readable image"),
        ('{"file": "a.png", "prompt": "x", "seed": "one"}', "'seed' must be a number"),
        ("{not json", "not valid JSON"),
        ('{"file": "a.png", "prompt": "x", "questions": "Is it red?"}', "must be a list"),
        ('{"file": "a.png", "prompt": "x", "questions": [3]}', "questions[0]"),
        (
            '{"file": "a.png", "prompt": "x", "questions": [{"answer": "no"}]}',
            "questions[0].question",
        ),
        (
            '{"file": "a.png", "prompt": "x", '
            '"questions": [{"question": "Red?", "dependencies": ["q9"]}]}',
            "depends on",
        ),
    ],
)
def test_bad_metadata_exits_2_and_loses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, words: str
) -> None:
    _write_jsonl_dir(tmp_path / "src")
    run = tmp_path / "run"
    assert main(["ingest", str(tmp_path / "src"), "--out", str(run), "--quiet"]) == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_bytes(_image_bytes("PNG", (1, 2, 3)))
    (bad / "bad.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "outside.png").write_bytes(_image_bytes("PNG", (1, 2, 3)))
    (bad / "metadata.jsonl").write_text(line + "\n")
    assert main(["ingest", str(bad), "--out", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert "metadata.jsonl:1" in err or "bad.png" in err
    assert len(list((run / "images").rglob("*.*"))) == 3
    assert main(["verify", str(run)]) == 0


def test_ingest_geneval_layout(tmp_path: Path) -> None:
    src = tmp_path / "geneval"
    meta = {
        "tag": "counting",
        "prompt": "a photo of three apples",
        "include": [{"class": "apple", "count": 3}],
        "exclude": [{"class": "apple", "count": 4}],
    }
    for idx in range(2):
        folder = src / f"{idx:05d}"
        (folder / "samples").mkdir(parents=True)
        (folder / "metadata.jsonl").write_text(json.dumps(meta) + "\n")
        for s in range(2):
            (folder / "samples" / f"{s:04d}.png").write_bytes(_image_bytes("PNG", (s, idx, 9)))
    run = tmp_path / "run"
    assert (
        main(["ingest", str(src), "--out", str(run), "--layout", "geneval", "--model", "m1"]) == 0
    )
    from audit.store.frames import load_run

    images = load_run(run).images
    assert len(images) == 4
    assert set(images["prompt_id"]) == {"geneval-00000", "geneval-00001"}
    assert set(images["category"]) == {"counting"}
    assert set(images["model"]) == {"m1"} and sorted(images["seed"]) == [0, 0, 1, 1]

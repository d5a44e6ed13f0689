"""Invalid specs exit 2 with a message naming the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.cli import main
from tests.conftest import write_smoke_spec

CASES = [
    ({"batch_size: 4": "batch_size: 4\ncolour: red"}, "colour", "remove this field"),
    ({"steps: [2, 4]": "steps: [0, 4]"}, "steps", "between 1 and 1000"),
    ({"guidance: [1.0, 5.0]": "guidance: [-1.0]"}, "guidance", "between 0 and 100"),
    ({"suites: [prompts.txt]": "suites: [missing.txt]"}, "suites.0", "missing.txt"),
    ({"samplers: [ddim, euler]": "samplers: [ddim, eulr]"}, "samplers.1", "unknown sampler"),
    ({"samplers: [ddim, euler]": "samplers: [ddim, ddim]"}, "samplers", "twice"),
    ({"name: smoke": "name: ../escape"}, "name", "run name"),
    ({"  - id: tiny": "  - id: a/b"}, "models.0.id", "model id"),
    ({"builtin:tiny-random-sd": "builtin:nope"}, "models.0.source", "unknown built-in"),
    ({"size: 64": "size: 64\nwidth: 32"}, "(top level)", "either size or width"),
    ({"seeds: [0, 1]": "seeds: zero"}, "seeds", "list"),
]


@pytest.mark.parametrize(("replace", "field", "words"), CASES)
def test_invalid_spec_exits_2_naming_the_field(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    replace: dict[str, str],
    field: str,
    words: str,
) -> None:
    spec = write_smoke_spec(tmp_path, **replace)
    assert main(["run", str(spec), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(spec) in err or "missing.txt" in err
    assert field in err
    assert words in err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "smoke" / "images").exists()


def test_incompatible_sampler_fails_before_any_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_smoke_spec(tmp_path, **{"samplers: [ddim, euler]": "samplers: [ddim, flow_euler]"})
    assert main(["run", str(spec), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "flow_euler" in err and "does not fit" in err and "samplers" in err
    assert not list((tmp_path / "out").rglob("*.png"))


def test_yaml_syntax_error_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: x\nmodels: [\n")
    assert main(["run", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "line" in err


def test_missing_spec_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_bad_spec_keeps_existing_run_intact(
    smoke_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = smoke_run.parent.parent
    bad = folder / "bad.yaml"
    bad.write_text((folder / "smoke.yaml").read_text().replace("steps: [2, 4]", "steps: [-1]"))
    before = sorted(p.name for p in (smoke_run / "images").rglob("*.png"))
    assert main(["run", str(bad), "--out", str(smoke_run.parent), "--quiet"]) == 2
    assert sorted(p.name for p in (smoke_run / "images").rglob("*.png")) == before


def test_fresh_with_incompatible_sampler_keeps_the_run(
    smoke_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = smoke_run.parent.parent
    bad = folder / "flow.yaml"
    bad.write_text(
        (folder / "smoke.yaml")
        .read_text()
        .replace("samplers: [ddim, euler]", "samplers: [flow_euler]")
    )
    before = sorted(p.name for p in (smoke_run / "images").rglob("*.png"))
    assert main(["run", str(bad), "--out", str(smoke_run.parent), "--fresh", "--quiet"]) == 2
    assert "does not fit" in capsys.readouterr().err
    assert sorted(p.name for p in (smoke_run / "images").rglob("*.png")) == before

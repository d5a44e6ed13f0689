"""Paths from the browser never leave the reports directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from audit.dashboard.paths import (
    REPORTS_ENV,
    check_run_name,
    find_runs,
    reports_root,
    resolve_run,
    safe_file,
)
from audit.errors import UserError


def _run(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "ledger.sqlite").write_bytes(b"")
    return folder


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "reports"
    _run(root / "alpha")
    _run(root / "group" / "beta")
    _run(tmp_path / "outside")
    (root / "notes").mkdir()
    (root / "link-out").symlink_to(tmp_path / "outside")
    (root / "link-in").symlink_to(root / "alpha")
    (tmp_path / "secret.txt").write_text("secret")
    return root


def test_find_runs_lists_runs_inside_only(tree: Path) -> None:
    assert find_runs(tree) == ["alpha", "group/beta", "link-in"]
    assert find_runs(tree / "missing") == []


@pytest.mark.parametrize(
    "name",
    [
        "..",
        "../outside",
        "alpha/../../outside",
        "/etc",
        "/",
        "",
        "group/../..",
        "a\\..\\..",
        "alpha/./..",
        ".hidden",
        "x" * 500,
        "a/b/c/d",
        None,
        ["alpha"],
    ],
)
def test_bad_names_are_refused(tree: Path, name: object) -> None:
    with pytest.raises(UserError):
        resolve_run(tree, name)


def test_symlink_out_of_the_directory_is_refused(tree: Path) -> None:
    assert check_run_name("link-out") == "link-out"  # a fine name...
    with pytest.raises(UserError, match="outside the reports directory"):
        resolve_run(tree, "link-out")  # ...that points outside


def test_good_names_resolve_inside(tree: Path) -> None:
    assert resolve_run(tree, "alpha") == (tree / "alpha").resolve()
    assert resolve_run(tree, "group/beta") == (tree / "group" / "beta").resolve()
    assert resolve_run(tree, "link-in") == (tree / "alpha").resolve()
    with pytest.raises(UserError, match="no run named"):
        resolve_run(tree, "notes")


def test_the_root_itself_can_be_a_run(tmp_path: Path) -> None:
    run = _run(tmp_path / "one")
    assert find_runs(run) == ["."]
    assert resolve_run(run, ".") == run.resolve()


def test_safe_file_stays_in_the_run(tree: Path) -> None:
    run = tree / "alpha"
    (run / "images").mkdir()
    (run / "images" / "a.png").write_bytes(b"png")
    assert safe_file(run, run / "images" / "a.png") == (run / "images" / "a.png").resolve()
    assert safe_file(run, "images/a.png") == (run / "images" / "a.png").resolve()
    assert safe_file(run, "../../secret.txt") is None
    assert safe_file(run, str(tree.parent / "secret.txt")) is None
    assert safe_file(run, "images/missing.png") is None
    assert safe_file(run, None) is None
    assert safe_file(run, float("nan")) is None  # type: ignore[arg-type]


def test_reports_root_from_argument_environment_or_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REPORTS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert reports_root() == tmp_path / "reports"
    monkeypatch.setenv(REPORTS_ENV, str(tmp_path / "elsewhere"))
    assert reports_root() == tmp_path / "elsewhere"
    assert reports_root(tmp_path / "given") == tmp_path / "given"
    assert os.environ[REPORTS_ENV] == str(tmp_path / "elsewhere")

"""The dashboard health check: finds the packaged app and pages, and runs each page once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from audit.dashboard import health, navigation
from audit.dashboard.navigation import PAGE_URLS, PAGES, app_dir


def test_every_page_file_is_in_the_package() -> None:
    assert navigation.missing_files() == []
    assert app_dir().resolve() == Path(navigation.__file__).resolve().parent
    scripts = sorted(p.name for p in (app_dir() / "views").glob("*_page.py"))
    assert scripts == sorted(f"{url}_page.py" for url in PAGE_URLS)


def test_check_runs_every_page_on_an_empty_directory(tmp_path: Path) -> None:
    result = health.check(tmp_path)
    assert result.ok, result.findings
    assert result.app == navigation.app_file() and result.reports == tmp_path.resolve()
    assert [f.what for f in result.findings] == ["files", *(f"page {url}" for url in PAGE_URLS)]
    assert all(f"no runs under {tmp_path.resolve()}" in f.detail for f in result.findings[1:])


def _copy_of_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the app folder the navigation points at instead of the package's."""
    copy = tmp_path / "app"
    shutil.copytree(app_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(navigation, "app_dir", lambda: copy)
    return copy


def test_a_missing_page_is_found_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = _copy_of_app(tmp_path, monkeypatch)
    (copy / PAGES[-1].script).unlink()
    result = health.check(tmp_path)
    assert not result.ok
    (files,) = result.findings  # no page is run while one is missing
    assert not files.ok and PAGES[-1].script.split("/")[-1] in files.detail


def test_a_page_that_raises_fails_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = _copy_of_app(tmp_path, monkeypatch)
    (copy / navigation.page("sweep").script).write_text('raise RuntimeError("broken page")\n')
    result = health.check(tmp_path / "missing")  # no reports directory: pages say so
    failed = {f.what: f.detail for f in result.findings if not f.ok}
    assert failed == {"page sweep": "broken page"}

"""`t2i-audit dashboard`: the command line it starts and the errors it refuses with."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from audit.cli import build_parser, main
from audit.dashboard import server as launch_module
from audit.dashboard.navigation import app_file
from audit.dashboard.paths import REPORTS_ENV
from audit.dashboard.server import command, environment, plan


def test_parser_defaults_to_localhost() -> None:
    args = build_parser().parse_args(["dashboard"])
    assert (args.reports, args.port, args.host) == (None, 8501, "127.0.0.1")
    args = build_parser().parse_args(["dashboard", "runs", "--port", "9000", "--host", "0.0.0.0"])
    assert (args.reports, args.port, args.host) == ("runs", 9000, "0.0.0.0")


def test_command_runs_the_app_bound_to_the_host() -> None:
    argv = command(9123)
    app = app_file()
    assert argv[:5] == [sys.executable, "-m", "streamlit", "run", str(app)]
    # The app ships inside the package, not beside a source checkout.
    assert app.is_file()
    assert app.resolve().parent == Path(launch_module.__file__).resolve().parent
    flags = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert flags["--server.port"] == "9123"
    assert flags["--server.address"] == "127.0.0.1"
    assert flags["--server.headless"] == "true"
    assert flags["--browser.gatherUsageStats"] == "false"


def test_environment_names_the_reports_directory(tmp_path: Path) -> None:
    env = environment(tmp_path)
    assert env[REPORTS_ENV] == str(tmp_path.resolve())


def test_plan_says_what_will_run_without_starting(tmp_path: Path) -> None:
    launch = plan(tmp_path, port=8700, host="0.0.0.0")
    assert launch.url == "http://0.0.0.0:8700" and launch.reports == tmp_path.resolve()
    assert launch.argv == command(8700, "0.0.0.0")
    assert launch.env[REPORTS_ENV] == str(tmp_path.resolve())


def test_cli_refuses_bad_input_without_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr(launch_module.os, "execve", lambda *a: started.append(a))
    monkeypatch.setattr(launch_module.subprocess, "call", lambda *a, **k: started.append(a))
    assert main(["dashboard", str(tmp_path / "missing")]) == 2
    assert "reports directory not found" in capsys.readouterr().err
    assert main(["dashboard", str(tmp_path), "--port", "70000"]) == 2
    assert "port 70000 is out of range" in capsys.readouterr().err
    assert started == []


def test_cli_execs_streamlit_with_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, list[str], dict[str, str]]] = []
    monkeypatch.setattr(launch_module.os, "name", "posix")
    monkeypatch.setattr(launch_module.os, "execve", lambda p, a, e: calls.append((p, a, e)))
    main(["dashboard", str(tmp_path), "--port", "8600"])
    ((path, argv, env),) = calls
    assert path == sys.executable and "--server.port" in argv and "8600" in argv
    assert env[REPORTS_ENV] == str(tmp_path.resolve())

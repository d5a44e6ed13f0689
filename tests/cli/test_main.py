"""The command line as a whole: one module per command, the shared error catch, exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

import audit.cli.suites
from audit.cli import COMMANDS, build_parser, main
from audit.errors import UserError

NAMES = [
    "plan", "run", "ingest", "score", "export", "verify", "suites", "samplers", "doctor", "bench",
    "report", "gate", "reference", "toyworld", "dashboard",
]  # fmt: skip


def _commands() -> dict[str, object]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return dict(sub.choices)  # type: ignore[arg-type]


def test_every_command_lives_in_the_module_of_its_name() -> None:
    assert list(_commands()) == NAMES
    assert [m.__name__.rsplit(".", 1)[1] for m in COMMANDS] == NAMES


def test_every_command_takes_quiet() -> None:
    for name in NAMES:
        options = {s for a in _commands()[name]._actions for s in a.option_strings}  # type: ignore[attr-defined]
        assert {"--quiet", "-q"} <= options, name


def test_bad_input_exits_2_without_a_traceback(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gate", "no-such-run", "no-such-run-either"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no-such-run: no such run directory") and "Traceback" not in err
    assert "fix: check the path" in err


def test_debug_shows_the_traceback() -> None:
    with pytest.raises(UserError, match="no such run directory"):
        main(["--debug", "gate", "no-such-run", "no-such-run-either"])


def test_a_bad_option_is_bad_input() -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--workers", "0"])
    assert exit_.value.code == 2


def test_interrupt_exits_130_and_says_how_to_resume(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(audit.cli.suites, "cmd_suites", interrupted)
    assert main(["suites"]) == 130
    assert "run the same command to resume" in capsys.readouterr().err


def test_listing_commands_print_and_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["suites"]) == 0
    assert "toy" in capsys.readouterr().out
    assert main(["samplers"]) == 0
    assert "ddim" in capsys.readouterr().out


def test_the_cli_imports_nothing_heavy() -> None:
    # `t2i-audit --help` stays instant: commands import their libraries when they run.
    code = (
        "import sys, audit.cli; heavy = {'torch', 'diffusers', 'pandas', 'numpy', 'streamlit'}; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

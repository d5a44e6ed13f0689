"""`t2i-audit doctor`: which scorers can run here, and what the others need."""

from __future__ import annotations

import argparse

from audit.cli.common import Subparsers, add_command


def register(sub: Subparsers) -> None:
    help = "say which scorers can run here and what the others need"
    add_command(sub, "doctor", cmd_doctor, help)


def cmd_doctor(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from audit.scorers.registry import default_registry

    registry = default_registry()
    for name in registry.names():
        try:
            cls = registry.get(name)
        except ImportError as exc:
            print(f"[missing] {name}: cannot import ({exc})")
            continue
        try:
            options = cls.Options()
        except ValidationError as exc:
            # Scorers with required options (e.g. fid's reference) cannot be checked bare.
            fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
            print(f"[options] {name} v{cls.version}: set `{fields}` in the spec to use it")
            continue
        needs = cls.check(options)
        lacking = [r for r in needs if not r.ok]
        status = "ok" if not lacking else "missing"
        mode = "offline" if cls.offline else "needs downloads or local weights"
        print(f"[{status:>7}] {name} v{cls.version} ({mode})")
        for r in lacking:
            print(f"           needs {r.what}\n           fix: {r.fix}")
    return 0

"""`t2i-audit score`: score an existing or ingested run, without generating."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from audit.cli.common import Subparsers, add_command, add_wait, comma_list
from audit.errors import UserError

if TYPE_CHECKING:
    from audit.config import ScorerEntry
    from audit.scorers.runner import ScoreSummary


def register(sub: Subparsers) -> None:
    sp = add_command(sub, "score", cmd_score, "score an existing or ingested run (no generation)")
    sp.add_argument("run")
    sp.add_argument(
        "--scorers", help="comma-separated names (default: the spec's, else all offline)"
    )
    sp.add_argument(
        "--options",
        help="YAML file mapping scorer name -> options, or a spec-style `scorers:` list",
    )
    sp.add_argument("--force", action="store_true", help="score again even if up to date")
    add_scoring_workers(sp)
    sp.add_argument("--executor", choices=["local", "ray"], default="local")
    sp.add_argument("--address", help="Ray cluster address (with --executor ray)")
    add_wait(sp)


def worker_count(text: str) -> int:
    """`--workers`: a whole number, 1 or more (argparse exits 2 with this message)."""
    from audit.scorers.pool import default_text

    fix = f"fix: give --workers 1 (one process) or more; the default is {default_text()}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}; {fix}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}; {fix}")
    return value


def add_scoring_workers(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--workers",
        type=worker_count,
        metavar="N",
        help="scoring worker processes, each loading its scorer once (default: "
        "$T2I_AUDIT_WORKERS, else one per core; 1: score in this process); with "
        "--executor ray, Ray actors (default: one per CPU of the cluster). The values are "
        "those of one process (Ray: within float rounding).",
    )


def cmd_score(args: argparse.Namespace) -> int:
    from audit.scorers.runner import score_run
    from audit.store.run_store import RunStore

    run_dir = Path(args.run)
    store = RunStore.open(run_dir, wait=args.wait)
    try:
        entries = scorer_entries(run_dir, args.scorers, args.options)
        # Options are checked while scoring: a bad one names the file it came from.
        source = args.options or ("--scorers" if args.scorers else str(run_dir / "run.json"))
        summary = score_run(
            store,
            entries,
            force=args.force,
            spec_file=source,
            quiet=args.quiet,
            workers=args.workers,
            executor=args.executor,
            address=args.address,
        )
    finally:
        store.close()
    print_scoring(summary)
    return 0


def print_scoring(summary: ScoreSummary) -> None:
    """What each scorer did. These lines are the result, so `--quiet` (no progress bars)
    keeps them: a skipped scorer must be visible in CI too."""
    for name, n in summary.scored.items():
        on = summary.workers.get(name, 1)
        tail = " (nothing new)" if n == 0 else f" on {on} workers" if on > 1 else ""
        print(f"{name}: scored {n}{tail}")
    for name, needs in summary.skipped.items():
        print(f"{name}: skipped, needs " + "; ".join(needs))
    for path, why in summary.unreadable.items():
        print(f"unreadable, not scored (the next `score` tries again): {path}: {why}")


def scorer_entries(
    run_dir: Path, scorers: str | None, options_file: str | None
) -> list[ScorerEntry]:
    """Which scorer instances to run: `--scorers` (with options from `--options`), else a
    `scorers:` list in the options file, else the run's own spec, else every offline scorer.

    The options file maps scorer names to options (`watermark: {message: ...}`), or holds a
    spec-style list (`scorers: [watermark, {watermark: {message: ..., as: wm2}}]`).
    """
    from audit.config import parse_scorer_entries, read_yaml
    from audit.scorers.registry import default_registry
    from audit.store.frames import run_info

    options: dict[str, object] = {}
    if options_file:
        raw = read_yaml(Path(options_file), what="scorer options file")
        if isinstance(raw, dict) and set(raw) == {"scorers"}:
            listed = parse_scorer_entries(raw["scorers"], file=options_file)
            return [e for e in listed if not scorers or e.name in comma_list(scorers)]
        if not isinstance(raw, dict):
            raise UserError(
                "must map scorer names to options, or hold a `scorers:` list as in a spec",
                file=options_file,
                field="(top level)",
                fix="e.g. `text: {upscale: 4}`",
            )
        known = default_registry().names()
        unknown = sorted(str(k) for k in raw if k not in known)
        if unknown:  # a typo must not be ignored silently
            raise UserError(
                f"unknown scorer(s) {unknown}",
                file=options_file,
                field=unknown[0],
                fix=f"use scorer names: {', '.join(known)}",
            )
        options = raw
    file = options_file or "--scorers"
    if scorers:
        return parse_scorer_entries(
            [{n: options.get(n) or {}} for n in comma_list(scorers)], file=file
        )
    spec = run_info(run_dir).get("spec", {})
    if spec.get("scorers"):
        return parse_scorer_entries(spec["scorers"], file=run_dir / "run.json")
    registry = default_registry()
    offline = [
        n for n in registry.names() if registry.get(n).offline and registry.get(n).by_default
    ]
    return parse_scorer_entries([{n: options.get(n) or {}} for n in offline], file=file)

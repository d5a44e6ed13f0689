"""`t2i-audit run`: generate (or resume) a sweep, score it, write its report."""

from __future__ import annotations

import argparse
from pathlib import Path

from audit.cli.common import DEFAULT_OUT, Subparsers, add_command, add_wait
from audit.cli.score import print_scoring, worker_count

SPECS_DIR = Path(__file__).resolve().parents[1] / "specs"


def default_spec_path() -> Path:
    """The toy-world sweep when its weights ship, else the tiny random smoke sweep."""
    from audit.generate.builtin import builtin_available

    toy = SPECS_DIR / "toy.yaml"
    if toy.is_file() and builtin_available("toy-shapes"):
        return toy
    return SPECS_DIR / "smoke.yaml"


def register(sub: Subparsers) -> None:
    sp = add_command(sub, "run", cmd_run, "generate (or resume) a sweep and score it")
    sp.add_argument("spec", nargs="?", help="sweep YAML (default: the built-in audit)")
    sp.add_argument("--out", default=str(DEFAULT_OUT), help="output root (default: reports/)")
    sp.add_argument("--fresh", action="store_true", help="discard earlier results of this run")
    sp.add_argument("--executor", choices=["local", "ray"], default="local")
    sp.add_argument("--address", help="Ray cluster address (with --executor ray)")
    sp.add_argument(
        "--workers",
        type=worker_count,
        metavar="N",
        help="workers: with --executor ray, the Ray generation workers (default: one per "
        "GPU, else one per CPU slot) and then the Ray scoring actors (default: one per CPU); "
        "with --executor local, the scoring processes (default: one per core; 1: score in "
        "this process). The values are those of one process (Ray: within float rounding).",
    )
    sp.add_argument("--no-score", action="store_true", help="generate only")
    sp.add_argument("--retime", action="store_true", help="time every cell again")
    sp.add_argument("--no-report", action="store_true", help="skip writing report.html")
    add_wait(sp)


def cmd_run(args: argparse.Namespace) -> int:
    from audit.config import load_spec
    from audit.sweep import run_sweep

    spec_path = Path(args.spec) if args.spec else default_spec_path()
    spec, base = load_spec(spec_path)
    result = run_sweep(
        spec,
        base,
        Path(args.out),
        spec_file=str(spec_path),
        fresh=args.fresh,
        quiet=args.quiet,
        executor=args.executor,
        address=args.address,
        workers=args.workers,
        score=not args.no_score,
        wait=args.wait,
        retime=args.retime,
    )
    print(
        f"run {spec.name}: {result.total} images ({result.generated} generated, "
        f"{result.skipped} already there) in {result.seconds:.1f} s -> {result.run_dir}"
    )
    for note in result.notes:
        print(note)
    if result.score is not None:  # None: the run did not score
        print_scoring(result.score)
    if not args.no_report and spec.scorers:
        from audit.report import write_report
        from audit.store.frames import load_frames

        out = result.run_dir / "report.html"
        write_report(load_frames(result.run_dir), "html", out)
        print(f"report: {out}")
    if not args.spec:
        print(f"browse it: t2i-audit dashboard {args.out}")
    return 0

"""`t2i-audit plan`: what `run` would do with a spec, without writing anything."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from audit.cli.common import DEFAULT_OUT, Subparsers, add_command
from audit.cli.score import worker_count

if TYPE_CHECKING:  # imported when the command runs: `t2i-audit --help` stays light
    from audit.plan import Estimate, Plan, ScoringEstimate


def register(sub: Subparsers) -> None:
    sp = add_command(sub, "plan", cmd_plan, "what `run` would do: images, scores, time, disk")
    sp.add_argument("spec", nargs="?", help="sweep YAML (default: the built-in audit)")
    sp.add_argument("--out", default=str(DEFAULT_OUT), help="output root (default: reports/)")
    sp.add_argument(
        "--no-calibrate",
        action="store_true",
        help="no calibration run for models without earlier timing records (no estimate then)",
    )
    sp.add_argument(
        "--workers",
        type=worker_count,
        metavar="N",
        help="the scoring processes `run --workers N` would use, for the scoring estimate "
        "(default: as run's)",
    )


def cmd_plan(args: argparse.Namespace) -> int:
    from audit.cli.run import default_spec_path
    from audit.config import load_spec
    from audit.plan import make_plan

    spec_path = Path(args.spec) if args.spec else default_spec_path()
    spec, base = load_spec(spec_path)
    result = make_plan(
        spec,
        base,
        Path(args.out),
        spec_file=str(spec_path),
        calibrate=not args.no_calibrate,
        workers=args.workers,
    )
    print("\n".join(format_plan(result)))
    return 0


def format_plan(plan: Plan) -> list[str]:
    where = "" if plan.run_exists else " (no run there yet: everything is due)"
    lines = [
        f"plan {plan.name} -> {plan.run_dir}{where}",
        f"  requests: {plan.requests} images in {plan.cells} cells",
        f"  images: {plan.present} there, {plan.to_generate} to generate"
        + (f" ({plan.vanished} recorded but their files are gone)" if plan.vanished else ""),
    ]
    if plan.timing is None:
        lines.append("  timing pass: off (spec `timing: false`): no speed will be measured")
    else:
        t = plan.timing
        lines.append(
            f"  timing pass: {plan.timing_due} of {plan.cells} cells due "
            f"({t.warmup} warm-up + {t.repeats} timed batches of {t.batch_size} per cell)"
        )
    if plan.scorers:
        lines.append("  scores (there / due):")
    for s in plan.scorers:
        if s.lacking:
            lines.append(f"    {s.instance}: skipped here, lacks {'; '.join(s.lacking)}")
        else:
            took = ""
            if s.seconds is not None:
                guide = " (from its other options)" if s.seconds_from == "other options" else ""
                took = f", about {_duration(s.seconds)}{guide}"
            lines.append(f"    {s.instance}: {s.present} / {s.due} of {s.total} {s.unit}{took}")
    if plan.estimate is not None:
        lines += _estimate_lines(plan.estimate)
    if plan.scoring is not None:
        lines += _scoring_lines(plan.scoring)
    lines.append("nothing was written")
    return lines


def _estimate_lines(est: Estimate) -> list[str]:
    if est.seconds == 0.0 and est.disk_bytes == 0.0:
        return ["  generation: nothing to generate or time"]
    if est.seconds is None:
        time = "  time: unknown"
    else:
        time = (
            f"  time: about {_duration(est.seconds)} on {est.device} "
            f"({_duration(est.seconds_generate or 0.0)} generating, "
            f"{_duration(est.seconds_timing or 0.0)} timing pass; scoring below)"
        )
    lines = [
        time,
        f"    from {est.time_source}, at {est.batch_size} image(s) per batch (the sweep's larger "
        "batches are usually faster per image)",
    ]
    if est.disk_bytes is None:
        lines.append(f"  disk: {est.disk_source}")
    else:
        per = f", {est.bytes_per_image / 1e3:.1f} kB per image" if est.bytes_per_image else ""
        size = _size(est.disk_bytes)
        lines.append(f"  disk: about {size} of images{per}, from {est.disk_source}")
    return lines


def _scoring_lines(est: ScoringEstimate) -> list[str]:
    workers = f"{est.workers} worker{'s' * (est.workers > 1)}"
    if not est.runs and not est.unknown:
        return ["  scoring: nothing due"]
    if not est.runs:
        line = f"  scoring: not estimated at {workers}"
    else:
        line = (
            f"  scoring: about {_duration(est.seconds)} at {workers}, from earlier scoring "
            f"passes on this host ({', '.join(est.runs)})"
        )
    lines = [line]
    if est.other_options:
        lines.append(
            f"    {', '.join(est.other_options)}: priced by earlier passes with other options "
            "(a guide: options can change the work)"
        )
    if est.unknown:
        lines.append(
            f"    no estimate for {', '.join(est.unknown)}: no earlier pass of that scorer "
            f"here with {workers}"
        )
    return lines


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"

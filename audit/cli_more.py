"""Commands for benchmarks, reference statistics, reports, the gate, the dashboard and the
toy world. Kept apart from cli.py so each command's wiring stays short."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def cmd_bench_generate(args: argparse.Namespace) -> int:
    from audit.bench.generate import bench_generate, bench_noop_resume, format_generate

    result = bench_generate(
        args.model,
        size=args.size,
        batch_size=args.batch_size,
        steps=args.steps,
        rounds=args.rounds,
        images_per_round=args.images,
        dtype=args.dtype,
    )
    print(format_generate(result))
    if not args.skip_resume:
        n, seconds = bench_noop_resume()
        print(f"  no-op resume of a completed {n}-image run: {seconds:.2f} s (whole CLI process)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from audit.report import report_files

    out = args.out or str(Path(args.run) / f"report.{args.format}")
    path = report_files(args.run, args.format, out)
    print(f"report: {path}")
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    from audit.report.gate_markdown import gate_markdown
    from audit.stats.gate import gate_files

    result = gate_files(
        args.baseline,
        args.candidate,
        args.gate,
        junit=args.junit,
        markdown=args.markdown,
        baseline_model=args.baseline_model,
        candidate_model=args.candidate_model,
    )
    print(gate_markdown(result))
    return int(result.exit_code)


def register(sub: argparse._SubParsersAction, add: Callable) -> None:  # type: ignore[type-arg]
    bench = add("bench", lambda a: a.bench_func(a), "performance benchmarks (ratios side by side)")
    bsub = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCH")
    sp = bsub.add_parser("generate", help="harness vs a plain diffusers loop")
    sp.set_defaults(bench_func=cmd_bench_generate)
    sp.add_argument("--model", default="builtin:tiny-random-sd")
    sp.add_argument("--size", type=int, default=64)
    sp.add_argument("--batch-size", type=int, default=4)
    sp.add_argument("--steps", type=int, default=10)
    sp.add_argument("--rounds", type=int, default=4)
    sp.add_argument("--images", type=int, default=8, help="images per side per round")
    sp.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    sp.add_argument("--skip-resume", action="store_true", help="skip the no-op resume timing")

    sp = add("report", cmd_report, "write a run's report (leaderboard, Pareto front, safety)")
    sp.add_argument("run", help="run directory or exported score file")
    sp.add_argument("--format", choices=["md", "html", "json"], default="html")
    sp.add_argument("--out", help="output file (default: RUN/report.FORMAT)")

    sp = add("gate", cmd_gate, "paired regression gate: exit 1 if the candidate regressed")
    sp.add_argument("baseline", help="run directory or exported score file")
    sp.add_argument("candidate", help="run directory or exported score file")
    sp.add_argument("--gate", help="gate YAML (default: the shipped audit/gates/default.yaml)")
    sp.add_argument("--junit", help="write a JUnit XML file, one test case per metric")
    sp.add_argument("--markdown", help="write a Markdown summary for a CI job page")
    sp.add_argument("--baseline-model", help="model id to take from BASELINE if it has several")
    sp.add_argument("--candidate-model", help="model id to take from CANDIDATE if it has several")

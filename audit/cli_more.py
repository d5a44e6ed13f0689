"""Commands for benchmarks, reference statistics, reports, the gate, the dashboard and the
toy world. Kept apart from cli.py so each command's wiring stays short."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from audit.bench.suite import SuiteSizes


def cmd_bench_generate(args: argparse.Namespace) -> int:
    from audit.bench.generate import bench_generate, bench_noop_resume, format_generate
    from audit.bench.suite import torch_threads

    with torch_threads(args.threads):
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


def _print_suite(
    args: argparse.Namespace, sections: list[str], sizes: SuiteSizes | None = None
) -> int:
    import json

    from audit.bench.suite import format_suite, run_suite
    from audit.progress import say

    result = run_suite(sections, sizes, log=lambda msg: say(msg, quiet=args.quiet))
    json_out = getattr(args, "json", None)
    print(format_suite(result))
    if json_out:
        Path(json_out).write_text(json.dumps(result.to_json(), indent=2))
        print(f"json: {json_out}")
    return 0


def cmd_bench_all(args: argparse.Namespace) -> int:
    from audit.bench.suite import SECTIONS, SuiteSizes
    from audit.errors import UserError

    chosen = getattr(args, "sections", None)
    sections = [s.strip() for s in chosen.split(",") if s.strip()] if chosen else []
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise UserError(
            f"unknown benchmark section(s): {', '.join(unknown)}",
            field="--sections",
            fix=f"use some of: {', '.join(SECTIONS)}",
        )
    threads = getattr(args, "threads", None)
    sizes = SuiteSizes(threads=threads) if threads is not None else None
    return _print_suite(args, sections or list(SECTIONS), sizes)


def cmd_bench_score(args: argparse.Namespace) -> int:
    from audit.bench.suite import SuiteSizes

    sizes = SuiteSizes(
        score_images=args.images,
        score_size=args.size,
        clip_images=args.clip_images,
        clip_rounds=args.rounds,
    )
    return _print_suite(args, ["score"], sizes)


def cmd_bench_ray(args: argparse.Namespace) -> int:
    from audit.bench.suite import SuiteSizes

    sizes = SuiteSizes(ray_images=args.images, steps=args.steps, ray_rounds=args.rounds)
    return _print_suite(args, ["ray"], sizes)


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


def cmd_reference_build(args: argparse.Namespace) -> int:
    from audit.scorers.reference import build_reference

    spec = {"kind": args.extractor, "resize": args.resize}
    if args.weights:
        spec["weights"] = args.weights
    path = build_reference(
        Path(args.dir),
        args.name,
        Path(args.out),
        spec,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    print(f"reference '{args.name}': {path}")
    return 0


def cmd_toyworld_validate(args: argparse.Namespace) -> int:
    from audit.toyworld.validate import run

    return run(args)


def register(sub: argparse._SubParsersAction, add: Callable) -> None:  # type: ignore[type-arg]
    from audit.bench.suite import SECTIONS  # light: no torch

    bench = add("bench", lambda a: a.bench_func(a), "performance benchmarks (ratios side by side)")
    bench.set_defaults(bench_func=cmd_bench_all)  # `t2i-audit bench` alone runs them all
    bsub = bench.add_subparsers(dest="bench_command", metavar="BENCH")
    sp = bsub.add_parser("all", help="the whole suite, one table (the default)")
    sp.set_defaults(bench_func=cmd_bench_all)
    for parser, default in ((bench, None), (sp, argparse.SUPPRESS)):
        # On both, so `bench --json F` and `bench all --json F` work; SUPPRESS keeps the
        # sub-command from overwriting a value given before it.
        parser.add_argument(
            "--sections",
            default=default,
            help=f"comma-separated subset of: {', '.join(SECTIONS)}",
        )
        parser.add_argument("--json", default=default, help="also write the table as JSON")
        parser.add_argument(
            "--threads",
            type=int,
            default=default,
            help="torch threads for the in-process comparisons (default 1; 0 = torch's own)",
        )

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
    sp.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's own)")

    sp = bsub.add_parser("score", help="images/s of each offline scorer; clip beside direct")
    sp.set_defaults(bench_func=cmd_bench_score)
    sp.add_argument("--images", type=int, default=16)
    sp.add_argument("--size", type=int, default=256, help="image side in pixels")
    sp.add_argument("--clip-images", type=int, default=32)
    sp.add_argument("--rounds", type=int, default=3, help="alternating rounds, clip vs direct")

    sp = bsub.add_parser("ray", help="Ray with 2 workers vs 1 on a CPU-bound sweep")
    sp.set_defaults(bench_func=cmd_bench_ray)
    sp.add_argument("--images", type=int, default=16, help="images per side per round")
    sp.add_argument("--steps", type=int, default=10)
    sp.add_argument("--rounds", type=int, default=2)

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

    ref = add("reference", lambda a: a.ref_func(a), "reference statistics for FID/KID")
    rsub = ref.add_subparsers(dest="reference_command", required=True, metavar="ACTION")
    sp = rsub.add_parser("build", help="extract features of a folder of real images")
    sp.set_defaults(ref_func=cmd_reference_build, quiet=False)
    sp.add_argument("dir", help="folder of real images (PNG, JPEG, WebP)")
    sp.add_argument("--name", required=True, help="reference name, used by fid: {reference: NAME}")
    sp.add_argument("--out", default="reports", help="root; writes OUT/references/NAME/")
    sp.add_argument("--extractor", default="inception", help="inception | clip | a custom kind")
    sp.add_argument("--resize", default="clean", help="resize mode (part of the identity)")
    sp.add_argument("--weights", help="local extractor weights file (offline use)")
    sp.add_argument("--overwrite", action="store_true", help="replace an existing reference")
    sp.add_argument("--quiet", "-q", action="store_true")

    toy = add("toyworld", lambda a: a.toy_func(a), "the built-in reference world")
    tsub = toy.add_subparsers(dest="toyworld_command", required=True, metavar="ACTION")
    sp = tsub.add_parser(
        "validate",
        help="measure the pixel reader and the shipped toy models (prints a table)",
    )
    sp.set_defaults(toy_func=cmd_toyworld_validate)
    from audit.toyworld.validate import add_arguments  # light: no torch

    add_arguments(sp)

    def cmd_dashboard(args: argparse.Namespace) -> int:
        from audit.dashboard.server import launch

        return launch(args.reports, port=args.port, host=args.host)

    sp = add("dashboard", cmd_dashboard, "browse runs in a local web app (Streamlit)")
    sp.add_argument(
        "reports", nargs="?", help="reports directory (default: $T2I_AUDIT_REPORTS or reports/)"
    )
    sp.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    sp.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine)"
    )

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


def cmd_reference_build(args: argparse.Namespace) -> int:
    from audit.score.reference import build_reference

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

    def cmd_dashboard(args: argparse.Namespace) -> int:
        from audit.dashboard.launch import launch

        return launch(args.reports, port=args.port, host=args.host)

    sp = add("dashboard", cmd_dashboard, "browse runs in a local web app (Streamlit)")
    sp.add_argument(
        "reports", nargs="?", help="reports directory (default: $T2I_AUDIT_REPORTS or reports/)"
    )
    sp.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    sp.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine)"
    )

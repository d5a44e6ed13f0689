"""`t2i-audit bench [all|generate|score|fid|ray]`, and `python -m audit.bench.gpu_check`.

Every benchmark measures its two sides in one process, so the printed ratios stand on their own.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from audit.cli.common import Subparsers, add_command, comma_list, run_script, script_parser
from audit.errors import UserError

if TYPE_CHECKING:
    from audit.bench.suite import SuiteSizes


def register(sub: Subparsers) -> None:
    from audit.bench.suite import SECTIONS  # light: no torch

    bench = add_command(sub, "bench", cmd_all, "performance benchmarks (ratios side by side)")
    bsub = bench.add_subparsers(dest="bench_command", metavar="BENCH")
    sp = bsub.add_parser("all", help="the whole suite, one table (the default)")
    sp.set_defaults(func=cmd_all)
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
    sp.set_defaults(func=cmd_generate)
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
    sp.set_defaults(func=cmd_score)
    sp.add_argument("--images", type=int, default=16)
    sp.add_argument("--size", type=int, default=256, help="image side in pixels")
    sp.add_argument("--clip-images", type=int, default=32)
    sp.add_argument("--rounds", type=int, default=3, help="alternating rounds, clip vs direct")

    sp = bsub.add_parser("fid", help="FID state memory; per-cell Frechet distance vs scipy")
    sp.set_defaults(func=cmd_fid)
    sp.add_argument("--dim", type=int, default=2048, help="feature dimension (Inception: 2048)")
    sp.add_argument("--cells", type=int, default=2, help="cells timed both ways")
    sp.add_argument("--json", default=argparse.SUPPRESS, help="also write the table as JSON")

    sp = bsub.add_parser("ray", help="Ray with 2 workers vs 1 on a CPU-bound sweep")
    sp.set_defaults(func=cmd_ray)
    sp.add_argument("--images", type=int, default=16, help="images per side per round")
    sp.add_argument("--steps", type=int, default=10)
    sp.add_argument("--rounds", type=int, default=2)


def cmd_all(args: argparse.Namespace) -> int:
    from audit.bench.suite import SECTIONS, SuiteSizes

    sections = comma_list(args.sections) if args.sections else []
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise UserError(
            f"unknown benchmark section(s): {', '.join(unknown)}",
            field="--sections",
            fix=f"use some of: {', '.join(SECTIONS)}",
        )
    sizes = SuiteSizes(threads=args.threads) if args.threads is not None else None
    return _print_suite(args, sections or list(SECTIONS), sizes)


def cmd_generate(args: argparse.Namespace) -> int:
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


def cmd_score(args: argparse.Namespace) -> int:
    from audit.bench.suite import SuiteSizes

    sizes = SuiteSizes(
        score_images=args.images,
        score_size=args.size,
        clip_images=args.clip_images,
        clip_rounds=args.rounds,
    )
    return _print_suite(args, ["score"], sizes)


def cmd_fid(args: argparse.Namespace) -> int:
    from audit.bench.suite import SuiteSizes

    if args.dim < 2 or args.cells < 1:
        raise UserError(
            "--dim must be at least 2 and --cells at least 1",
            field="--dim" if args.dim < 2 else "--cells",
            fix="e.g. t2i-audit bench fid --dim 2048 --cells 2",
        )
    sizes = SuiteSizes(fid_speed_dim=args.dim, fid_speed_cells=args.cells)
    return _print_suite(args, ["fid"], sizes)


def cmd_ray(args: argparse.Namespace) -> int:
    from audit.bench.suite import SuiteSizes

    sizes = SuiteSizes(ray_images=args.images, steps=args.steps, ray_rounds=args.rounds)
    return _print_suite(args, ["ray"], sizes)


def _print_suite(
    args: argparse.Namespace, sections: list[str], sizes: SuiteSizes | None = None
) -> int:
    from audit.bench.suite import format_suite, run_suite
    from audit.progress import say

    result = run_suite(sections, sizes, log=lambda msg: say(msg, quiet=args.quiet))
    print(format_suite(result))
    json_out = getattr(args, "json", None)  # `bench`, `bench all` and `bench fid` take --json
    if json_out:
        Path(json_out).write_text(json.dumps(result.to_json(), indent=2))
        print(f"json: {json_out}")
    return 0


# --- python -m audit.bench.gpu_check --------------------------------------------------------


def gpu_check_parser() -> argparse.ArgumentParser:
    from audit.bench import gpu_check

    parser = script_parser("python -m audit.bench.gpu_check", gpu_check.__doc__, cmd_gpu_check)
    parser.add_argument("--out", required=True, help="file to write the table to")
    parser.add_argument("--models", default=",".join(gpu_check.MODELS))
    parser.add_argument("--sizes", default="512,1024")
    parser.add_argument("--batches", default="1,4,8")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--budget", type=float, default=420.0, help="seconds before skipping the rest"
    )
    parser.add_argument(
        "--target", type=float, default=0.97, help="harness / plain loop at every size"
    )
    parser.add_argument(
        "--variants",
        default=",".join(gpu_check.VARIANTS),
        help="harness variants timed against the untouched plain loop ('' for none)",
    )
    parser.add_argument("--variant-model", default="sd15-arch-random")
    parser.add_argument("--variant-size", type=int, default=512)
    parser.add_argument("--variant-batches", default="1,4")
    return parser


def gpu_check_main(argv: Sequence[str] | None = None) -> int:
    return run_script(gpu_check_parser(), argv)


def cmd_gpu_check(args: argparse.Namespace) -> int:
    """Exit 0 when every ratio reaches its target, 1 when one does not, 2 without CUDA."""
    import torch

    from audit.bench.gpu_check import VARIANTS, environment, passed, run_check

    unknown = [v for v in comma_list(args.variants) if v not in VARIANTS]
    if unknown:
        raise UserError(
            f"unknown harness variant {', '.join(unknown)}",
            field="--variants",
            fix=f"use a comma list of: {', '.join(VARIANTS)} (or '' for none)",
        )

    out = Path(args.out)
    print("\n".join(environment()), flush=True)
    if not torch.cuda.is_available():
        out.write_text("\n".join(environment()) + "\nno CUDA device: nothing measured\n")
        return 2
    rows = run_check(
        out,
        models=comma_list(args.models),
        sizes=[int(x) for x in args.sizes.split(",")],
        batches=[int(x) for x in args.batches.split(",")],
        steps=args.steps,
        rounds=args.rounds,
        budget=args.budget,
        target=args.target,
        variants=comma_list(args.variants),
        variant_model=args.variant_model,
        variant_size=args.variant_size,
        variant_batches=[int(x) for x in args.variant_batches.split(",") if x],
        log=lambda line: print(line, flush=True),
    )
    print(out.read_text())
    return 0 if passed(rows, args.target) else 1

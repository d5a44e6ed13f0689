"""`t2i-audit bench [all|generate|score|workers|fid|ray|timing|treering]`, and
`python -m audit.bench.gpu_check`.

Every benchmark measures its two sides in one process, so the printed ratios stand on their own.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from audit.cli.common import Subparsers, add_command, comma_list, run_script, script_parser
from audit.errors import UserError

if TYPE_CHECKING:
    from audit.bench.suite import Row, SuiteSizes


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
    _add_workers_options(sp, prefix="workers-")
    sp.add_argument("--json", default=argparse.SUPPRESS, help="also write the table as JSON")

    sp = bsub.add_parser(
        "workers", help="text scoring on 2 worker processes vs 1, whole `score` commands"
    )
    sp.set_defaults(func=cmd_workers)
    _add_workers_options(sp)
    sp.add_argument("--json", default=argparse.SUPPRESS, help="also write the table as JSON")

    sp = bsub.add_parser("fid", help="FID state memory; per-cell Frechet distance vs scipy")
    sp.set_defaults(func=cmd_fid)
    sp.add_argument("--dim", type=int, default=2048, help="feature dimension (Inception: 2048)")
    sp.add_argument("--cells", type=int, default=2, help="cells timed both ways")
    sp.add_argument("--json", default=argparse.SUPPRESS, help="also write the table as JSON")

    sp = bsub.add_parser("timing", help="two timing passes of one cell: do the medians agree?")
    sp.set_defaults(func=cmd_timing)
    sp.add_argument("--model", help="model source (default: the built-in toy model)")
    sp.add_argument("--steps", type=int, default=10)
    sp.add_argument("--size", type=int, default=64)
    sp.add_argument("--repeats", type=int, default=5, help="timed batches per pass")
    sp.add_argument("--batch-size", type=int, default=1)
    sp.add_argument("--warmup", type=int, default=1)
    sp.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])

    sp = bsub.add_parser("ray", help="Ray with 2 workers vs 1 on a CPU-bound sweep")
    sp.set_defaults(func=cmd_ray)
    sp.add_argument("--images", type=int, default=16, help="images per side per round")
    sp.add_argument("--steps", type=int, default=10)
    sp.add_argument("--rounds", type=int, default=2)

    sp = bsub.add_parser(
        "treering", help="Tree-Ring detection rate at an FPR measured on unmarked images"
    )
    sp.set_defaults(func=cmd_treering)
    sp.add_argument("--seeds", type=int, default=3, help="seeds per prompt (34 toy prompts)")
    sp.add_argument("--steps", type=int, default=25, help="DDIM generation steps")
    sp.add_argument("--guidance", type=float, default=3.0)
    sp.add_argument("--inversion-steps", type=int, default=3)
    sp.add_argument("--attacks", default="jpeg75", help="comma-separated attack names")
    sp.add_argument("--fpr", type=float, default=0.01)
    sp.add_argument("--out", help="keep the run in this folder (default: a temporary one)")
    sp.add_argument("--json", default=argparse.SUPPRESS, help="also write the result as JSON")


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
    sections = sections or list(SECTIONS)
    # The score section carries the workers row, as `bench score` does (its defaults).
    extra = _default_workers_rows if "score" in sections else None
    return _print_suite(args, sections, sizes, extra=extra)


def _default_workers_rows() -> list[Row]:
    from audit.bench.score import workers_rows

    return workers_rows()


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
    return _print_suite(args, ["score"], sizes, extra=_workers_rows(args, "workers-"))


def _add_workers_options(sp: argparse.ArgumentParser, prefix: str = "") -> None:
    """The options of the text-scoring row (N workers against 1); `bench score` prefixes
    them with `workers-`, `bench workers` takes them plain."""
    row = " (the workers row)" if prefix else ""
    sp.add_argument(f"--{prefix}images", type=int, default=60, help=f"images per command{row}")
    sp.add_argument(f"--{prefix}size", type=int, default=256, help=f"image side in pixels{row}")
    sp.add_argument(f"--{prefix}rounds", type=int, default=2, help=f"alternating rounds{row}")
    sp.add_argument(
        "--workers",
        dest=f"{prefix.replace('-', '_')}n",
        type=int,
        default=2,
        help="worker processes of the side under test (measured against 1)",
    )


def _workers_rows(args: argparse.Namespace, prefix: str = "") -> Callable[[], list[Row]]:
    from audit.bench.score import workers_rows

    p = prefix.replace("-", "_")
    images, size = getattr(args, f"{p}images"), getattr(args, f"{p}size")
    rounds, n = getattr(args, f"{p}rounds"), getattr(args, f"{p}n")
    bad = [
        (f"--{prefix}images", images < 1, "1"),
        (f"--{prefix}size", size < 16, "16"),
        (f"--{prefix}rounds", rounds < 1, "1"),
        ("--workers", n < 2, "2"),
    ]
    for name, wrong, least in bad:
        if wrong:
            raise UserError(
                f"must be at least {least}",
                field=name,
                fix="e.g. t2i-audit bench workers --images 60 --workers 2",
            )
    return lambda: workers_rows(images=images, size=size, workers=n, rounds=rounds)


def cmd_workers(args: argparse.Namespace) -> int:
    return _print_suite(args, [], extra=_workers_rows(args))


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


def cmd_timing(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from audit.bench.timing import bench_timing, format_timing
    from audit.config import TimingSpec

    try:
        settings = TimingSpec(repeats=args.repeats, batch_size=args.batch_size, warmup=args.warmup)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UserError(
            f"bad timing settings: {first['msg']}",
            field="--" + str(first["loc"][0]).replace("_", "-"),
            fix="e.g. t2i-audit bench timing --repeats 5 --batch-size 1 --warmup 1",
        ) from None
    result = bench_timing(
        args.model, steps=args.steps, size=args.size, settings=settings, device=args.device
    )
    print(format_timing(result))
    return 0


def cmd_treering(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from audit.bench.treering import bench_treering, format_bench

    if args.seeds < 1 or not 0.0 < args.fpr < 1.0:
        raise UserError(
            "--seeds must be at least 1 and --fpr between 0 and 1",
            field="--seeds" if args.seeds < 1 else "--fpr",
            fix="e.g. t2i-audit bench treering --seeds 3 --fpr 0.01",
        )
    result = bench_treering(
        seeds=args.seeds,
        steps=args.steps,
        guidance=args.guidance,
        inversion_steps=args.inversion_steps,
        attacks=comma_list(args.attacks) if args.attacks else [],
        fpr=args.fpr,
        out_dir=Path(args.out) if args.out else None,
        quiet=args.quiet,
    )
    print(format_bench(result))
    json_out = getattr(args, "json", None)
    if json_out:
        Path(json_out).write_text(json.dumps(asdict(result), indent=2))
    return 0


def cmd_ray(args: argparse.Namespace) -> int:
    from audit.bench.suite import SuiteSizes

    sizes = SuiteSizes(ray_images=args.images, steps=args.steps, ray_rounds=args.rounds)
    return _print_suite(args, ["ray"], sizes)


def _print_suite(
    args: argparse.Namespace,
    sections: list[str],
    sizes: SuiteSizes | None = None,
    extra: Callable[[], list[Row]] | None = None,
) -> int:
    from audit.bench.suite import format_suite, run_suite
    from audit.progress import say

    result = run_suite(sections, sizes, log=lambda msg: say(msg, quiet=args.quiet))
    if extra is not None:  # rows measured after the sections (the workers row)
        start = time.perf_counter()
        result.rows += _extra_rows(extra, log=lambda msg: say(msg, quiet=args.quiet))
        result.seconds += time.perf_counter() - start
    print(format_suite(result))
    json_out = getattr(args, "json", None)  # every table-printing bench takes --json
    if json_out:
        Path(json_out).write_text(json.dumps(result.to_json(), indent=2))
        print(f"json: {json_out}")
    return 0


def _extra_rows(rows: Callable[[], list[Row]], log: Callable[[str], None]) -> list[Row]:
    from audit.bench.suite import Row

    start = time.perf_counter()
    log("bench: workers ...")
    try:
        out = rows()
    except Exception as exc:  # as run_suite does: a broken row must not hide the others
        out = [Row("workers", "failed", note=f"{type(exc).__name__}: {exc}".replace("\n", " "))]
    log(f"bench: workers done in {time.perf_counter() - start:.0f} s")
    return out


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

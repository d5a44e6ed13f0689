"""`t2i-audit toyworld validate`, `python -m audit.toyworld.validate` (the same options) and
`python -m audit.toyworld.train`: the reference world's measurements and its training."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from audit.cli.common import Subparsers, add_command, comma_list, run_script, script_parser

VALIDATE_HELP = "measure the pixel reader and the shipped toy models (prints a table)"
METRICS_HELP = (
    "FD, KID, CMMD and the offline alignment metrics where the truth is known: distortion "
    "ladders, toy-shapes against toy-shapes-weak, sample size (prints tables)"
)


def register(sub: Subparsers) -> None:
    toy = add_command(sub, "toyworld", None, "the built-in reference world")
    tsub = toy.add_subparsers(dest="toyworld_command", required=True, metavar="ACTION")
    sp = tsub.add_parser("validate", help=VALIDATE_HELP)
    sp.set_defaults(func=cmd_validate)
    add_validate_arguments(sp)
    mp = tsub.add_parser("validate-metrics", help=METRICS_HELP)
    mp.set_defaults(func=cmd_validate_metrics)
    add_metrics_arguments(mp)


def add_validate_arguments(parser: argparse.ArgumentParser) -> None:
    from audit.toyworld.validate import WEIGHTS  # light: no torch

    parser.add_argument("--n-reader", type=int, default=1000)
    parser.add_argument("--steps", default="2,5,10,25")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--guidance", type=float, default=3.0)  # best of a sweep
    parser.add_argument(
        "--also-guidance",
        default="",
        help="comma list of further guidance scales tried at the most steps",
    )
    parser.add_argument("--sampler", default="ddim", help="a name from `t2i-audit samplers`")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")


def cmd_validate(args: argparse.Namespace) -> int:
    from audit.generate.samplers import get_sampler

    get_sampler(args.sampler, field="--sampler")  # named as the user typed it, before any work
    import torch

    from audit.toyworld.validate import format_table, validate

    torch.set_num_threads(args.threads)
    rows = validate(
        n_reader=args.n_reader,
        steps=[int(s) for s in comma_list(args.steps)],
        guidance=args.guidance,
        also_guidance=[float(g) for g in comma_list(args.also_guidance)],
        sampler=args.sampler,
        seeds=list(range(args.seeds)),
        weights=args.weights,
        device=args.device,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    print(format_table(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


def add_metrics_arguments(parser: argparse.ArgumentParser) -> None:
    from audit.toyworld.validate import WEIGHTS  # light: no torch
    from audit.toyworld.validate_metrics import BIG, SIZES

    parser.add_argument("--n-reference", type=int, default=1000, help="reference renders")
    parser.add_argument("--n-ladder", type=int, default=300, help="renders per ladder level")
    parser.add_argument("--seeds", type=int, default=4, help="seeds per toy prompt and model")
    parser.add_argument("--prompts", type=int, default=None, help="only the first N toy prompts")
    parser.add_argument("--steps", type=int, default=10, help="DDIM steps of both toy models")
    parser.add_argument("--guidance", type=float, default=3.0)
    parser.add_argument("--sizes", default=",".join(map(str, (*SIZES, BIG))), help="N values")
    parser.add_argument("--bootstrap", type=int, default=100, help="bootstrap replicates")
    parser.add_argument(
        "--extractors",
        default="auto",
        help="comma list of feature extractors (auto: toyclip, and each other whose weights "
        "are here)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--weights", type=Path, default=WEIGHTS)
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")


def cmd_validate_metrics(args: argparse.Namespace) -> int:
    from audit.errors import UserError

    try:
        sizes = [int(s) for s in comma_list(args.sizes)]
    except ValueError:
        sizes = []
    if len(sizes) < 2 or sorted(set(sizes)) != sizes or sizes[0] < 2:
        raise UserError(
            f"--sizes {args.sizes!r} must be at least two increasing sample sizes of 2 or more",
            field="--sizes",
            fix="e.g. --sizes 100,300,1000,3000 (the last is the one the others compare to)",
        )
    import torch

    from audit.toyworld.validate_metrics import format_tables, validate_metrics

    if args.threads:
        torch.set_num_threads(args.threads)
    result = validate_metrics(
        n_reference=args.n_reference,
        n_ladder=args.n_ladder,
        seeds=args.seeds,
        n_prompts=args.prompts,
        steps=args.steps,
        guidance=args.guidance,
        sizes=sizes[:-1],
        big=sizes[-1],
        bootstrap=args.bootstrap,
        extractors=comma_list(args.extractors),
        device=args.device,
        weights=args.weights,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    print(format_tables(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


def validate_main(argv: Sequence[str] | None = None) -> int:
    """`python -m audit.toyworld.validate`."""
    parser = script_parser("python -m audit.toyworld.validate", VALIDATE_HELP, cmd_validate)
    add_validate_arguments(parser)
    return run_script(parser, argv)


# --- python -m audit.toyworld.train ---------------------------------------------------------


def train_parser() -> argparse.ArgumentParser:
    from audit.toyworld import models, train

    parser = script_parser(train.COMMAND, train.__doc__, cmd_train)
    parser.add_argument("--out", type=Path, default=train.WEIGHTS)
    parser.add_argument("--config", choices=sorted(models.CONFIGS), default="default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--stages", default="vae,clip,unet", help="comma list of vae, clip, unet")
    parser.add_argument(
        "--unet-minutes", type=float, default=None, help="stop the UNet stage after this long"
    )
    parser.add_argument("--stop-step", type=int, default=None, help="stop the UNet stage here")
    parser.add_argument(
        "--workers",
        type=int,
        default=train.TrainOptions().workers,
        help="processes that render the data (the pixels do not depend on it)",
    )
    parser.add_argument(
        "--resume",
        type=Path,
        default=None,
        help="continue the UNet stage from this pipeline directory (see --start-step)",
    )
    parser.add_argument("--start-step", type=int, default=0, help="the step --resume stopped at")
    return parser


def train_main(argv: Sequence[str] | None = None) -> int:
    """`python -m audit.toyworld.train`; training.json records the command as given."""
    given = list(sys.argv[1:] if argv is None else argv)
    parser = train_parser()
    parser.set_defaults(command=" ".join([parser.prog, *given]))
    return run_script(parser, given)


def cmd_train(args: argparse.Namespace) -> int:
    from audit.toyworld.train import TrainOptions, train

    options = TrainOptions(
        out=args.out,
        config=args.config,
        seed=args.seed,
        device=args.device,
        threads=args.threads,
        stages=comma_list(args.stages),
        unet_minutes=args.unet_minutes,
        stop_step=args.stop_step,
        workers=args.workers,
        resume=args.resume,
        start_step=args.start_step,
    )
    train(options, command=args.command)
    return 0

"""Command line: parse, call, print. No logic lives here.

Exit codes: 0 success, 1 a gate found a regression (or `verify` found damage),
2 bad input (config, path, option) printed without a traceback (`--debug` shows it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from audit.errors import EXIT_BAD_INPUT, UserError

DEFAULT_OUT = Path("reports")
SPECS_DIR = Path(__file__).resolve().parent / "specs"


def default_spec_path() -> Path:
    """The toy-world sweep when its weights ship, else the tiny random smoke sweep."""
    toy = SPECS_DIR / "toy.yaml"
    from audit.generate.builtin import TOYWORLD_WEIGHTS

    if toy.is_file() and (TOYWORLD_WEIGHTS / "toy-shapes" / "model_index.json").is_file():
        return toy
    return SPECS_DIR / "smoke.yaml"


# --- commands -------------------------------------------------------------------------------


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
    )
    print(
        f"run {spec.name}: {result.total} images ({result.generated} generated, "
        f"{result.skipped} already there) in {result.seconds:.1f} s -> {result.run_dir}"
    )
    if not args.no_report and spec.scorers:
        from audit.report import write_report
        from audit.store.frames import load_frames

        out = result.run_dir / "report.html"
        write_report(load_frames(result.run_dir), "html", out)
        print(f"report: {out}")
    if not args.spec:
        print(f"browse it: t2i-audit dashboard {args.out}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from audit.ingest import ingest

    total, new = ingest(
        Path(args.dir),
        Path(args.out),
        layout=args.layout,
        model=args.model,
        suite=args.suite,
        quiet=args.quiet,
    )
    print(f"{args.out}: {total} images ({new} new)")
    return 0


def _scorer_entries(args: argparse.Namespace, run_dir: Path) -> list:  # type: ignore[type-arg]
    from audit.config import ScorerEntry, parse_spec, read_yaml
    from audit.scorers.registry import default_registry
    from audit.store.run_store import RunStore

    options: dict[str, dict] = {}  # type: ignore[type-arg]
    if args.options:
        raw = read_yaml(Path(args.options), what="scorer options file")
        if not isinstance(raw, dict):
            raise UserError(
                "must map scorer names to options", file=args.options, fix="e.g. text: {upscale: 4}"
            )
        options = raw
    if args.scorers:
        names = [n.strip() for n in args.scorers.split(",") if n.strip()]
        return [ScorerEntry(name=n, options=options.get(n, {})) for n in names]
    info = RunStore.open(run_dir).read_info()
    if info.get("spec", {}).get("scorers"):
        return list(parse_spec(info["spec"], file=run_dir / "run.json").scorers)
    registry = default_registry()
    offline = [n for n in registry.names() if registry.get(n).offline]
    return [ScorerEntry(name=n, options=options.get(n, {})) for n in offline]


def cmd_score(args: argparse.Namespace) -> int:
    from audit.scorers.runner import score_run
    from audit.store.run_store import RunStore

    run_dir = Path(args.run)
    store = RunStore.open(run_dir)
    try:
        summary = score_run(
            store, _scorer_entries(args, run_dir), force=args.force, quiet=args.quiet
        )
    finally:
        store.close()
    for name, n in summary.scored.items():
        print(f"{name}: scored {n}" + (" (nothing new)" if n == 0 else ""))
    for name, needs in summary.skipped.items():
        print(f"{name}: skipped, needs " + "; ".join(needs))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from audit.store.frames import export_table, load_run

    table = export_table(load_run(Path(args.run)))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "csv":
        table.to_csv(out, index=False)
    else:
        table.to_parquet(out, index=False)
    print(f"{out}: {len(table)} rows, {len(table.columns)} columns")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from audit.store.verify import verify_run

    report = verify_run(Path(args.run))
    for label, items in (
        ("missing", report.missing),
        ("corrupt", report.corrupt),
        ("mismatched", report.mismatched),
        ("not in ledger", report.orphans),
    ):
        for item in items:
            print(f"{label}: {item}")
    verdict = "ok" if report.ok else "DAMAGED"
    print(f"{args.run}: {report.checked} images checked, {verdict}")
    return 0 if report.ok else 1


def cmd_suites(args: argparse.Namespace) -> int:
    from audit.prompts import list_suites

    for name, count, desc in list_suites():
        print(f"{name:<14}{count:>5}  {desc}")
    return 0


def cmd_samplers(args: argparse.Namespace) -> int:
    from audit.generate.samplers import SAMPLERS

    for s in SAMPLERS.values():
        flags = ", ".join(f"{k}={v}" for k, v in s.config.items())
        print(f"{s.name:<22}{s.family:<6}{s.scheduler}{' (' + flags + ')' if flags else ''}")
    return 0


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


def cmd_not_ready(args: argparse.Namespace) -> int:
    raise UserError(f"'{args.command}' is not available in this build", fix="see README")


# --- parser ---------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="t2i-audit", description=__doc__.splitlines()[0])
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help: str
    ) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.set_defaults(func=func)
        sp.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
        return sp

    sp = add("run", cmd_run, "generate (or resume) a sweep and score it")
    sp.add_argument("spec", nargs="?", help="sweep YAML (default: the built-in audit)")
    sp.add_argument("--out", default=str(DEFAULT_OUT), help="output root (default: reports/)")
    sp.add_argument("--fresh", action="store_true", help="discard earlier results of this run")
    sp.add_argument("--executor", choices=["local", "ray"], default="local")
    sp.add_argument("--address", help="Ray cluster address (with --executor ray)")
    sp.add_argument(
        "--workers",
        type=_positive_int,
        help="Ray workers (default: one per GPU, else one per CPU slot)",
    )
    sp.add_argument("--no-score", action="store_true", help="generate only")
    sp.add_argument("--no-report", action="store_true", help="skip writing report.html")

    sp = add("ingest", cmd_ingest, "make a run from images generated elsewhere")
    sp.add_argument("dir")
    sp.add_argument("--out", required=True, help="run directory to create or extend")
    sp.add_argument("--layout", choices=["jsonl", "geneval"], default="jsonl")
    sp.add_argument("--model", help="model label when the metadata has none")
    sp.add_argument(
        "--suite", default="ingested", help="suite label; the gate pairs runs of one suite"
    )

    sp = add("score", cmd_score, "score an existing or ingested run (no generation)")
    sp.add_argument("run")
    sp.add_argument(
        "--scorers", help="comma-separated names (default: the spec's, else all offline)"
    )
    sp.add_argument("--options", help="YAML file mapping scorer name -> options")
    sp.add_argument("--force", action="store_true", help="score again even if up to date")

    sp = add("export", cmd_export, "one row per image with every per-image metric")
    sp.add_argument("run")
    sp.add_argument("--format", choices=["csv", "parquet"], default="csv")
    sp.add_argument("--out", required=True)

    sp = add("verify", cmd_verify, "check the ledger against the image files (exit 1 if damaged)")
    sp.add_argument("run")

    add("suites", cmd_suites, "list the built-in prompt suites")
    add("samplers", cmd_samplers, "list sampler names and their diffusers schedulers")
    add("doctor", cmd_doctor, "say which scorers can run here and what the others need")

    _add_optional_commands(sub, add)
    return p


def _add_optional_commands(sub: argparse._SubParsersAction, add: Callable) -> None:  # type: ignore[type-arg]
    from audit import cli_more

    cli_more.register(sub, add)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UserError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(
            "interrupted; finished images are kept, run the same command to resume", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

"""GPU check: the harness against a plain diffusers loop on SD1.5- and SDXL-sized models.

    python -m audit.bench.gpu_check --out FILE

Runs `bench generate` with `builtin:sd15-arch-random` and `builtin:sdxl-arch-random` (random
fp16 weights, built on the GPU) at 512 and 1024 px, batch 1, 4 and 8, few steps and rounds.
Then, for the SD 1.5 architecture at 512 px, two variants of the harness against the plain loop
on an untouched pipeline: `compile: true` (torch.compile of the UNet; target 1.3x) and
`channels_last: true` (reported, no target). Each model is loaded once for all its
configurations. The table is rewritten to FILE after every configuration, so a run cut short
still leaves what it measured; configurations not started within `--budget` seconds are
listed as skipped. Exit status: 0 when every ratio is at least `--target`, 1 otherwise, 2 when
there is no CUDA device.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODELS = ("sd15-arch-random", "sdxl-arch-random")
# Harness variants timed against the plain loop on an untouched pipeline, with their targets
# (None: reported only). Issue "Throughput": compiled harness >= 1.3x the uncompiled loop.
VARIANTS: dict[str, float | None] = {"compile": 1.3, "channels_last": None}


@dataclass
class GpuRow:
    model: str
    size: int
    batch: int
    harness_ips: float | None = None
    plain_ips: float | None = None
    ratio: float | None = None
    rounds: str = ""
    peak_gib: float | None = None
    seconds: float = 0.0
    note: str = ""
    variant: str = "harness"  # "harness", or a runtime option switched on for the harness side


def environment() -> list[str]:
    import diffusers
    import torch

    lines = [
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
        f"diffusers {diffusers.__version__}",
    ]
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        lines.append(f"card: {props.name}, {props.total_memory / 2**30:.0f} GiB")
    else:
        lines.append("card: none (torch.cuda.is_available() is False)")
    return lines


def format_table(header: Sequence[str], rows: Sequence[GpuRow], target: float) -> str:
    cols = ["model", "variant", "px", "batch", "harness img/s", "plain img/s", "ratio"]
    cols.append("per round")
    cols.append("peak GiB (a batch)")
    cells = [
        (
            r.model,
            r.variant,
            str(r.size),
            str(r.batch),
            "" if r.harness_ips is None else f"{r.harness_ips:.2f}",
            "" if r.plain_ips is None else f"{r.plain_ips:.2f}",
            "" if r.ratio is None else f"{r.ratio:.3f}",
            r.rounds,
            "" if r.peak_gib is None else f"{r.peak_gib:.1f}",
        )
        for r in rows
    ]
    widths = [max(len(x) for x in col) for col in zip(cols, *cells, strict=True)]

    def line(items: Sequence[str]) -> str:
        return "| " + " | ".join(x.ljust(w) for x, w in zip(items, widths, strict=True)) + " |"

    out = [*header, "", line(cols), line(["-" * w for w in widths])]
    out += [line(c) for c in cells]
    notes = [
        f"- {r.model} {r.variant} {r.size}px batch {r.batch}: {r.note}" for r in rows if r.note
    ]
    out += [""] + verdicts(rows, target) + notes
    return "\n".join(out) + "\n"


def verdicts(rows: Sequence[GpuRow], target: float) -> list[str]:
    """One line per target: the plain harness rows against `target`, each variant with a
    target against its own."""
    lines = []
    for variant, goal in {"harness": target, **VARIANTS}.items():
        ratios = [r.ratio for r in rows if r.variant == variant and r.ratio is not None]
        if ratios and goal is not None:
            worst = min(ratios)
            verdict = "ok" if worst >= goal else "MISSED"
            name = "lowest ratio" if variant == "harness" else f"lowest {variant} ratio"
            lines.append(f"{name} {worst:.3f} (target >= {goal:g}): {verdict}")
    return lines


def passed(rows: Sequence[GpuRow], target: float) -> bool:
    """Every measured ratio reaches its target, and at least one plain row was measured."""
    if not any(r.ratio is not None for r in rows if r.variant == "harness"):
        return False
    return all("MISSED" not in line for line in verdicts(rows, target))


def run_check(
    out: Path,
    *,
    models: Sequence[str] = MODELS,
    sizes: Sequence[int] = (512, 1024),
    batches: Sequence[int] = (1, 4, 8),
    steps: int = 10,
    rounds: int = 2,
    budget: float = 420.0,
    target: float = 0.97,
    variants: Sequence[str] = tuple(VARIANTS),
    variant_model: str = "sd15-arch-random",
    variant_size: int = 512,
    variant_batches: Sequence[int] = (1, 4),
    device: str = "cuda",
    dtype: str = "float16",
    log: Callable[[str], None] = lambda _line: None,
) -> list[GpuRow]:
    """`device` / `dtype` other than cuda / float16 only to try the script on a CPU. `log`
    gets one line per finished configuration."""
    import torch

    from audit.bench.generate import bench_generate
    from audit.config import ModelSpec, RuntimeSpec
    from audit.generate.diffusers_backend import DiffusersGenerator

    start = time.perf_counter()
    header = [
        f"t2i-audit GPU check: harness vs plain diffusers loop, {dtype} on {device}, "
        f"{steps} steps, {rounds} alternating rounds per configuration",
        *environment(),
    ]
    rows: list[GpuRow] = []

    def write() -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(format_table(header, rows, target))
        tmp.replace(out)

    def measure(row: GpuRow, harness: Any, plain: Any) -> None:
        """Time `harness` against the plain loop on `plain`'s pipeline; the row gets it."""
        if time.perf_counter() - start > budget:
            row.note = "skipped: time budget"
            write()
            return
        t = time.perf_counter()
        try:
            b = bench_generate(
                f"builtin:{row.model}", size=row.size, batch_size=row.batch, steps=steps,
                rounds=rounds, images_per_round=max(row.batch, 2), dtype=dtype, device=device,
                generator=harness, plain_generator=plain,
            )  # fmt: skip
        except torch.OutOfMemoryError:
            row.note = "out of GPU memory"
            torch.cuda.empty_cache()
        except Exception as exc:  # one broken configuration must not lose the rest
            row.note = f"failed: {type(exc).__name__}: {exc}".replace("\n", " ")[:300]
        else:
            row.harness_ips, row.plain_ips, row.ratio = b.harness_ips, b.plain_ips, b.ratio
            row.rounds = ", ".join(f"{x:.3f}" for x in b.round_ratios)
            if device == "cuda":  # the harness resets the peak per batch
                row.peak_gib = torch.cuda.max_memory_allocated() / 2**30
        row.seconds = time.perf_counter() - t
        write()
        ratio = "-" if row.ratio is None else f"{row.ratio:.3f}"
        log(f"{row.model} {row.variant} {row.size}px batch {row.batch}: ratio {ratio} "
            f"({row.seconds:.0f} s)")  # fmt: skip

    for name in models:
        if time.perf_counter() - start > budget:
            rows += [
                GpuRow(name, s, b, note="skipped: time budget") for s in sizes for b in batches
            ]
            write()
            continue
        t = time.perf_counter()
        source = f"builtin:{name}"
        spec = ModelSpec.model_validate({"id": "bench", "source": source, "dtype": dtype})
        try:
            gen = DiffusersGenerator(spec, RuntimeSpec(), None, device)
        except Exception as exc:  # keep going: the other model may still be measured
            note = f"failed to load: {type(exc).__name__}: {exc}".replace("\n", " ")[:300]
            rows += [GpuRow(name, s, b, note=note) for s in sizes for b in batches]
            write()
            continue
        header.append(f"{name}: built/loaded in {time.perf_counter() - t:.1f} s")
        for size in sizes:
            for batch in batches:
                row = GpuRow(name, size, batch)
                rows.append(row)
                measure(row, gen, gen)
        if name == variant_model:
            for variant in variants:
                if time.perf_counter() - start > budget:
                    rows += [
                        GpuRow(name, variant_size, b, note="skipped: time budget", variant=variant)
                        for b in variant_batches
                    ]
                    write()
                    continue
                runtime = RuntimeSpec.model_validate({variant: True})
                try:
                    changed = DiffusersGenerator(spec, runtime, None, device)
                except Exception as exc:
                    note = f"failed to load: {type(exc).__name__}: {exc}".replace("\n", " ")
                    rows += [
                        GpuRow(name, variant_size, b, note=note[:300], variant=variant)
                        for b in variant_batches
                    ]
                    write()
                    continue
                for batch in variant_batches:
                    row = GpuRow(name, variant_size, batch, variant=variant)
                    rows.append(row)
                    measure(row, changed, gen)
                del changed
        del gen
        if device == "cuda":
            torch.cuda.empty_cache()
    header.append(f"total {time.perf_counter() - start:.0f} s")
    write()
    return rows


if __name__ == "__main__":
    # Run as a script, this file is a program entry point like audit/__main__.py, not a part
    # of the library: its options live with the other commands' in audit.cli.bench, which
    # imports this module (so the CLI is named here by string, not by an import).
    import importlib

    raise SystemExit(importlib.import_module("audit.cli.bench").gpu_check_main())

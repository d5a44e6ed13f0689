"""GPU check: the harness against a plain diffusers loop on SD1.5- and SDXL-sized models.

    python -m audit.bench.gpu_check --out FILE

Runs `bench generate` with `builtin:sd15-arch-random` and `builtin:sdxl-arch-random` (random
fp16 weights, built on the GPU) at 512 and 1024 px, batch 1, 4 and 8, few steps and rounds, so
the whole check takes about 6 minutes on an H100. Each model is loaded once for all its
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

MODELS = ("sd15-arch-random", "sdxl-arch-random")


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
    cols = ["model", "px", "batch", "harness img/s", "plain img/s", "ratio", "per round"]
    cols.append("peak GiB (a batch)")
    cells = [
        (
            r.model,
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
    notes = [f"- {r.model} {r.size}px batch {r.batch}: {r.note}" for r in rows if r.note]
    ratios = [r.ratio for r in rows if r.ratio is not None]
    if ratios:
        worst = min(ratios)
        verdict = "ok" if worst >= target else "MISSED"
        out.append(f"\nlowest ratio {worst:.3f} (target >= {target:g}): {verdict}")
    out += notes
    return "\n".join(out) + "\n"


def run_check(
    out: Path,
    *,
    models: Sequence[str] = MODELS,
    sizes: Sequence[int] = (512, 1024),
    batches: Sequence[int] = (1, 4, 8),
    steps: int = 10,
    rounds: int = 2,
    budget: float = 420.0,
    target: float = 0.95,
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
                if time.perf_counter() - start > budget:
                    row.note = "skipped: time budget"
                    write()
                    continue
                t = time.perf_counter()
                try:
                    b = bench_generate(
                        source, size=size, batch_size=batch, steps=steps, rounds=rounds,
                        images_per_round=max(batch, 2), dtype=dtype, device=device,
                        generator=gen,
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
                log(f"{name} {size}px batch {batch}: ratio {ratio} ({row.seconds:.0f} s)")
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

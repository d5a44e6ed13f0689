"""`t2i-audit bench generate`: the harness against a plain diffusers loop.

Both sides use the same pipeline object, batch size, prompts and seeds, and run in
alternating rounds in one process so that machine noise hits them alike. The harness side
includes everything a sweep does per image (embedding reuse, PNG encoding, atomic write,
ledger record); the plain side is the loop a user would write (pipe(...) then PIL save).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.config import ModelSpec, RuntimeSpec
from audit.generate.request import GenerationRequest

PROMPTS = [
    "a red cube on a table",
    "two dogs playing in a park",
    "a sign that says 'OPEN'",
    "a blue bird on a branch",
]


@dataclass
class GenerateBench:
    model: str
    device: str
    dtype: str
    size: int
    batch_size: int
    steps: int
    images: int
    harness_ips: float
    plain_ips: float
    round_ratios: list[float]

    @property
    def ratio(self) -> float:
        """Median over rounds of (plain seconds / harness seconds): robust to a noisy round."""
        ordered = sorted(self.round_ratios)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _requests(
    source: str, dtype: str, size: int, steps: int, n: int, offset: int
) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            model_id="bench",
            model_source=source,
            model_fingerprint="bench",
            dtype=dtype,
            sampler="ddim",
            steps=steps,
            guidance=5.0,
            width=size,
            height=size,
            seed=offset + i,
            suite="bench",
            prompt_id=f"p{i % len(PROMPTS)}",
            prompt=PROMPTS[i % len(PROMPTS)],
            negative_prompt="",
        )  # fmt: skip
        for i in range(n)
    ]


def bench_generate(
    source: str = "builtin:tiny-random-sd",
    *,
    size: int = 64,
    batch_size: int = 4,
    steps: int = 10,
    rounds: int = 3,
    images_per_round: int = 8,
    dtype: str = "float32",
    device: str = "auto",
    generator: Any = None,
    plain_generator: Any = None,
) -> GenerateBench:
    """`generator`: a `DiffusersGenerator` of `source` already loaded (several sizes and batch
    sizes of one model without reloading it); made here when None. `plain_generator`: the
    pipeline the plain loop runs, when it is not the harness's (the harness compiled or
    channels-last against a plain, untouched pipeline); the harness's own when None."""
    import torch

    from audit.generate.diffusers_backend import DiffusersGenerator
    from audit.store.run_store import RunStore

    if generator is None:
        model = ModelSpec.model_validate({"id": "bench", "source": source, "dtype": dtype})
        generator = DiffusersGenerator(model, RuntimeSpec(), None, device)
    gen = generator
    gen.set_sampler("ddim")
    plain_gen = plain_generator if plain_generator is not None else gen
    plain_gen.set_sampler("ddim")
    pipe = plain_gen.pipe
    harness_s = plain_s = 0.0
    ratios: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "run", create=True)
        plain_dir = Path(tmp) / "plain"
        plain_dir.mkdir()
        warm = _requests(source, dtype, size, steps, batch_size, 10_000)
        gen.generate(warm)  # warm-up: kernels, allocator, embedding cache for both sides
        if plain_gen is not gen:
            plain_gen.generate(warm)
        for r in range(rounds):
            reqs = _requests(source, dtype, size, steps, images_per_round, r * images_per_round)
            order = ("harness", "plain") if r % 2 == 0 else ("plain", "harness")
            seconds: dict[str, float] = {}
            for side in order:
                _sync(device=gen.device)
                start = time.perf_counter()
                for i in range(0, len(reqs), batch_size):
                    batch = reqs[i : i + batch_size]
                    if side == "harness":
                        for res in gen.generate(batch):
                            store.save_image(
                                res.request.key, res.png, gen_seconds=res.seconds,
                                peak_mem_mb=res.peak_mem_mb, nan_or_black=res.nan_or_black,
                                safety_flag=res.safety_flag, origin="generated",
                            )  # fmt: skip
                    else:
                        out = pipe(
                            prompt=[q.prompt for q in batch],
                            num_inference_steps=steps,
                            guidance_scale=5.0,
                            width=size,
                            height=size,
                            generator=[torch.Generator("cpu").manual_seed(q.seed) for q in batch],
                        )
                        for q, image in zip(batch, out.images, strict=True):
                            image.save(plain_dir / f"{q.seed}.png")
                _sync(device=gen.device)
                seconds[side] = time.perf_counter() - start
            harness_s += seconds["harness"]
            plain_s += seconds["plain"]
            ratios.append(seconds["plain"] / seconds["harness"])
        store.close()
    n = rounds * images_per_round
    return GenerateBench(
        source, gen.device, dtype, size, batch_size, steps, n, n / harness_s, n / plain_s, ratios
    )


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


NOOP_SPEC = """\
name: noop500
models:
  - id: tiny
    source: builtin:tiny-random-sd
samplers: [ddim]
steps: [1]
guidance: [1.0]
seeds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
suites: [bench.txt]
size: 32
batch_size: 25
"""


def bench_noop_resume(workdir: Path | None = None) -> tuple[int, float]:
    """Make a 500-image run (50 prompts x 10 seeds, 1 step, 32 px), then time a rerun."""
    tmp = Path(workdir or tempfile.mkdtemp(prefix="t2i-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "bench.txt").write_text("\n".join(f"prompt number {i}" for i in range(50)) + "\n")
    (tmp / "spec.yaml").write_text(NOOP_SPEC)
    cmd = [
        sys.executable,
        "-m",
        "audit",
        "run",
        str(tmp / "spec.yaml"),
        "--out",
        str(tmp),
        "--quiet",
    ]
    subprocess.run(cmd, check=True, capture_output=True, env=os.environ)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=os.environ)
    return 500, time.perf_counter() - start


def format_generate(b: GenerateBench) -> str:
    return (
        f"bench generate: {b.model} on {b.device} ({b.dtype}), {b.size}px, batch {b.batch_size}, "
        f"{b.steps} steps, {b.images} images per side\n"
        f"  harness  {b.harness_ips:8.3f} images/s\n"
        f"  plain    {b.plain_ips:8.3f} images/s\n"
        f"  ratio    {b.ratio:8.3f}  (harness / plain images/s, median of {len(b.round_ratios)} "
        f"alternating rounds; per round: {', '.join(f'{r:.2f}' for r in b.round_ratios)})"
    )

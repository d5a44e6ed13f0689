"""`t2i-audit bench timing`: two timing passes of one cell, one after the other.

Each pass is what `t2i-audit run` does for a cell (`audit.generate.timing`): the model is
loaded, warm-up batches run, then the timed batches. Both passes load the model afresh, as
two runs would. On an idle machine the two medians should agree within 10%; the printed
ratio is the check, measured side by side (no figure is taken from elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from audit.config import ModelSpec, RuntimeSpec, TimingSpec
from audit.generate.request import GenerationRequest

PROMPTS = ("a red circle on a white background", "two blue squares", "a green triangle")
AGREEMENT = 0.10  # the bound on the difference of two medians


@dataclass
class TimingBench:
    model: str
    device: str
    steps: int
    size: int
    settings: TimingSpec
    passes: list[dict[str, Any]]  # the two timing records

    @property
    def medians(self) -> list[float]:
        return [float(p["median"]) for p in self.passes]

    @property
    def ratio(self) -> float:
        """Second median / first median."""
        first, second = self.medians
        return second / first if first > 0 else float("inf")

    @property
    def agree(self) -> bool:
        """Whether the two medians are within AGREEMENT of each other (of the smaller)."""
        low, high = sorted(self.medians)
        return low > 0 and (high - low) / low <= AGREEMENT


def default_model() -> str:
    from audit.generate.builtin import builtin_available

    return "builtin:toy-shapes" if builtin_available("toy-shapes") else "builtin:tiny-random-sd"


def bench_timing(
    model: str | None = None,
    *,
    steps: int = 10,
    size: int = 64,
    sampler: str = "ddim",
    guidance: float = 3.0,
    settings: TimingSpec | None = None,
    device: Literal["auto", "cuda", "cpu"] = "auto",
) -> TimingBench:
    from audit.environment import pick_device
    from audit.generate.diffusers_backend import DiffusersGenerator
    from audit.generate.models import fingerprint
    from audit.generate.timing import DueCell, time_cell, timing_identity

    source = model or default_model()
    chosen = settings or TimingSpec(repeats=5, batch_size=1, warmup=1)
    spec = ModelSpec(id="bench", source=source)
    runtime = RuntimeSpec(device=device)
    requests = tuple(
        GenerationRequest(
            model_id=spec.id,
            model_source=source,
            model_fingerprint=fingerprint(source),
            dtype=spec.dtype,
            sampler=sampler,
            steps=steps,
            guidance=guidance,
            width=size,
            height=size,
            seed=seed,
            suite="bench",
            prompt_id=f"p{i}",
            prompt=text,
            negative_prompt="",
        )  # fmt: skip
        for i, text in enumerate(PROMPTS)
        for seed in (0, 1)
    )
    due = DueCell(requests, timing_identity(requests[0], runtime, chosen, device))
    resolved = pick_device(device)
    passes = []
    for _ in range(2):
        generator = DiffusersGenerator(spec, runtime, None, resolved)
        passes.append(time_cell(generator, due, chosen).record())
        del generator
    return TimingBench(source, resolved, steps, size, chosen, passes)


def format_timing(b: TimingBench) -> str:
    s = b.settings
    lines = [
        f"timing pass, twice: {b.model} on {b.device}, {b.steps} steps, {b.size} px, "
        f"{s.warmup} warm-up + {s.repeats} timed batches of {s.batch_size}",
    ]
    for i, p in enumerate(b.passes, 1):
        load = ", ".join(f"{x:.2f}" for x in p["load_avg"])
        lines.append(
            f"  pass {i}: median {p['median']:.4g} s/image (min {p['min']:.4g}, "
            f"max {p['max']:.4g}, spread {100 * p['relative_spread']:.1f}%), load avg {load}"
        )
    verdict = "within" if b.agree else "NOT within"
    lines.append(
        f"  ratio pass 2 / pass 1: {b.ratio:.3f} ({verdict} {100 * AGREEMENT:.0f}%; "
        "meaningful on an idle machine only)"
    )
    return "\n".join(lines)

"""`t2i-audit bench treering`: Tree-Ring detection rate at a false positive rate measured on
unmarked images of the same run.

One run of the built-in toy model under two model ids: `marked` carries the key
(`provenance.watermark.models: [marked]`), `plain` does not; same prompts, seeds, sampler,
steps and guidance. The `treering` scorer inverts every image (clean and after each attack);
for each condition the threshold is set on the unmarked images' p-values so that at most
`fpr` of them fall below it, and the detection rate is the share of marked images below it.
Runs on a CPU; the numbers belong in the README only from an idle machine.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOY = "builtin:toy-shapes"
# The toy's latent is 16x16: radius 7 is the largest disc that fits (2 * r < 16), and all
# four channels carry the key. Inverting with 3 DDIM steps recovered more of the key than 5,
# 25 or 50 did on this model (a tiny UNet and VAE whose inversion is noisy).
TOY_KEY = {"key_seed": 20230531, "radius": 7, "channel": -1}


@dataclass
class Condition:
    name: str  # "clean" or an attack name
    threshold: float  # p-value below which an image counts as marked
    fpr: float  # share of unmarked images below the threshold (measured)
    detection: float  # share of marked images below it
    nominal_fpr: float  # share of unmarked images with p < the nominal fpr
    nominal_detection: float  # share of marked images with p < the nominal fpr


@dataclass
class TreeRingBench:
    marked: int
    unmarked: int
    target_fpr: float
    conditions: list[Condition] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    run_dir: str = ""


def threshold_at_fpr(null: Sequence[float], fpr: float) -> float:
    """The largest p-value threshold t with at most `fpr` of `null` strictly below t: the
    (floor(fpr * n) + 1)-th smallest null p-value (so ties at t never count as detected)."""
    ordered = sorted(null)
    if not ordered:
        raise ValueError("no unmarked images to measure a false positive rate on")
    k = math.floor(fpr * len(ordered))
    return ordered[k] if k < len(ordered) else math.inf


def condition(name: str, null: Sequence[float], marked: Sequence[float], fpr: float) -> Condition:
    t = threshold_at_fpr(null, fpr)
    below = lambda values, cut: sum(v < cut for v in values) / len(values)  # noqa: E731
    return Condition(
        name, t, below(null, t), below(marked, t), below(null, fpr), below(marked, fpr)
    )


def bench_spec(
    *,
    seeds: int,
    steps: int,
    guidance: float,
    inversion_steps: int,
    attacks: Sequence[str],
    key: dict[str, Any],
    suite: str = "toy",
) -> dict[str, Any]:
    return {
        "name": "treering-bench",
        "models": [{"id": "marked", "source": TOY}, {"id": "plain", "source": TOY}],
        "samplers": ["ddim"],
        "steps": [steps],
        "guidance": [guidance],
        "seeds": list(range(seeds)),
        "suites": [suite],
        "batch_size": 34,
        "timing": False,  # no speed is measured here
        "provenance": {"watermark": {**key, "models": ["marked"]}},
        "scorers": [
            {"treering": {**key, "inversion_steps": inversion_steps, "attacks": list(attacks)}}
        ],
    }


def bench_treering(
    *,
    seeds: int = 3,
    steps: int = 25,
    guidance: float = 3.0,
    inversion_steps: int = 3,
    attacks: Sequence[str] = ("jpeg75",),
    fpr: float = 0.01,
    key: dict[str, Any] | None = None,
    out_dir: Path | None = None,
    quiet: bool = True,
) -> TreeRingBench:
    """Generate, score and measure; `out_dir` keeps the run (default: a temporary folder)."""
    from audit.config import parse_spec
    from audit.store.frames import load_run
    from audit.sweep import run_sweep

    key = dict(TOY_KEY if key is None else key)
    raw = bench_spec(
        seeds=seeds,
        steps=steps,
        guidance=guidance,
        inversion_steps=inversion_steps,
        attacks=attacks,
        key=key,
    )
    spec = parse_spec(raw, file="<bench treering>")
    with tempfile.TemporaryDirectory(prefix="t2i-treering-") as tmp:
        root = Path(out_dir) if out_dir is not None else Path(tmp)
        result = run_sweep(spec, root, root, quiet=quiet)
        frame = load_run(result.run_dir).images
        marked = frame[frame["model"] == "marked"]
        plain = frame[frame["model"] == "plain"]
        bench = TreeRingBench(
            len(marked),
            len(plain),
            fpr,
            settings={
                "model": TOY,
                "sampler": "ddim",
                "steps": steps,
                "guidance": guidance,
                "inversion_steps": inversion_steps,
                **key,
            },
            run_dir=str(result.run_dir) if out_dir is not None else "",
        )
        for name, column in [("clean", "treering_p_value")] + [
            (a, f"treering_p_value_{a}") for a in attacks
        ]:
            bench.conditions.append(condition(name, list(plain[column]), list(marked[column]), fpr))
    return bench


def format_bench(bench: TreeRingBench) -> str:
    s = bench.settings
    lines = [
        f"Tree-Ring on {s['model']}: {bench.marked} marked + {bench.unmarked} unmarked images "
        f"({s['sampler']}, {s['steps']} steps, guidance {s['guidance']}; key radius "
        f"{s['radius']}, channel {s['channel']}; inversion {s['inversion_steps']} DDIM steps)",
        f"threshold set on the unmarked images of each condition for FPR <= {bench.target_fpr:g}",
        f"{'condition':<10} {'threshold':>10} {'FPR':>6} {'detection':>9}   "
        f"{'FPR@p<' + format(bench.target_fpr, 'g'):>10} {'detection':>9}",
    ]
    for c in bench.conditions:
        lines.append(
            f"{c.name:<10} {c.threshold:>10.3g} {c.fpr:>6.3f} {c.detection:>9.3f}   "
            f"{c.nominal_fpr:>10.3f} {c.nominal_detection:>9.3f}"
        )
    if bench.run_dir:
        lines.append(f"run kept in {bench.run_dir}")
    return "\n".join(lines)

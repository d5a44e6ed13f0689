"""Sampler names as users know them (web UIs) -> diffusers scheduler class and config flags.

The mapping follows diffusers' scheduler documentation (e.g. "DPM++ 2M Karras" is
DPMSolverMultistepScheduler with use_karras_sigmas=True). `family` says which models a
sampler fits: "eps" for discrete-time denoising models (SD 1.x/2.x/XL, also v-prediction),
"flow" for flow-matching models (SD3, Flux).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from audit.errors import UserError

Family = Literal["eps", "flow"]


@dataclass(frozen=True)
class Sampler:
    name: str
    scheduler: str  # class name in diffusers
    family: Family
    description: str
    config: dict[str, Any] = field(default_factory=dict)


SAMPLERS: dict[str, Sampler] = {
    s.name: s
    for s in [
        Sampler("ddim", "DDIMScheduler", "eps", "DDIM"),
        Sampler("ddpm", "DDPMScheduler", "eps", "DDPM (ancestral, needs many steps)"),
        Sampler("pndm", "PNDMScheduler", "eps", "PNDM / PLMS"),
        Sampler("lms", "LMSDiscreteScheduler", "eps", "LMS"),
        Sampler(
            "lms_karras", "LMSDiscreteScheduler", "eps", "LMS Karras", {"use_karras_sigmas": True}
        ),
        Sampler("heun", "HeunDiscreteScheduler", "eps", "Heun (2 model calls per step)"),
        Sampler("euler", "EulerDiscreteScheduler", "eps", "Euler"),
        Sampler("euler_a", "EulerAncestralDiscreteScheduler", "eps", "Euler a"),
        Sampler("dpm2", "KDPM2DiscreteScheduler", "eps", "DPM2"),
        Sampler("dpmpp_2m", "DPMSolverMultistepScheduler", "eps", "DPM++ 2M"),
        Sampler(
            "dpmpp_2m_karras",
            "DPMSolverMultistepScheduler",
            "eps",
            "DPM++ 2M Karras",
            {"use_karras_sigmas": True},
        ),
        Sampler(
            "dpmpp_2m_sde_karras",
            "DPMSolverMultistepScheduler",
            "eps",
            "DPM++ 2M SDE Karras",
            {"use_karras_sigmas": True, "algorithm_type": "sde-dpmsolver++"},
        ),
        Sampler("dpmpp_sde_single", "DPMSolverSinglestepScheduler", "eps", "DPM++ SDE (single)"),
        Sampler("deis", "DEISMultistepScheduler", "eps", "DEIS"),
        Sampler("unipc", "UniPCMultistepScheduler", "eps", "UniPC"),
        Sampler(
            "flow_euler",
            "FlowMatchEulerDiscreteScheduler",
            "flow",
            "Flow-matching Euler (SD3, Flux)",
        ),
        Sampler(
            "flow_heun", "FlowMatchHeunDiscreteScheduler", "flow", "Flow-matching Heun (SD3, Flux)"
        ),
    ]
}


def get_sampler(name: str, *, file: str | None = None, field: str = "samplers") -> Sampler:
    if name not in SAMPLERS:
        raise UserError(
            f"unknown sampler {name!r}",
            file=file,
            field=field,
            fix=f"use one of: {', '.join(SAMPLERS)} (`t2i-audit samplers` lists them)",
        )
    return SAMPLERS[name]


def family_of_scheduler(class_name: str) -> Family:
    return "flow" if class_name.startswith("FlowMatch") else "eps"


def check_compatible(
    sampler: Sampler, native_scheduler: str, model_id: str, *, file: str | None = None
) -> None:
    """An eps sampler on a flow model (or the reverse) is an error before anything runs."""
    model_family = family_of_scheduler(native_scheduler)
    if sampler.family != model_family:
        fitting = [s.name for s in SAMPLERS.values() if s.family == model_family]
        raise UserError(
            f"sampler '{sampler.name}' ({sampler.family}) does not fit model '{model_id}', "
            f"whose native scheduler {native_scheduler} is a {model_family} sampler",
            file=file,
            field="samplers",
            fix=f"use one of {fitting} for this model, or give it its own sweep",
        )


def make_scheduler(sampler: Sampler, base_config: Any) -> Any:
    """Build the sampler's scheduler from the model's own scheduler config (diffusers idiom)."""
    import diffusers

    cls = getattr(diffusers, sampler.scheduler)
    return cls.from_config(base_config, **sampler.config)

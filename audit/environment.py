"""What this machine offers: the device to compute on and the installed package versions.

One definition each, for generation, scoring, references and run records alike. Imports
nothing else from the package, so every part may use it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from importlib import metadata


def pick_device(choice: str | None = "auto") -> str:
    """`auto` (or None): CUDA when present, else CPU. Any other choice is used as given."""
    if choice is None or choice == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice


def installed_versions(packages: Iterable[str]) -> dict[str, str]:
    """Distribution name -> installed version, for those of `packages` that are installed."""
    out = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def hub_offline() -> bool:
    """Whether the Hugging Face hub must not be reached (HF_HUB_OFFLINE or
    TRANSFORMERS_OFFLINE set, as huggingface_hub and transformers read them)."""
    on = {"1", "true", "yes", "on"}
    return any(os.environ.get(v, "").strip().lower() in on for v in OFFLINE_VARIABLES)


OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")

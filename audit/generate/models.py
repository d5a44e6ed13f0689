"""Where a model's files are and what identifies them, without loading any weights."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from audit.config import SweepSpec
from audit.errors import UserError
from audit.generate.builtin import (
    BUILTIN_PREFIX,
    builtin_fingerprint,
    builtin_names,
    builtin_native_scheduler,
    builtin_native_size,
    resolve_builtin,
)
from audit.generate.native_size import Size, native_of_dir, native_of_hub

_SAMPLE = 1 << 20  # bytes hashed from each end of a weight file


def _local_path(source: str, base_dir: Path | None) -> Path:
    p = Path(source).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    return p


def check_model_sources(spec: SweepSpec, base_dir: Path, spec_file: str | Path) -> None:
    """Every model source names a known built-in or an existing local directory (hub ids
    are not looked up: that needs the network). Cheap: nothing is built or loaded."""
    for i, model in enumerate(spec.models):
        src = model.source
        if src.startswith(BUILTIN_PREFIX):
            known = builtin_names()
            if src.removeprefix(BUILTIN_PREFIX) not in known:
                raise UserError(
                    f"unknown built-in model {src!r}",
                    file=spec_file,
                    field=f"models.{i}.source",
                    fix=f"use one of {[BUILTIN_PREFIX + n for n in known]}",
                )
        elif src.startswith((".", "/", "~")) and not _local_path(src, base_dir).is_dir():
            raise UserError(
                "local model directory not found",
                file=spec_file,
                field=f"models.{i}.source",
                fix="give a diffusers directory (with model_index.json) or a hub id",
            )


def resolve_source(source: str, base_dir: Path | None = None, device: str = "cpu") -> str:
    """A local directory path for local and built-in models; the hub id otherwise."""
    if source.startswith(BUILTIN_PREFIX):
        return str(resolve_builtin(source.removeprefix(BUILTIN_PREFIX), device))
    local = _local_path(source, base_dir)
    if local.is_dir():
        if not (local / "model_index.json").is_file():
            raise UserError(
                "not a diffusers pipeline directory (no model_index.json)",
                file=local,
                fix="save the pipeline with `pipe.save_pretrained(DIR)` or give a hub id",
            )
        return str(local)
    return source


def dir_fingerprint(path: Path) -> str:
    """Configs in full plus the size and both ends of each weight file.

    Hashing whole multi-GB checkpoints would make resume slow; a retrained checkpoint
    changes its bytes at the ends (headers, final layers) and almost always its size.
    """
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if not f.is_file() or f.name.startswith("."):
            continue
        rel = f.relative_to(path).as_posix()
        h.update(rel.encode())
        if f.suffix in {".json", ".txt"}:
            h.update(f.read_bytes())
        else:
            size = f.stat().st_size
            h.update(str(size).encode())
            with f.open("rb") as fh:
                h.update(fh.read(_SAMPLE))
                if size > 2 * _SAMPLE:
                    fh.seek(-_SAMPLE, 2)
                    h.update(fh.read(_SAMPLE))
    return "sha256:" + h.hexdigest()[:32]


def fingerprint(source: str, revision: str | None = None, base_dir: Path | None = None) -> str:
    if source.startswith(BUILTIN_PREFIX):
        fixed = builtin_fingerprint(source.removeprefix(BUILTIN_PREFIX))
        if fixed is not None:
            return fixed
        return dir_fingerprint(Path(resolve_source(source)))
    local = _local_path(source, base_dir)
    if local.is_dir():
        return dir_fingerprint(local)
    return f"hub:{source}@{revision or 'main'}"


def native_size(
    source: str, revision: str | None = None, base_dir: Path | None = None
) -> Size | None:
    """(width, height) the model generates at by default in diffusers, from its configs
    (no weights loaded, nothing built); None when they declare no sample_size."""
    if source.startswith(BUILTIN_PREFIX):
        return builtin_native_size(source.removeprefix(BUILTIN_PREFIX))
    local = _local_path(source, base_dir)
    if local.is_dir():
        return native_of_dir(local)
    return native_of_hub(source, revision)


def native_scheduler(source: str, revision: str | None = None, base_dir: Path | None = None) -> str:
    """Class name of the model's own scheduler, read from its config (no weights loaded)."""
    if source.startswith(BUILTIN_PREFIX):
        known = builtin_native_scheduler(source.removeprefix(BUILTIN_PREFIX))
        if known is not None:
            return known
    path = resolve_source(source, base_dir)
    local = Path(path)
    cfg_file = local / "scheduler" / "scheduler_config.json"
    if not local.is_dir():
        try:
            from huggingface_hub import hf_hub_download

            cfg_file = Path(
                hf_hub_download(path, "scheduler/scheduler_config.json", revision=revision)
            )
        except Exception as exc:  # offline, unknown repo, gated model ...
            raise UserError(
                f"cannot read the scheduler config of {source!r}: {exc}",
                field="models.source",
                fix="check the hub id and network access, or download it and give a local path",
            ) from None
    if not cfg_file.is_file():
        raise UserError(
            "model has no scheduler/scheduler_config.json", file=local, fix="re-save the pipeline"
        )
    cfg: dict[str, Any] = json.loads(cfg_file.read_text())
    return str(cfg.get("_class_name", ""))

"""Where a model's files are and what identifies them, without loading any weights."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from audit.errors import UserError
from audit.generate.builtin import builtin_fingerprint, builtin_native_scheduler, resolve_builtin

_SAMPLE = 1 << 20  # bytes hashed from each end of a weight file


def is_local(source: str, base_dir: Path | None = None) -> bool:
    if source.startswith("builtin:"):
        return False
    return _local_path(source, base_dir).is_dir()


def _local_path(source: str, base_dir: Path | None) -> Path:
    p = Path(source).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    return p


def resolve_source(source: str, base_dir: Path | None = None, device: str = "cpu") -> str:
    """A local directory path for local and built-in models; the hub id otherwise."""
    if source.startswith("builtin:"):
        return str(resolve_builtin(source.removeprefix("builtin:"), device))
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
    if source.startswith("builtin:"):
        fixed = builtin_fingerprint(source.removeprefix("builtin:"))
        if fixed is not None:
            return fixed
        return dir_fingerprint(Path(resolve_source(source)))
    local = _local_path(source, base_dir)
    if local.is_dir():
        return dir_fingerprint(local)
    return f"hub:{source}@{revision or 'main'}"


def native_scheduler(source: str, revision: str | None = None, base_dir: Path | None = None) -> str:
    """Class name of the model's own scheduler, read from its config (no weights loaded)."""
    if source.startswith("builtin:"):
        known = builtin_native_scheduler(source.removeprefix("builtin:"))
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

"""Reference statistics for FID / KID: built once from a folder of real images, reused.

Layout: ``<out_root>/references/<name>/``
  * ``stats.npz`` — n, sum and sum of outer products of the features (float64), and a
    uniform reservoir sample of feature rows (float32) for KID;
  * ``meta.json`` — extractor identity and resize mode (the statistic's identity: a scorer
    whose extractor or resize differs refuses it), the spec to rebuild the extractor, image
    count, source folder, creation time and package versions.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from audit.environment import installed_versions
from audit.errors import UserError
from audit.registry import Registry
from audit.scorers.base import Requirement
from audit.scorers.features import ExtractorSpec, make_extractor
from audit.scorers.frechet import GaussianStats, Reservoir
from audit.scorers.identity import file_digest

if TYPE_CHECKING:
    from PIL import Image

FORMAT_VERSION = 1
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
DEFAULT_RESERVOIR = 4000
_PACKAGES = ("t2i-audit", "numpy", "scipy", "torch", "torch-fidelity", "open-clip-torch", "pillow")


@dataclass
class Reference:
    path: Path
    meta: dict[str, Any]
    stats: GaussianStats
    reservoir: np.ndarray  # [k, dim] float64 sample for KID

    @property
    def extractor(self) -> str:
        return str(self.meta["extractor"])

    @property
    def resize(self) -> str:
        return str(self.meta["resize"])

    @property
    def name(self) -> str:
        return str(self.meta.get("name", self.path.name))


def references_dir(out_root: Path) -> Path:
    return Path(out_root) / "references"


def _check_name(name: str) -> None:
    if not SAFE_NAME.match(name):
        raise UserError(
            f"reference name {name!r} must be 1-128 letters, digits, '_', '.' or '-' "
            "and start with a letter or digit",
            field="name",
            fix="pick a plain name such as coco-val-5k",
        )


def list_images(image_dir: Path) -> list[Path]:
    """PNG / JPEG / WebP files under `image_dir`, recursively, in a stable order."""
    if not image_dir.is_dir():
        raise UserError("image folder not found", file=image_dir, fix="give a folder of images")
    found = sorted(
        p for p in image_dir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not found:
        raise UserError(
            f"no images ({', '.join(IMAGE_SUFFIXES)}) in the folder",
            file=image_dir,
            fix="point at a folder holding the real images",
        )
    return found


def open_image(path: Path) -> Image.Image:
    """RGB image, fully decoded; a file that does not decode (or is a decompression bomb)
    is a UserError naming it, raised before any statistic is written."""
    from audit.store.images import open_image as read_image

    return read_image(path)


def _batches(paths: Sequence[Path], size: int) -> Iterator[Sequence[Path]]:
    for start in range(0, len(paths), size):
        yield paths[start : start + size]


def build_reference(
    image_dir: Path,
    name: str,
    out_root: Path,
    extractor_spec: dict[str, Any] | ExtractorSpec,
    batch_size: int = 32,
    progress: bool = True,
    *,
    reservoir_size: int = DEFAULT_RESERVOIR,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Extract features of every image in `image_dir` and write the reference folder."""
    _check_name(name)
    image_dir = Path(image_dir)
    spec = (
        extractor_spec
        if isinstance(extractor_spec, ExtractorSpec)
        else ExtractorSpec.model_validate(extractor_spec)
    )
    target = references_dir(out_root) / name
    if target.exists() and not overwrite:
        raise UserError(
            "a reference with this name exists already",
            file=target,
            fix="choose another name, or rebuild with overwrite (CLI: --overwrite)",
        )
    paths = list_images(image_dir)
    extractor = make_extractor(spec)
    stats = GaussianStats(extractor.dim)
    reservoir = Reservoir(extractor.dim, reservoir_size, seed)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(paths), desc=f"reference {name}", unit="img")
    try:
        for chunk in _batches(paths, batch_size):
            feats = extractor([open_image(p) for p in chunk])
            stats.update(feats)
            reservoir.update(feats)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()

    meta = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "extractor": extractor.name,
        "resize": extractor.resize,
        "dim": extractor.dim,
        "image_count": stats.n,
        "source_dir": str(image_dir.resolve()),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "extractor_spec": spec.model_dump(mode="json"),
        "reservoir_size": reservoir_size,
        "seed": seed,
        "packages": installed_versions(_PACKAGES),
    }
    # Write beside the target, then swap in, so a half-written reference never exists.
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    try:
        arrays = {**stats.to_arrays(), **reservoir.to_arrays()}
        np.savez(tmp / "stats.npz", allow_pickle=False, **arrays)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


BUILTIN_PREFIX = "builtin:"


@dataclass(frozen=True)
class BuiltinReference:
    """Reference statistics a package registers as `builtin:NAME` (entry-point group
    `t2i_audit.references`), built into a cache on first use."""

    identity: str  # names what `build` makes, recipe version included; part of score identity
    build: Callable[[], Path]  # the reference folder (meta.json, stats.npz), built if needed


BUILTIN_REFERENCES: Registry[BuiltinReference] = Registry(
    "built-in reference",
    group="t2i_audit.references",
    base=BuiltinReference,
    instances=True,
    field="reference",
    prefix=BUILTIN_PREFIX,
)


def resolve_reference(name_or_path: str | Path, out_root: Path) -> Path:
    """`builtin:NAME`, a path (anything with a separator, or an existing folder) or a name
    under out_root."""
    text = str(name_or_path)
    if text.startswith(BUILTIN_PREFIX):
        return BUILTIN_REFERENCES.get(text.removeprefix(BUILTIN_PREFIX)).build()
    candidate = Path(text).expanduser()
    if "/" in text or "\\" in text or candidate.is_dir():
        return candidate
    _check_name(text)
    return references_dir(out_root) / text


def reference_digest(name_or_path: str | Path, out_root: Path) -> str:
    """What identifies a reference's numbers, cheaply: a built-in's declared identity (its
    statistics are built on first use, which loads a model), else the digest of stats.npz."""
    text = str(name_or_path)
    if text.startswith(BUILTIN_PREFIX):
        name = text.removeprefix(BUILTIN_PREFIX)
        return f"{BUILTIN_PREFIX}{BUILTIN_REFERENCES.get(name).identity}"
    stats = resolve_reference(text, out_root) / "stats.npz"
    return file_digest(stats) if stats.is_file() else f"absent:{stats}"


def reference_requirement(name_or_path: str | Path, out_root: Path) -> Requirement:
    """That the reference statistics a set scorer names exist (for `check()` / `doctor`)."""
    try:
        path = resolve_reference(name_or_path, out_root)
        ok = (path / "meta.json").is_file() and (path / "stats.npz").is_file()
    except UserError:
        path, ok = Path(name_or_path), False
    return Requirement(
        f"reference statistics '{name_or_path}' ({path})",
        ok=ok,
        fix="build them from a folder of real images with the same extractor and "
        "resize: t2i-audit reference build DIR --name NAME --extractor KIND",
    )


def load_reference(
    name_or_path: str | Path,
    out_root: Path,
    *,
    extractor: str | None = None,
    resize: str | None = None,
) -> Reference:
    """Load a reference; if `extractor` / `resize` are given they must match its identity."""
    path = resolve_reference(name_or_path, out_root)
    meta_path, stats_path = path / "meta.json", path / "stats.npz"
    if not meta_path.is_file() or not stats_path.is_file():
        known = []
        if references_dir(out_root).is_dir():
            known = sorted(p.name for p in references_dir(out_root).iterdir() if p.is_dir())
        raise UserError(
            "reference statistics not found (need meta.json and stats.npz)",
            file=path,
            field="reference",
            fix="build it first from a folder of real images "
            "(audit.scorers.reference.build_reference)"
            + (f"; existing references: {', '.join(known)}" if known else ""),
        )
    try:
        meta = json.loads(meta_path.read_text())
        with np.load(stats_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        stats = GaussianStats.from_arrays(arrays)
        sample = np.asarray(arrays["reservoir"], dtype=np.float64)
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(
            f"reference statistics are unreadable ({type(exc).__name__}: {exc})",
            file=path,
            field="reference",
            fix="rebuild the reference",
        ) from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise UserError(
            f"reference format {meta.get('format_version')} is not {FORMAT_VERSION}",
            file=meta_path,
            fix="rebuild the reference with this version of t2i-audit",
        )
    ref = Reference(path=path, meta=meta, stats=stats, reservoir=sample)
    if extractor is not None and ref.extractor != extractor:
        raise UserError(
            f"reference was built with extractor '{ref.extractor}', the scorer uses "
            f"'{extractor}'; Frechet distances across extractors are not comparable",
            file=meta_path,
            field="extractor",
            fix="use the extractor the reference was built with, or build a reference "
            "with this extractor",
        )
    if resize is not None and ref.resize != resize:
        raise UserError(
            f"reference was built with resize mode '{ref.resize}', the scorer uses "
            f"'{resize}'; FID depends on the resize filter",
            file=meta_path,
            field="resize",
            fix=f"set resize: {ref.resize}, or build a reference with resize '{resize}'",
        )
    return ref

"""The one way image files are read: bounded, fully decoded, normalised to 8-bit RGB.

Ingest, the scorers, verify, reference building, the report's thumbnails and the dashboard
all read images through here, so a hostile or broken file (decompression bomb, truncated or
zero-byte file, absurd dimensions) fails the same way everywhere: `ImageUnreadable`, naming
the file and the cause, before any pixel buffer is allocated for a bomb. Legitimate but
unusual files (CMYK, 16-bit, palette, alpha, animated) are normalised the same way everywhere.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from audit.errors import UserError

if TYPE_CHECKING:
    from PIL import Image

MAX_PIXELS = 8192 * 8192  # 67 M pixels: 200 MB decoded; above any real generator's output
MAX_SIDE = 32768
MAX_FILE_BYTES = 256 * 1024 * 1024
FORMATS = ("PNG", "JPEG", "WEBP")


class ImageUnreadable(UserError):
    """A file that is not an image this tool reads: the message names it and says why."""


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int
    mode: str
    frames: int


def _fail(name: str | Path, cause: str) -> ImageUnreadable:
    return ImageUnreadable(
        f"not a readable image ({cause})",
        file=name,
        fix="replace it with a PNG, JPEG or WebP file of at most "
        f"{MAX_PIXELS // 1_000_000} M pixels, or leave it out",
    )


def read_bounded(path: Path, name: str | Path | None = None) -> bytes:
    """The file's bytes, refusing one too large to be an image before reading it."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _fail(name or path, f"{size:,} bytes, more than {MAX_FILE_BYTES:,}")
        return path.read_bytes()
    except OSError as exc:
        raise _fail(name or path, exc.strerror or type(exc).__name__) from None


def _open(source: Path | bytes, name: str | Path) -> Image.Image:
    """The opened image with its header checked (size, frames); pixels not decoded yet."""
    from PIL import Image

    _quiet_bomb_warning()
    data = read_bounded(source, name) if isinstance(source, Path) else source
    if not data:
        raise _fail(name, "the file is empty")
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise _fail(name, "a decompression bomb: its header claims too many pixels") from None
    except Exception as exc:  # Pillow raises many types for malformed headers
        raise _fail(name, f"{type(exc).__name__}: {exc}") from None
    width, height = img.size
    if width < 1 or height < 1 or width > MAX_SIDE or height > MAX_SIDE:
        raise _fail(name, f"{width}x{height} pixels: each side must be 1 to {MAX_SIDE}")
    if width * height > MAX_PIXELS:
        raise _fail(name, f"{width}x{height} = {width * height:,} pixels, more than {MAX_PIXELS:,}")
    return img


_warning_off = False


def _quiet_bomb_warning() -> None:
    """We enforce a stricter limit than Pillow's warning threshold, so its warning is noise.
    Set once for the process: `catch_warnings` is not thread-safe (the dashboard is threaded)."""
    global _warning_off
    if not _warning_off:
        from PIL import Image

        warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
        _warning_off = True


def probe(
    source: Path | bytes, name: str | Path | None = None, formats: tuple[str, ...] | None = None
) -> ImageInfo:
    """Check that the file decodes completely (a truncated file fails here, not later).
    With `formats`, any other format is refused before a pixel is decoded."""
    where = name if name is not None else source if isinstance(source, Path) else "<image>"
    img = _open(source, where)
    if formats is not None and img.format not in formats:
        raise ImageUnreadable(
            f"image format {img.format} is not supported",
            file=where,
            fix=f"convert it to one of {', '.join(formats)}",
        )
    try:
        img.load()
    except Exception as exc:
        raise _fail(where, f"{type(exc).__name__}: {exc}") from None
    return ImageInfo(img.format or "", img.width, img.height, img.mode, _frames(img))


def open_image(source: Path | bytes, name: str | Path | None = None) -> Image.Image:
    """The image as 8-bit RGB, fully decoded (the first frame of an animated file)."""
    where = name if name is not None else source if isinstance(source, Path) else "<image>"
    img = _open(source, where)
    try:
        img.seek(0)
        img.load()
        return to_rgb(img)
    except ImageUnreadable:
        raise
    except Exception as exc:
        raise _fail(where, f"{type(exc).__name__}: {exc}") from None


def _frames(img: Image.Image) -> int:
    return int(getattr(img, "n_frames", 1) or 1)


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB: 16-bit scaled down (not clipped, as PIL's convert would), CMYK, palettes
    and alpha converted as PIL's `convert("RGB")` does (alpha dropped). The reference
    implementations the scorers are checked against (clean-fid, torchmetrics' callers,
    opennsfw) read images that way, so compositing over a background here would move every
    number on a transparent image away from theirs."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        img = _scale_to_8bit(img)
        mode = img.mode
    if mode == "RGB":
        return img.copy()
    return img.convert("RGB")


def _scale_to_8bit(img: Image.Image) -> Image.Image:
    import numpy as np
    from PIL import Image

    values = np.asarray(img, dtype=np.float64)
    if img.mode == "F":
        top = 1.0 if values.size and float(np.nanmax(values)) <= 1.0 else 255.0
    else:  # 16-bit samples (a 32-bit "I" image holding 8-bit values stays as it is)
        top = 65535.0 if img.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
    scaled = np.clip(np.nan_to_num(values) / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(scaled)  # 8-bit grey

"""Hostile and unusual image files, built in code (each in well under a second)."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import numpy as np
from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 30000) -> bytes:
    """A valid side x side 8-bit grey PNG of zeros: 0.9 MB on disk, 900 MB decoded at 30000.

    Deflate after a full flush starts afresh, so one compressed block of 1,000 rows repeats;
    the Adler-32 of n zero bytes is (n mod 65521) << 16 | 1."""
    rows = 1000 if side % 1000 == 0 else side
    block = bytes(side + 1) * rows
    comp = zlib.compressobj(9)
    out = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    header, segment = out[:2], out[2:]
    total = (side + 1) * side
    adler = ((total % 65521) << 16) | 1
    idat = header + segment * (side // rows) + b"\x03\x00" + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height and whose data is missing."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IEND", b"")


def encode(img: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def rgb(size: int = 32, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), "RGB")


def truncated_png() -> bytes:
    data = encode(rgb(64))
    return data[: len(data) // 2]


def sixteen_bit_png() -> bytes:
    """Grey 16-bit: left half 65535 (white), right half 32768 (mid grey)."""
    values = np.full((8, 8), 32768, dtype=np.uint16)
    values[:, :4] = 65535
    return encode(Image.fromarray(values))  # uint16 -> mode I;16


def cmyk_jpeg() -> bytes:
    return encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95)  # red


def palette_png_with_transparency() -> bytes:
    img = Image.new("P", (8, 8), 1)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.info["transparency"] = 0
    img.paste(0, (0, 0, 4, 8))  # left half transparent
    return encode(img, transparency=0)


def rgba_png() -> bytes:
    img = Image.new("RGBA", (8, 8), (0, 0, 255, 255))
    img.paste((0, 0, 0, 0), (0, 0, 4, 8))  # left half fully transparent black
    return encode(img)


def animated_png() -> bytes:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0))]
    buf = io.BytesIO()
    frames[0].save(buf, format="PNG", save_all=True, append_images=frames[1:])
    return buf.getvalue()


# Files no reader may accept: name -> bytes (each must give a message naming the file).
BROKEN: dict[str, Callable[[], bytes]] = {
    "bomb.png": png_bomb,
    "empty.png": lambda: b"",
    "truncated.png": truncated_png,
    "garbage.png": lambda: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
    "text.jpg": lambda: b"this is not a JPEG at all\n",
    "huge-side.png": lambda: png_header_only(40000, 4),
    "header-only.png": lambda: png_header_only(64, 64),
}

# Files that are images, though unusual: every reader normalises them to 8-bit RGB.
UNUSUAL: dict[str, Callable[[], bytes]] = {
    "sixteen.png": sixteen_bit_png,
    "cmyk.jpg": cmyk_jpeg,
    "palette.png": palette_png_with_transparency,
    "alpha.png": rgba_png,
    "grey.png": lambda: encode(Image.new("L", (8, 8), 128)),
    "bilevel.png": lambda: encode(Image.new("1", (8, 8), 1)),
    "animated.png": animated_png,
}

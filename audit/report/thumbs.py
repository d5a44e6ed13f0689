"""Small base64 thumbnails for a self-contained HTML report."""

from __future__ import annotations

import base64
import io
from pathlib import Path


def thumbnail_data_uri(path: str | Path | None, px: int = 96) -> str | None:
    """A JPEG data: URI of the image scaled to fit px x px, or None when it cannot be read."""
    if not path:
        return None
    from audit.store.images import ImageUnreadable, open_image

    try:
        img = open_image(Path(path))  # bounded: a decompression bomb is refused, not decoded
    except ImageUnreadable:
        return None
    img.thumbnail((px, px))
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=75)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

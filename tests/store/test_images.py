"""The one image reader: hostile files fail naming the file; unusual ones become 8-bit RGB."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from audit.store.images import MAX_PIXELS, ImageUnreadable, open_image, probe
from tests import hostile


@pytest.mark.parametrize("name", sorted(hostile.BROKEN))
def test_broken_files_fail_naming_the_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(hostile.BROKEN[name]())
    for read in (open_image, probe):
        with pytest.raises(ImageUnreadable) as err:
            read(path)
        assert name in str(err.value)
        assert "not a readable image" in str(err.value)


def test_a_decompression_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    data = hostile.png_bomb()
    assert len(data) < 1_000_000  # 0.9 MB on disk, 900 M pixels once decoded
    path = tmp_path / "bomb.png"
    path.write_bytes(data)
    start = time.perf_counter()
    with pytest.raises(ImageUnreadable, match="decompression bomb"):
        open_image(path)
    assert time.perf_counter() - start < 1.0  # nothing was decoded


def test_just_over_the_pixel_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    side = int(MAX_PIXELS**0.5) + 1
    path = tmp_path / "big.png"
    path.write_bytes(hostile.png_header_only(side, side))
    with pytest.raises(ImageUnreadable, match="pixels, more than"):
        probe(path)


def _pixels(name: str) -> np.ndarray:
    img = open_image(hostile.UNUSUAL[name](), name)
    assert img.mode == "RGB"
    return np.asarray(img)


def test_sixteen_bit_is_scaled_not_clipped() -> None:
    px = _pixels("sixteen.png")
    assert (px[:, :4] == 255).all()
    assert (abs(px[:, 4:].astype(int) - 128) <= 1).all()


def test_transparency_is_dropped_as_the_reference_readers_drop_it() -> None:
    # PIL's convert("RGB"), which clean-fid, torchmetrics' callers and opennsfw use.
    alpha = _pixels("alpha.png")
    assert (alpha[:, :4] == 0).all()  # transparent black stays black
    assert (alpha[:, 4:] == (0, 0, 255)).all()
    palette = _pixels("palette.png")
    assert (palette[:, 4:] == (255, 0, 0)).all()


def test_cmyk_grey_and_bilevel_become_rgb() -> None:
    red = _pixels("cmyk.jpg").reshape(-1, 3).mean(axis=0)
    assert red[0] > 200 and red[1] < 60 and red[2] < 60
    assert (_pixels("grey.png") == 128).all()
    assert (_pixels("bilevel.png") == 255).all()


def test_animated_images_read_their_first_frame() -> None:
    assert probe(hostile.animated_png()).frames == 2
    assert (_pixels("animated.png") == (255, 0, 0)).all()


def test_a_format_not_asked_for_is_refused_before_decoding() -> None:
    tiff = hostile.encode(hostile.rgb(16), "TIFF")
    with pytest.raises(ImageUnreadable, match="image format TIFF is not supported"):
        probe(tiff, "x.tif", formats=("PNG", "JPEG", "WEBP"))
    assert probe(tiff).format == "TIFF"  # readers that take any format still can


def test_a_file_too_large_to_be_an_image_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import audit.store.images as images

    monkeypatch.setattr(images, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.png"
    path.write_bytes(hostile.encode(hostile.rgb(64)))
    with pytest.raises(ImageUnreadable, match="bytes, more than 1,000"):
        open_image(path)

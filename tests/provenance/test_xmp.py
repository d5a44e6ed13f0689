"""XMP / IPTC DigitalSourceType: read from PNG, JPEG and WebP files built here with Pillow,
reported by the c2pa scorer as its own column and in the combined AI-disclosure column."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from audit.provenance import make_test_chain, sign_image
from audit.provenance.xmp import (
    NEWSCODES,
    digital_source_types,
    extract_xmp,
    read_source_types,
    write_xmp,
    xmp_packet,
)
from audit.scorers.base import ScoreItem
from audit.scorers.provenance import C2paScorer

# Element form, as exiftool writes it (rdf:Description with a child property element).
ELEMENT_FORM = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:ext="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
    "<ext:DigitalSourceType>"
    f"{NEWSCODES}compositeWithTrainedAlgorithmicMedia"
    "</ext:DigitalSourceType></rdf:Description></rdf:RDF></x:xmpmeta>"
    '<?xpacket end="w"?>'
)


def _image(seed: int = 0) -> Image.Image:
    arr = (np.random.default_rng(seed).random((48, 48, 3)) * 255).astype(np.uint8)
    return Image.fromarray(arr)


def _png(xmp: str | None = None, *, zip_: bool = False, chunk: str = "iTXt") -> bytes:
    info = PngImagePlugin.PngInfo()
    if xmp is not None:
        if chunk == "iTXt":
            info.add_itxt("XML:com.adobe.xmp", xmp, zip=zip_)
        else:
            info.add_text("XML:com.adobe.xmp", xmp, zip=zip_)
    buf = io.BytesIO()
    _image().save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def _encoded(fmt: str, xmp: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    if fmt == "PNG":  # Pillow's PNG writer takes no `xmp=`: an iTXt chunk, as Adobe writes
        return _png(xmp.decode() if xmp is not None else None)
    kwargs = {"xmp": xmp} if xmp is not None else {}
    _image().save(buf, format=fmt, **kwargs)  # Pillow >= 11 writes `xmp=` for JPEG and WebP
    return buf.getvalue()


AI = xmp_packet("trainedAlgorithmicMedia")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_png(AI.decode()), id="png-itxt"),
        pytest.param(_png(AI.decode(), zip_=True), id="png-itxt-compressed"),
        pytest.param(_png(AI.decode(), chunk="tEXt"), id="png-text"),
        pytest.param(_png(AI.decode(), chunk="tEXt", zip_=True), id="png-ztxt"),
        pytest.param(_encoded("JPEG", AI), id="jpeg"),
        pytest.param(_encoded("WEBP", AI), id="webp"),
    ],
)
def test_reads_the_source_type_from_every_container(data: bytes) -> None:
    assert extract_xmp(data) is not None
    assert read_source_types(data) == ["trainedAlgorithmicMedia"]


def test_element_form_and_any_namespace_prefix() -> None:
    assert read_source_types(_png(ELEMENT_FORM)) == ["compositeWithTrainedAlgorithmicMedia"]
    # A packet that is not well-formed XML still yields the usual-prefix property.
    broken = AI.replace(b"</rdf:RDF>", b"")
    assert digital_source_types(broken) == [f"{NEWSCODES}trainedAlgorithmicMedia"]


def test_files_without_xmp_or_with_other_xmp() -> None:
    for data in (_png(), _encoded("JPEG"), _encoded("WEBP"), b"GIF89a....", b""):
        assert read_source_types(data) == []
    other = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    assert read_source_types(_encoded("JPEG", other)) == []
    # Truncated containers: no crash, nothing found.
    for data in (_png(AI.decode())[:60], _encoded("JPEG", AI)[:40], _encoded("WEBP", AI)[:30]):
        assert read_source_types(data) in ([], ["trainedAlgorithmicMedia"])


def test_write_xmp_keeps_pixels_and_refuses_what_it_cannot_do() -> None:
    for fmt in ("PNG", "JPEG"):
        plain = _encoded(fmt)
        marked = write_xmp(plain, AI)
        assert read_source_types(marked) == ["trainedAlgorithmicMedia"]
        with Image.open(io.BytesIO(plain)) as a, Image.open(io.BytesIO(marked)) as b:
            assert a.tobytes() == b.tobytes()
        with pytest.raises(ValueError, match="already carries"):
            write_xmp(marked, AI)
    with pytest.raises(ValueError, match="PNG and JPEG"):
        write_xmp(_encoded("WEBP"), AI)
    # The PNG chunk written is a well-formed iTXt with a valid CRC (Pillow checks CRCs).
    with Image.open(io.BytesIO(write_xmp(_png(), AI))) as img:
        img.load()
        assert "xmp" in img.info or "XML:com.adobe.xmp" in img.info


def _score(tmp_path: Path, name: str, data: bytes, **options: object) -> dict:
    path = tmp_path / name
    path.write_bytes(data)
    item = ScoreItem(key=name, image_path=path, prompt_text="", prompt_id="p", expect=None)
    (row,) = C2paScorer(C2paScorer.Options.model_validate(options)).score_batch([item])
    return row


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_xmp_alone_reads_ai_disclosed_and_plain_files_do_not(tmp_path: Path, fmt: str) -> None:
    row = _score(tmp_path, f"x.{fmt.lower()}", _encoded(fmt, AI))
    assert row["c2pa_state"] == "absent" and row["c2pa_ai_declared"] == 0.0
    assert row["xmp_digital_source_type"] == "trainedAlgorithmicMedia"
    assert row["xmp_ai_disclosed"] == 1.0 and row["ai_disclosed"] == 1.0
    plain = _score(tmp_path, f"p.{fmt.lower()}", _encoded(fmt))
    assert plain["xmp_digital_source_type"] is None
    assert plain["xmp_ai_disclosed"] == 0.0 and plain["ai_disclosed"] == 0.0


def test_which_terms_count_as_ai(tmp_path: Path) -> None:
    composite = _score(tmp_path, "c.png", _png(ELEMENT_FORM))
    assert composite["xmp_ai_disclosed"] == 1.0
    procedural = _score(tmp_path, "a.png", _png(xmp_packet("algorithmicMedia").decode()))
    assert procedural["xmp_digital_source_type"] == "algorithmicMedia"
    assert procedural["xmp_ai_disclosed"] == 0.0 and procedural["ai_disclosed"] == 0.0
    camera = _score(tmp_path, "d.jpg", _encoded("JPEG", xmp_packet("digitalCapture")))
    assert camera["xmp_digital_source_type"] == "digitalCapture"
    assert camera["ai_disclosed"] == 0.0


def test_signing_can_write_the_xmp_too(tmp_path: Path) -> None:
    chain = make_test_chain()
    for fmt, mime in (("PNG", "image/png"), ("JPEG", "image/jpeg")):
        signed = sign_image(_encoded(fmt), mime, chain.chain, chain.key, xmp=True)
        row = _score(tmp_path, f"s.{fmt.lower()}", signed)
        # XMP written before signing: the manifest still validates, and both disclose.
        assert row["c2pa_state"] == "valid_untrusted"
        assert row["c2pa_ai_declared"] == 1.0 and row["xmp_ai_disclosed"] == 1.0
        unsigned_xmp = sign_image(_encoded(fmt), mime, chain.chain, chain.key)
        assert read_source_types(unsigned_xmp) == []  # off by default

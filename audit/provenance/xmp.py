"""IPTC DigitalSourceType in XMP: the AI disclosure many generators write without C2PA.

XMP is read straight from the file's container, never from decoded pixels, without any
image library:

* PNG: an `iTXt` (or `tEXt` / `zTXt`) chunk with keyword `XML:com.adobe.xmp`;
* JPEG: an APP1 segment that starts with `http://ns.adobe.com/xap/1.0/\\0` (the standard
  packet; extended XMP segments are not read);
* WebP: the `XMP ` chunk of the RIFF container.

The property is `Iptc4xmpExt:DigitalSourceType` (namespace
`http://iptc.org/std/Iptc4xmpExt/2008-02-29/`), written either as an attribute of
`rdf:Description` or as an element (text or `rdf:resource`). Its value is a term of the IPTC
NewsCodes "Digital Source Type" vocabulary, https://cv.iptc.org/newscodes/digitalsourcetype/.
Two terms say that a trained (generative) model made the image, and only these count as AI
disclosure here, as in C2PA's own AI-generation guidance:

* `trainedAlgorithmicMedia`: "digital media created algorithmically using a model derived
  from sampled content";
* `compositeWithTrainedAlgorithmicMedia`: a composite in which at least one element is
  trained algorithmic media (inpainting, generative fill).

`algorithmicMedia` ("created purely by an algorithm not based on any sampled training
data", e.g. procedural graphics) is reported as a term but is not an AI disclosure.
"""

from __future__ import annotations

import re
import struct
import zlib
from xml.etree import ElementTree

IPTC_EXT_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NEWSCODES = "http://cv.iptc.org/newscodes/digitalsourcetype/"
PNG_KEYWORD = b"XML:com.adobe.xmp"
JPEG_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

AI_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"})
"""IPTC digital source types (last path segment) that declare generative-AI output."""

_PROPERTY = f"{{{IPTC_EXT_NS}}}DigitalSourceType"
_RESOURCE = f"{{{RDF_NS}}}resource"
# Fallback for a packet that is not well-formed XML: the usual prefix, either form.
_LOOSE = re.compile(
    rb"Iptc4xmpExt:DigitalSourceType\s*(?:=\s*[\"']([^\"']*)[\"']|>\s*([^<\s]+)\s*<)"
)
_MAX_PACKET = 4 << 20  # XMP packets are kilobytes; a larger one is not read


def term(uri: str) -> str:
    """The vocabulary term of a DigitalSourceType value: its last path segment."""
    return uri.strip().rstrip("/").rsplit("/", 1)[-1]


def is_ai_term(value: str) -> bool:
    return term(value) in AI_SOURCE_TYPES


# --- finding the packet ---------------------------------------------------------------


def _png_xmp(data: bytes) -> bytes | None:
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IEND":
            break
        if kind not in (b"iTXt", b"tEXt", b"zTXt"):
            continue
        keyword, sep, rest = body.partition(b"\x00")
        if not sep or keyword != PNG_KEYWORD:
            continue
        try:
            if kind == b"tEXt":
                return rest
            if kind == b"zTXt":  # compression method byte, then zlib data
                return zlib.decompress(rest[1:])[:_MAX_PACKET]
            compressed = rest[:1] == b"\x01"
            # compression method, language tag \0, translated keyword \0, then the text
            _lang, _, rest = rest[2:].partition(b"\x00")
            _translated, _, text = rest.partition(b"\x00")
            return zlib.decompress(text)[:_MAX_PACKET] if compressed else text
        except zlib.error:
            return None
    return None


def _jpeg_xmp(data: bytes) -> bytes | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None  # lost sync: not a marker where one must be
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            pos += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end: metadata comes before
            return None
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        body = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and body.startswith(JPEG_XMP_HEADER):
            return body[len(JPEG_XMP_HEADER) :]
        pos += 2 + length
    return None


def _webp_xmp(data: bytes) -> bytes | None:
    pos = 12
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        if kind == b"XMP ":
            return data[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)  # chunks are padded to an even size
    return None


def extract_xmp(data: bytes) -> bytes | None:
    """The raw XMP packet of a PNG, JPEG or WebP file; None if there is none (or another
    format). Never raises on malformed files: a broken container simply has no packet."""
    try:
        if data.startswith(PNG_SIGNATURE):
            return _png_xmp(data)
        if data.startswith(b"\xff\xd8"):
            return _jpeg_xmp(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_xmp(data)
    except (struct.error, IndexError):
        return None
    return None


# --- reading the property ---------------------------------------------------------------


def digital_source_types(packet: bytes) -> list[str]:
    """Every Iptc4xmpExt:DigitalSourceType value in an XMP packet, in document order."""
    if len(packet) > _MAX_PACKET:
        return []
    text = packet.strip(b"\x00 \t\r\n")
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        out = []
        for match in _LOOSE.finditer(text):
            raw = next(g for g in match.groups() if g is not None)
            out.append(raw.decode("utf-8", "replace").strip())
        return [v for v in out if v]
    found: list[str] = []
    for element in root.iter():
        attribute = element.attrib.get(_PROPERTY)
        if attribute:
            found.append(attribute.strip())
        if element.tag == _PROPERTY:
            value = (element.text or "").strip() or element.attrib.get(_RESOURCE, "").strip()
            if not value:  # <Iptc4xmpExt:DigitalSourceType><rdf:Description rdf:resource=..>
                for child in element:
                    value = child.attrib.get(_RESOURCE, "").strip() or (child.text or "").strip()
                    if value:
                        break
            if value:
                found.append(value)
    return found


def read_source_types(data: bytes) -> list[str]:
    """The DigitalSourceType terms (last path segments) the file's XMP declares."""
    packet = extract_xmp(data)
    return [term(v) for v in digital_source_types(packet)] if packet else []


# --- writing ----------------------------------------------------------------------------


def xmp_packet(source_type: str) -> bytes:
    """A minimal XMP packet declaring `source_type` (a term or a full NewsCodes URI)."""
    uri = source_type if "/" in source_type else NEWSCODES + source_type
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        f'<rdf:RDF xmlns:rdf="{RDF_NS}">'
        f'<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="{IPTC_EXT_NS}" '
        f'Iptc4xmpExt:DigitalSourceType="{uri}"/>'
        "</rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def write_xmp(data: bytes, packet: bytes) -> bytes:
    """`data` (PNG or JPEG bytes) with `packet` added as its XMP, pixels byte for byte
    untouched. A file that already has an XMP packet is refused (merging is not done).
    Raises ValueError for other formats."""
    if extract_xmp(data) is not None:
        raise ValueError("the image already carries an XMP packet")
    if data.startswith(PNG_SIGNATURE):
        # After IHDR (the first chunk), before the image data.
        (ihdr_len,) = struct.unpack(">I", data[8:12])
        cut = 8 + 12 + ihdr_len
        body = PNG_KEYWORD + b"\x00\x00\x00\x00\x00" + packet  # uncompressed, no language
        return data[:cut] + _png_chunk(b"iTXt", body) + data[cut:]
    if data.startswith(b"\xff\xd8"):
        segment = JPEG_XMP_HEADER + packet
        if len(segment) + 2 > 0xFFFF:
            raise ValueError("XMP packet too large for one JPEG APP1 segment")
        cut = 2
        if data[2:4] == b"\xff\xe0":  # keep JFIF's APP0 first, as the JFIF spec asks
            (length,) = struct.unpack(">H", data[4:6])
            cut = 4 + length
        app1 = b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment
        return data[:cut] + app1 + data[cut:]
    raise ValueError("XMP can be written into PNG and JPEG files only")

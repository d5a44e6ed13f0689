"""Sign an image with a C2PA manifest that declares it AI-generated (c2pa-python >= 0.10).

The manifest carries one `c2pa.actions` assertion with a `c2pa.created` action whose
digitalSourceType is IPTC's trainedAlgorithmicMedia, the term C2PA and IPTC use for
generative-AI output. With `xmp=True` the same term is also written as the IPTC
DigitalSourceType in the file's XMP (`audit.provenance.xmp`), before signing, so the
manifest's hash covers it and readers that know no C2PA still see the disclosure. Signing is
offline: no timestamp authority, so the signature is only
as current as the signing certificate's validity period.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
# For ai_generated=False: "made by an algorithm, not a trained model" is the nearest neutral
# term IPTC offers; it is not a claim that a person made the image.
ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"

ALGORITHMS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")


class SigningError(Exception):
    """The C2PA library refused to sign (bad key, bad chain, unsupported format)."""


def build_manifest(
    claim_generator: str = "t2i-audit",
    ai_generated: bool = True,
    extra_assertions: Sequence[Mapping[str, Any]] | None = None,
    *,
    generator_version: str | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """The manifest definition handed to `c2pa.Builder`: plain JSON-able data."""
    source_type = TRAINED_ALGORITHMIC_MEDIA if ai_generated else ALGORITHMIC_MEDIA
    info: dict[str, Any] = {"name": claim_generator}
    if generator_version:
        info["version"] = generator_version
    manifest: dict[str, Any] = {
        "claim_generator_info": [info],
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": source_type}]},
            },
            *(dict(a) for a in (extra_assertions or [])),
        ],
    }
    if title:
        manifest["title"] = title
    return manifest


def sign_image(
    data: bytes,
    mime: str,
    cert_chain_pem: bytes,
    private_key_pem: bytes,
    alg: str = "es256",
    claim_generator: str = "t2i-audit",
    ai_generated: bool = True,
    extra_assertions: Sequence[Mapping[str, Any]] | None = None,
    *,
    thumbnail: bool = False,
    xmp: bool = False,
) -> bytes:
    """Return `data` (an encoded image of type `mime`) with a signed C2PA manifest embedded.

    `cert_chain_pem` is the signing certificate followed by its issuers (leaf first); a lone
    self-signed certificate is refused by C2PA. `extra_assertions` are
    `{"label": ..., "data": ...}` dicts added after the actions assertion. The thumbnail is
    off by default: it is a JPEG copy of the image and can grow a small PNG many times over.
    `xmp=True` (PNG and JPEG) also writes the digitalSourceType into the file's XMP.
    """
    import c2pa

    from audit import __version__

    alg = alg.lower()
    if alg not in ALGORITHMS:
        raise ValueError(f"unknown signing algorithm '{alg}'; use one of {', '.join(ALGORITHMS)}")
    manifest = build_manifest(
        claim_generator,
        ai_generated,
        extra_assertions,
        generator_version=__version__ if claim_generator == "t2i-audit" else None,
    )
    if xmp:
        from audit.provenance.xmp import write_xmp, xmp_packet

        source_type = TRAINED_ALGORITHMIC_MEDIA if ai_generated else ALGORITHMIC_MEDIA
        try:
            data = write_xmp(data, xmp_packet(source_type))
        except ValueError as exc:
            raise SigningError(f"cannot write XMP into this {mime} file: {exc}") from exc
    # Only what signing needs; no network: no timestamp URL, no remote manifest.
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": thumbnail}}})
    try:
        signer = c2pa.Signer.from_info(
            c2pa.C2paSignerInfo(alg, cert_chain_pem, private_key_pem, None)
        )
        with signer, c2pa.Builder(manifest, context) as builder:
            out = io.BytesIO()
            builder.sign(signer, mime, io.BytesIO(data), out)
            return out.getvalue()
    except c2pa.C2paError as exc:
        raise SigningError(f"C2PA signing failed ({mime}, {alg}): {exc}") from exc
    finally:
        context.close()

"""Signing: the manifest says what it should, and bad credentials are refused."""

from __future__ import annotations

import datetime as dt
import io
import json
import struct

import pytest
from PIL import Image

from audit.provenance import SigningError, TestChain, make_test_chain, sign_image
from audit.provenance.sign import TRAINED_ALGORITHMIC_MEDIA


@pytest.fixture(scope="module")
def chain() -> TestChain:
    return make_test_chain()


def _encode(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 40, 90)).save(buf, format=fmt)
    return buf.getvalue()


def _png_chunks(data: bytes) -> list[bytes]:
    """Chunk types of a PNG, parsed by hand (independent of PIL and c2pa)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, types = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        types.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return types


def _read(data: bytes, mime: str) -> tuple[str, dict]:
    import c2pa

    with c2pa.Reader(mime, io.BytesIO(data)) as reader:
        return reader.get_validation_state(), json.loads(reader.json())


def test_signed_png_carries_an_ai_created_manifest(chain: TestChain) -> None:
    original = _encode("PNG")
    signed = sign_image(original, "image/png", chain.chain, chain.key)
    # The manifest rides in a `caBX` chunk ahead of the image data; pixels are untouched.
    assert b"caBX" in _png_chunks(signed) and b"caBX" not in _png_chunks(original)
    with Image.open(io.BytesIO(signed)) as a, Image.open(io.BytesIO(original)) as b:
        assert a.tobytes() == b.tobytes()

    state, store = _read(signed, "image/png")
    assert state == "Valid"  # not "Trusted": the test root is on no trust list
    manifest = store["manifests"][store["active_manifest"]]
    assert manifest["claim_generator_info"][0]["name"] == "t2i-audit"
    actions = [
        action
        for assertion in manifest["assertions"]
        if assertion["label"].startswith("c2pa.actions")
        for action in assertion["data"]["actions"]
    ]
    assert actions == [{"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA}]
    assert manifest["signature_info"]["issuer"] == "t2i-audit test signer"
    codes = [s["code"] for s in store.get("validation_status", [])]
    assert codes == ["signingCredential.untrusted"]


def test_jpeg_extra_assertions_and_options(chain: TestChain) -> None:
    extra = [{"label": "org.t2i-audit.request", "data": {"seed": 7, "steps": 20}}]
    signed = sign_image(
        _encode("JPEG"),
        "image/jpeg",
        chain.chain,
        chain.key,
        claim_generator="my-pipeline",
        ai_generated=False,
        extra_assertions=extra,
        thumbnail=True,
    )
    state, store = _read(signed, "image/jpeg")
    assert state == "Valid"
    manifest = store["manifests"][store["active_manifest"]]
    assert manifest["claim_generator_info"][0]["name"] == "my-pipeline"
    by_label = {a["label"]: a["data"] for a in manifest["assertions"]}
    assert by_label["org.t2i-audit.request"] == {"seed": 7, "steps": 20}
    (action,) = next(v for k, v in by_label.items() if k.startswith("c2pa.actions"))["actions"]
    assert action["digitalSourceType"].endswith("/algorithmicMedia")
    assert "thumbnail" in manifest


def test_wrong_key_is_refused(chain: TestChain) -> None:
    other = make_test_chain()
    with pytest.raises(SigningError, match="does not match"):
        sign_image(_encode("PNG"), "image/png", chain.chain, other.key)


def test_lone_self_signed_certificate_is_refused() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "self"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "self"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(SigningError, match="certificate is invalid"):
        sign_image(
            _encode("PNG"), "image/png", cert.public_bytes(serialization.Encoding.PEM), key_pem
        )


def test_unknown_algorithm_is_refused(chain: TestChain) -> None:
    with pytest.raises(ValueError, match="unknown signing algorithm 'rs256'"):
        sign_image(_encode("PNG"), "image/png", chain.chain, chain.key, alg="rs256")

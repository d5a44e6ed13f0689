"""C2PA scorer: valid / trusted / invalid / absent on files the tests sign themselves."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from audit.errors import UserError
from audit.provenance import TestChain, make_test_chain, sign_image
from audit.scorers.attacks import ATTACK_NAMES
from audit.scorers.base import ScoreItem
from audit.scorers.provenance import C2paOptions, C2paScorer, claim_generator, declares_ai


@pytest.fixture(scope="module")
def chain() -> TestChain:
    return make_test_chain()


def _png(seed: int = 0) -> bytes:
    arr = (np.random.default_rng(seed).random((64, 64, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _item(path: Path, key: str = "k") -> ScoreItem:
    return ScoreItem(key=key, image_path=path, prompt_text="", prompt_id="p", expect=None)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _score(path: Path, **options: object) -> dict:
    scorer = C2paScorer(C2paOptions.model_validate(options))
    (row,) = scorer.score_batch([_item(path)])
    assert set(row) == {m.name for m in scorer.metrics()}
    return row


def _flip_idat_byte(data: bytes) -> bytes:
    """Flip one bit in the middle of the first IDAT chunk's payload (found by hand)."""
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            out = bytearray(data)
            out[pos + 8 + length // 2] ^= 0x01
            return bytes(out)
        pos += 12 + length
    raise AssertionError("no IDAT chunk")


def test_signed_png_reads_valid_and_ai_declared(tmp_path: Path, chain: TestChain) -> None:
    path = _write(tmp_path, "s.png", sign_image(_png(), "image/png", chain.chain, chain.key))
    assert _score(path) == {
        "c2pa_present": 1.0,
        "c2pa_state": "valid_untrusted",
        "c2pa_trusted": 0.0,
        "cawg_identity_state": "absent",
        "c2pa_ai_declared": 1.0,
        "c2pa_claim_generator": "t2i-audit",
        "xmp_digital_source_type": None,
        "xmp_ai_disclosed": 0.0,
        "ai_disclosed": 1.0,
    }


def test_trusted_only_with_the_signing_root_as_anchor(tmp_path: Path, chain: TestChain) -> None:
    path = _write(tmp_path, "s.png", sign_image(_png(), "image/png", chain.chain, chain.key))
    right = _write(tmp_path, "right.pem", chain.root)
    wrong = _write(tmp_path, "wrong.pem", make_test_chain("Someone Else").root)
    both = _write(tmp_path, "both.pem", wrong.read_bytes() + chain.root)
    assert _score(path, trust_anchors=right)["c2pa_state"] == "trusted"
    assert _score(path, trust_anchors=both)["c2pa_state"] == "trusted"
    assert _score(path, trust_anchors=wrong)["c2pa_state"] == "valid_untrusted"


def test_one_flipped_image_byte_reads_invalid(tmp_path: Path, chain: TestChain) -> None:
    signed = sign_image(_png(), "image/png", chain.chain, chain.key)
    path = _write(tmp_path, "t.png", _flip_idat_byte(signed))
    row = _score(path, trust_anchors=_write(tmp_path, "root.pem", chain.root))
    assert row["c2pa_present"] == 1.0
    assert row["c2pa_state"] == "invalid"
    assert row["c2pa_ai_declared"] == 0.0  # a declaration that fails validation counts for nothing


def test_reencoded_png_reads_absent(tmp_path: Path, chain: TestChain) -> None:
    signed = sign_image(_png(), "image/png", chain.chain, chain.key)
    buf = io.BytesIO()
    with Image.open(io.BytesIO(signed)) as img:
        img.save(buf, format="PNG")
    assert b"caBX" in signed and b"caBX" not in buf.getvalue()
    row = _score(_write(tmp_path, "r.png", buf.getvalue()))
    assert row == {
        "c2pa_present": 0.0,
        "c2pa_state": "absent",
        "c2pa_trusted": 0.0,
        "cawg_identity_state": "absent",
        "c2pa_ai_declared": 0.0,
        "c2pa_claim_generator": None,
        "xmp_digital_source_type": None,
        "xmp_ai_disclosed": 0.0,
        "ai_disclosed": 0.0,
    }


def test_unsigned_image_reads_absent(tmp_path: Path) -> None:
    row = _score(_write(tmp_path, "u.png", _png()))
    assert row["c2pa_present"] == 0.0 and row["c2pa_state"] == "absent"


def test_not_ai_declared_when_the_manifest_says_otherwise(tmp_path: Path, chain: TestChain) -> None:
    data = sign_image(
        _png(), "image/png", chain.chain, chain.key, claim_generator="toy", ai_generated=False
    )
    row = _score(_write(tmp_path, "n.png", data))
    assert row["c2pa_state"] == "valid_untrusted"
    assert row["c2pa_ai_declared"] == 0.0
    assert row["c2pa_claim_generator"] == "toy"


def test_reads_the_file_bytes_not_the_decoded_image(tmp_path: Path, chain: TestChain) -> None:
    path = _write(tmp_path, "s.png", sign_image(_png(), "image/png", chain.chain, chain.key))
    item = _item(path)
    item._image = Image.new("RGB", (8, 8))  # a decoded copy someone already loaded
    (row,) = C2paScorer().score_batch([item])
    assert row["c2pa_state"] == "valid_untrusted"


def test_jpeg_originals_work_too(tmp_path: Path, chain: TestChain) -> None:
    buf = io.BytesIO()
    Image.open(io.BytesIO(_png())).save(buf, format="JPEG", quality=90)
    signed = sign_image(buf.getvalue(), "image/jpeg", chain.chain, chain.key)
    assert _score(_write(tmp_path, "s.jpg", signed))["c2pa_state"] == "valid_untrusted"


def test_unparsable_file_is_not_applicable(tmp_path: Path) -> None:
    truncated = _write(tmp_path, "x.png", _png()[:100])
    row = _score(truncated, robustness=True, attacks=["png"])
    assert row["c2pa_state"] == row["cawg_identity_state"] == "unreadable"
    assert all(v is None for k, v in row.items() if not k.endswith("_state")), row


def test_robustness_no_manifest_survives_any_reencode(tmp_path: Path, chain: TestChain) -> None:
    path = _write(tmp_path, "s.png", sign_image(_png(), "image/png", chain.chain, chain.key))
    row = _score(path, robustness=True)
    assert row["c2pa_state"] == "valid_untrusted"
    for attack in ATTACK_NAMES:
        # Measured: every attack rewrites the file from pixels, and the manifest is gone.
        assert row[f"c2pa_present_{attack}"] == 0.0, attack
        assert row[f"c2pa_valid_{attack}"] == 0.0, attack


def test_options(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"scorers\.c2pa\.trust_anchors.*does not exist"):
        C2paScorer.parse_options({"trust_anchors": str(tmp_path / "missing.pem")})
    not_pem = _write(tmp_path, "x.pem", b"hello")
    with pytest.raises(UserError, match="no PEM certificate"):
        C2paScorer.parse_options({"trust_anchors": str(not_pem)})
    with pytest.raises(UserError, match=r"scorers\.c2pa\.attacks"):
        C2paScorer.parse_options({"attacks": ["jpeg10"]})
    with pytest.raises(UserError, match=r"trust_anchor.*Extra inputs"):
        C2paScorer.parse_options({"trust_anchor": "x"})
    names = [m.name for m in C2paScorer(C2paOptions(robustness=True, attacks=["png"])).metrics()]
    assert names == [
        "c2pa_present",
        "c2pa_state",
        "c2pa_trusted",
        "cawg_identity_state",
        "c2pa_ai_declared",
        "c2pa_claim_generator",
        "xmp_digital_source_type",
        "xmp_ai_disclosed",
        "ai_disclosed",
        "c2pa_present_png",
        "c2pa_valid_png",
    ]
    assert all(r.ok for r in C2paScorer.check())


def test_manifest_helpers_read_v1_and_v2_shapes() -> None:
    v1 = {
        "claim_generator": "Adobe_Firefly/1.0 c2pa-rs/0.25",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": "https://cv.iptc.org/newscodes/"
                            "digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
                        }
                    ]
                },
            }
        ],
    }
    assert claim_generator(v1) == "Adobe_Firefly"
    assert declares_ai(v1)
    camera = {
        "claim_generator_info": [{"name": "Leica"}],
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {"action": "c2pa.created", "digitalSourceType": "x/y/digitalCapture"}
                    ]
                },
            }
        ],
    }
    assert claim_generator(camera) == "Leica"
    assert not declares_ai(camera)
    assert claim_generator({}) is None

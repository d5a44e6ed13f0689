"""Trust: anchors and policy from the spec or the scorer, recorded in the score identity
(and so in run.json), and the five states kept apart for the claim signer and CAWG."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.config import load_spec
from audit.errors import UserError
from audit.provenance import TestChain, make_test_chain, sign_image
from audit.provenance.trust import (
    STATES,
    TrustSettings,
    c2pa_settings,
    cawg_state,
    claim_state,
)
from audit.scorers.base import ScoreItem
from audit.scorers.identity import describe
from audit.scorers.provenance import C2paOptions, C2paScorer
from tests.conftest import write_smoke_spec
from tests.scorers.test_provenance import _flip_idat_byte as _flip_idat
from tests.scorers.test_provenance import _png


@pytest.fixture(scope="module")
def chain() -> TestChain:
    return make_test_chain()


def _row(scorer: C2paScorer, path: Path) -> dict:
    item = ScoreItem(key="k", image_path=path, prompt_text="", prompt_id="p", expect=None)
    (row,) = scorer.score_batch([item])
    return row


def test_states_from_signed_tampered_plain_and_broken_files(
    tmp_path: Path, chain: TestChain
) -> None:
    anchors = tmp_path / "root.pem"
    anchors.write_bytes(chain.root)
    signed = sign_image(_png(), "image/png", chain.chain, chain.key)
    files = {
        "signed": signed,
        "tampered": _flip_idat(signed),
        "plain": _png(1),
        "broken": _png(2)[:100],
    }
    for name, data in files.items():
        (tmp_path / f"{name}.png").write_bytes(data)
    anchored = C2paScorer(C2paOptions(trust=TrustSettings(anchors=anchors)))
    bare = C2paScorer()
    got = {n: _row(anchored, tmp_path / f"{n}.png")["c2pa_state"] for n in files}
    assert got == {
        "signed": "trusted",
        "tampered": "invalid",
        "plain": "absent",
        "broken": "unreadable",
    }
    assert _row(bare, tmp_path / "signed.png")["c2pa_state"] == "valid_untrusted"
    row = _row(anchored, tmp_path / "signed.png")
    assert row["c2pa_trusted"] == 1.0 and row["cawg_identity_state"] == "absent"
    assert set(got.values()) | {"valid_untrusted"} == set(STATES)


def test_policy_trusted_only_counts_only_trusted_declarations(
    tmp_path: Path, chain: TestChain
) -> None:
    path = tmp_path / "s.png"
    path.write_bytes(sign_image(_png(), "image/png", chain.chain, chain.key))
    anchors = tmp_path / "root.pem"
    anchors.write_bytes(chain.root)
    strict = C2paScorer(C2paOptions(trust=TrustSettings(policy="trusted_only")))
    assert _row(strict, path)["ai_disclosed"] == 0.0  # valid but untrusted: not counted
    strict_anchored = C2paScorer(
        C2paOptions(trust=TrustSettings(anchors=anchors, policy="trusted_only"))
    )
    assert _row(strict_anchored, path)["ai_disclosed"] == 1.0
    assert _row(C2paScorer(), path)["ai_disclosed"] == 1.0  # any_valid is the default


def test_anchor_content_is_in_the_identity_not_its_path(tmp_path: Path, chain: TestChain) -> None:
    a = tmp_path / "a.pem"
    a.write_bytes(chain.root)
    b = tmp_path / "sub" / "b.pem"
    b.parent.mkdir()
    b.write_bytes(chain.root)
    other = tmp_path / "other.pem"
    other.write_bytes(make_test_chain("Someone Else").root)

    def identity(path: Path, policy: str = "any_valid") -> str:
        options = C2paScorer.parse_options({"trust": {"anchors": str(path), "policy": policy}})
        return describe(C2paScorer(options)).identity  # type: ignore[arg-type]

    assert identity(a) == identity(b)
    assert identity(a) != identity(other)
    assert identity(a) != identity(a, "trusted_only")
    record = describe(C2paScorer(C2paScorer.parse_options({"trust": {"anchors": str(a)}})))
    loads = record.record()["loads"]  # type: ignore[attr-defined]
    assert loads["trust_anchors"].startswith("sha256:")
    assert loads["trust_policy"] == "any_valid" and "c2pa-python" in loads
    # The old spelling is the same setting.
    old = C2paScorer(C2paScorer.parse_options({"trust_anchors": str(a)}))  # type: ignore[arg-type]
    assert describe(old).identity == identity(a)


def test_bad_trust_options_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"scorers\.c2pa\.trust.*does not exist"):
        C2paScorer.parse_options({"trust": {"anchors": str(tmp_path / "none.pem")}})
    with pytest.raises(UserError, match=r"scorers\.c2pa\.trust\.policy"):
        C2paScorer.parse_options({"trust": {"policy": "sometimes"}})
    pem = tmp_path / "r.pem"
    pem.write_bytes(make_test_chain().root)
    with pytest.raises(UserError, match="not both"):
        C2paScorer.parse_options({"trust": {"anchors": str(pem)}, "trust_anchors": str(pem)})


def test_spec_trust_is_checked_and_given_to_c2pa_entries(tmp_path: Path) -> None:
    spec_path = write_smoke_spec(
        tmp_path,
        **{
            "scorers: []": "scorers:\n  - c2pa\n  - c2pa: {as: own, trust_anchors: own.pem}\n"
            "provenance:\n  trust: {anchors: certs/root.pem, policy: trusted_only}"
        },
    )
    with pytest.raises(UserError) as err:
        load_spec(spec_path)
    assert err.value.field == "provenance.trust.anchors"
    assert "does not exist" in err.value.problem
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "root.pem").write_bytes(make_test_chain().root)
    spec, base = load_spec(spec_path)
    first, second = spec.scorers
    assert first.options["trust"] == {
        "anchors": str(base / "certs" / "root.pem"),
        "policy": "trusted_only",
    }
    assert "trust" not in second.options  # an entry's own setting wins
    dumped = spec.model_dump(mode="json")  # what run.json keeps
    assert dumped["provenance"]["trust"]["anchors"] == "certs/root.pem"
    assert dumped["scorers"][0]["options"]["trust"]["policy"] == "trusted_only"


def test_claim_state_and_settings() -> None:
    assert claim_state("Trusted", anchored=True) == "trusted"
    assert claim_state("Trusted", anchored=False) == "valid_untrusted"
    assert claim_state("Valid", anchored=True) == "valid_untrusted"
    assert claim_state("Invalid", anchored=True) == "invalid"
    assert claim_state(None, anchored=False) == "invalid"
    settings = c2pa_settings(None)
    assert settings["verify"]["verify_trust"] is True
    assert settings["verify"]["ocsp_fetch"] is False and "trust" not in settings


def _results(**kinds: list[str]) -> dict:
    return {"activeManifest": {k: [{"code": c} for c in v] for k, v in kinds.items()}}


IDENTITY = {"assertions": [{"label": "cawg.identity"}, {"label": "c2pa.actions.v2"}]}


def test_cawg_identity_state_from_status_codes() -> None:
    # Status codes as c2pa-rs (0.38.1 wheel of c2pa-python) spells them in the CAWG identity
    # assertion validation (CAWG identity 1.1, section 7).
    plain = {"assertions": [{"label": "c2pa.actions.v2"}]}
    assert cawg_state(_results(success=["claimSignature.validated"]), plain) == "absent"
    ok = ["cawg.identity.well-formed", "cawg.x509.signature.validated"]
    assert cawg_state(_results(success=ok), IDENTITY) == "valid_untrusted"
    assert (
        cawg_state(_results(success=ok, failure=["cawg.x509.credential.untrusted"]), IDENTITY)
        == "valid_untrusted"
    )
    assert (
        cawg_state(_results(success=[*ok, "cawg.x509.credential.trusted"]), IDENTITY) == "trusted"
    )
    assert cawg_state(_results(failure=["cawg.x509.signature.mismatch"]), IDENTITY) == "invalid"
    assert cawg_state(_results(failure=["cawg.identity.hard_binding_missing"]), plain) == (
        "invalid"
    )
    assert cawg_state(None, IDENTITY) == "unreadable"  # present, but nothing reported on it

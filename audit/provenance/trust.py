"""Trust settings for reading C2PA manifests, and the states a reading can end in.

Since c2pa-python 0.29 the SDK checks the signer's certificate chain against trust anchors by
default; without anchors a correctly signed manifest reads `Valid` with the failure code
`signingCredential.untrusted`. What anchors a run trusted therefore decides its numbers, so
the settings are part of the spec (`provenance.trust`, or the c2pa scorer's `trust` option),
named by digest in the score identity and recorded in run.json with the c2pa version.

States, for the claim signer (`c2pa_state`) and for a CAWG identity assertion
(`cawg_identity_state`) alike:

* `trusted`: validates, and the signing chain ends in one of the given anchors;
* `valid_untrusted`: validates, but no given anchor vouches for the signer;
* `invalid`: present, but fails validation (tampered pixels, bad signature, corrupt store);
* `absent`: the file was parsed and carries none;
* `unreadable`: the file could not be parsed, so nothing can be said.

`policy` says which manifests' AI declaration counts as disclosure: `any_valid` (the default;
a valid-but-untrusted declaration is still a declaration) or `trusted_only`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

State = Literal["trusted", "valid_untrusted", "invalid", "absent", "unreadable"]
STATES: tuple[State, ...] = ("trusted", "valid_untrusted", "invalid", "absent", "unreadable")
Policy = Literal["any_valid", "trusted_only"]


def check_pem(path: Path) -> Path:
    """`path` if it is a file holding at least one PEM certificate; ValueError saying why not."""
    if not path.is_file():
        raise ValueError(f"trust anchor file '{path}' does not exist")
    if b"-----BEGIN CERTIFICATE-----" not in path.read_bytes():
        raise ValueError(f"trust anchor file '{path}' holds no PEM certificate")
    return path


class TrustSettings(BaseModel):
    """`provenance.trust` in a spec, or the c2pa scorer's `trust` option. Files are checked
    where their folder is known: by the spec loader (relative to the spec) and by the
    scorer's options (`checked`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    anchors: Path | None = Field(
        default=None, description="PEM file of root certificates trusted for claim signers"
    )
    cawg_anchors: Path | None = Field(
        default=None, description="PEM file of roots trusted for CAWG X.509 identities"
    )
    policy: Policy = Field(
        default="any_valid",
        description="whose AI declaration counts: any valid manifest, or trusted ones only",
    )

    def checked(self) -> TrustSettings:
        """Itself, once each anchor file exists and holds a PEM certificate (ValueError)."""
        for path in (self.anchors, self.cawg_anchors):
            if path is not None:
                check_pem(path)
        return self

    def resolved(self, base: Path) -> TrustSettings:
        """The same settings with relative anchor paths taken from `base` (a spec's folder)."""
        update = {
            name: base / path
            for name in ("anchors", "cawg_anchors")
            if (path := getattr(self, name)) is not None and not path.is_absolute()
        }
        return self.model_copy(update=update)


def c2pa_settings(trust: TrustSettings | None) -> dict[str, Any]:
    """The c2pa Context settings for offline reading under `trust`.

    Trust is always verified (the SDK's default since 0.29), so that a valid manifest reads
    `Trusted` only when a given anchor vouches for it; OCSP and remote manifests are off.
    """
    settings: dict[str, Any] = {
        "verify": {"verify_trust": True, "ocsp_fetch": False, "remote_manifest_fetch": False},
    }
    if trust is not None and trust.anchors is not None:
        settings["trust"] = {"user_anchors": trust.anchors.read_text()}
    if trust is not None and trust.cawg_anchors is not None:
        settings["cawg_trust"] = {
            "verify_trust_list": True,
            "user_anchors": trust.cawg_anchors.read_text(),
        }
    return settings


def claim_state(raw: str | None, anchored: bool) -> State:
    """The claim signer's state from c2pa's validation_state ('Trusted', 'Valid', 'Invalid')."""
    value = (raw or "").strip().lower()
    if value == "trusted":
        # Only anchors the user gave may make a signer trusted.
        return "trusted" if anchored else "valid_untrusted"
    if value == "valid":
        return "valid_untrusted"
    return "invalid"


CAWG_TRUSTED = frozenset(
    {"cawg.identity.trusted", "cawg.x509.credential.trusted", "cawg.ica.credential_valid"}
)
CAWG_UNTRUSTED = frozenset(
    {"cawg.x509.credential.untrusted", "cawg.ica.untrusted_issuer", "cawg.identity.untrusted"}
)


def _codes(results: Mapping[str, Any] | None) -> dict[str, set[str]]:
    """Status codes of the active manifest by kind: success, informational, failure."""
    active = (results or {}).get("activeManifest") or {}
    return {
        kind: {str(entry.get("code", "")) for entry in active.get(kind) or []}
        for kind in ("success", "informational", "failure")
    }


def cawg_state(results: Mapping[str, Any] | None, manifest: Mapping[str, Any]) -> State:
    """The state of the manifest's CAWG identity assertions (`cawg.identity*` labels),
    from the `cawg.*` status codes c2pa reports for the active manifest.

    Any failing `cawg.*` code other than an untrusted credential makes it `invalid`; a
    trusted credential code makes it `trusted`; anything else that was checked is
    `valid_untrusted`. No identity assertion at all is `absent`; one that c2pa reported no
    `cawg.*` code for is `unreadable`.
    """
    labels = [str(a.get("label", "")) for a in manifest.get("assertions") or []]
    has_assertion = any(label.startswith("cawg.identity") for label in labels)
    codes = _codes(results)
    cawg = {kind: {c for c in found if c.startswith("cawg.")} for kind, found in codes.items()}
    if not any(cawg.values()):
        # An identity assertion nobody reported on was not validated: nothing can be said.
        return "unreadable" if has_assertion else "absent"
    if cawg["failure"] - CAWG_UNTRUSTED:
        return "invalid"
    if (cawg["success"] | cawg["informational"]) & CAWG_TRUSTED:
        return "trusted"
    return "valid_untrusted"


def trust_record(trust: TrustSettings | None, digest: Any) -> dict[str, str]:
    """What the score identity and run.json keep of the settings: anchors by content digest
    (`digest(path) -> str`), never by path, and the policy."""
    out: dict[str, str] = {"trust_policy": trust.policy if trust is not None else "any_valid"}
    if trust is not None and trust.anchors is not None:
        out["trust_anchors"] = digest(trust.anchors)
    if trust is not None and trust.cawg_anchors is not None:
        out["cawg_anchors"] = digest(trust.cawg_anchors)
    return out

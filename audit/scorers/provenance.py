"""C2PA provenance: is a signed manifest present, does it validate, does it declare AI origin.

Reads the ORIGINAL file bytes (`item.image_path`): a manifest lives in the file container,
so any decoded-and-re-encoded copy has lost it. States, from worst to best:

* `absent`  — no manifest store in the file;
* `invalid` — a manifest is there but fails validation (tampered pixels, broken signature,
  corrupt manifest);
* `valid`   — it validates, but its signer does not chain to an anchor the user supplied;
* `trusted` — it validates and the signing chain ends in one of the user's `trust_anchors`.

Reading is offline: OCSP and remote-manifest fetching are switched off.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from audit.environment import installed_versions
from audit.scorers.attacks import ATTACK_NAMES, attack_bytes, validate_attack_names
from audit.scorers.base import (
    ImageScorer,
    Metric,
    Requirement,
    ScoreItem,
    ScorerOptions,
    Value,
    package_requirement,
)
from audit.scorers.identity import file_digest

log = logging.getLogger(__name__)

State = Literal["absent", "invalid", "valid", "trusted"]
STATES: tuple[State, ...] = ("absent", "invalid", "valid", "trusted")

# IPTC digital source types that declare generative-AI output (last path segment).
AI_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"})


class C2paOptions(ScorerOptions):
    # The anchors' content is named by digest in `loads()`; their path changes no number.
    not_identity: ClassVar[frozenset[str]] = ScorerOptions.not_identity | {"trust_anchors"}

    trust_anchors: Path | None = Field(
        default=None, description="PEM file of root certificates you trust"
    )
    robustness: bool = False
    attacks: list[str] = Field(default_factory=lambda: list(ATTACK_NAMES))

    @field_validator("trust_anchors")
    @classmethod
    def _pem_file(cls, v: Path | None) -> Path | None:
        if v is None:
            return v
        if not v.is_file():
            raise ValueError(f"trust anchor file '{v}' does not exist")
        if b"-----BEGIN CERTIFICATE-----" not in v.read_bytes():
            raise ValueError(f"trust anchor file '{v}' holds no PEM certificate")
        return v

    @field_validator("attacks")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        return validate_attack_names(v)


def _last_segment(uri: Any) -> str:
    return str(uri).rstrip("/").rsplit("/", 1)[-1]


def declares_ai(manifest: dict[str, Any]) -> bool:
    """True if a c2pa.actions assertion of this manifest names a generative-AI source type."""
    for assertion in manifest.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            if _last_segment(action.get("digitalSourceType", "")) in AI_SOURCE_TYPES:
                return True
    return False


def claim_generator(manifest: dict[str, Any]) -> str | None:
    """The generator's name: claim_generator_info[0].name (v2), else the first product token
    of the v1 claim_generator string ("Name/1.0 c2pa-rs/0.25" -> "Name")."""
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict) and info[0].get("name"):
        return str(info[0]["name"])
    text = manifest.get("claim_generator")
    if isinstance(text, str) and text.strip():
        return text.split()[0].split("/")[0]
    return None


class C2paReading:
    """What one read of one file found; None fields mean 'could not tell'."""

    def __init__(
        self, state: State | None, ai: bool | None = None, generator: str | None = None
    ) -> None:
        self.state = state
        self.ai = ai
        self.generator = generator

    @property
    def present(self) -> bool | None:
        return None if self.state is None else self.state != "absent"

    @property
    def valid(self) -> bool | None:
        return None if self.state is None else self.state in ("valid", "trusted")


class C2paReader:
    """Reads manifests with fixed, offline settings; one native context for many files."""

    def __init__(self, trust_anchors_pem: str | None = None) -> None:
        import c2pa

        settings: dict[str, Any] = {
            "verify": {"ocsp_fetch": False, "remote_manifest_fetch": False},
        }
        if trust_anchors_pem:
            settings["trust"] = {"user_anchors": trust_anchors_pem}
            settings["verify"]["verify_trust"] = True
        self._anchored = bool(trust_anchors_pem)
        self._context = c2pa.Context.from_dict(settings)

    def close(self) -> None:
        self._context.close()

    def read(self, data: bytes, mime: str | None = None) -> C2paReading:
        import c2pa

        try:
            reader = c2pa.Reader.try_create(mime, io.BytesIO(data), None, self._context)
        except (c2pa.C2paError.NotSupported, c2pa.C2paError.Other, c2pa.C2paError.Io) as exc:
            # The asset itself could not be parsed: nothing can be said about provenance.
            log.warning("c2pa could not parse the image: %s", exc)
            return C2paReading(None)
        except c2pa.C2paError as exc:
            # A manifest store is there but cannot be decoded or verified.
            log.info("c2pa manifest unreadable: %s", exc)
            return C2paReading("invalid", ai=False)
        if reader is None:
            return C2paReading("absent", ai=False)
        with reader:
            raw = (reader.get_validation_state() or "").lower()
            manifest = reader.get_active_manifest() or {}
        if raw == "trusted":
            # Only the user's anchors may make a signer trusted.
            state: State = "trusted" if self._anchored else "valid"
        elif raw == "valid":
            state = "valid"
        else:
            state = "invalid"
        ai = state in ("valid", "trusted") and declares_ai(manifest)
        return C2paReading(state, ai=ai, generator=claim_generator(manifest))


def _flag(value: bool | None) -> Value:
    return None if value is None else float(value)


class C2paScorer(ImageScorer[C2paOptions]):
    """Presence, validity, trust and AI declaration of C2PA manifests in the image files."""

    name = "c2pa"
    version = "1"

    @classmethod
    def check(cls, options: ScorerOptions | None = None) -> list[Requirement]:
        return [package_requirement("c2pa", "c2pa-python>=0.10")]

    def loads(self) -> dict[str, str]:
        """The trust anchors' content (it decides `trusted`) and the validating c2pa version."""
        out = installed_versions(["c2pa-python"])
        anchors = self.options.trust_anchors
        if anchors is not None:
            out["trust_anchors"] = file_digest(anchors)
        return out

    def metrics(self) -> list[Metric]:
        out = [
            Metric("c2pa_present", "higher", "binary", "the file carries a C2PA manifest"),
            Metric(
                "c2pa_state",
                "none",
                "category",
                "absent / invalid / valid / trusted (trusted: chain ends in a user anchor)",
            ),
            Metric(
                "c2pa_ai_declared",
                "higher",
                "binary",
                "a valid manifest declares generative-AI origin (trainedAlgorithmicMedia)",
            ),
            Metric("c2pa_claim_generator", "none", "category", "software that made the claim"),
        ]
        if self.options.robustness:
            for attack in self.options.attacks:
                out.append(
                    Metric(
                        f"c2pa_present_{attack}",
                        "higher",
                        "binary",
                        f"a manifest is still in the file after attack '{attack}'",
                    )
                )
                out.append(
                    Metric(
                        f"c2pa_valid_{attack}",
                        "higher",
                        "binary",
                        f"a manifest still validates after attack '{attack}'",
                    )
                )
        return out

    def reads_pixels(self) -> bool:
        return self.options.robustness  # the manifest is in the bytes; attacks decode pixels

    def _reader(self) -> C2paReader:
        anchors = self.options.trust_anchors
        return C2paReader(anchors.read_text() if anchors is not None else None)

    def score_batch(self, items: Sequence[ScoreItem]) -> list[dict[str, Value]]:
        reader = self._reader()
        try:
            return [self._score_one(reader, item) for item in items]
        finally:
            reader.close()

    def _score_one(self, reader: C2paReader, item: ScoreItem) -> dict[str, Value]:
        data = Path(item.image_path).read_bytes()  # the original bytes, never a re-encode
        found = reader.read(data)
        row: dict[str, Value] = {
            "c2pa_present": _flag(found.present),
            "c2pa_state": found.state,
            "c2pa_ai_declared": _flag(found.ai),
            "c2pa_claim_generator": found.generator,
        }
        if self.options.robustness:
            for attack in self.options.attacks:
                if found.state is None:  # unreadable original: attacks say nothing either
                    after = C2paReading(None)
                else:
                    after = reader.read(attack_bytes(attack, data, item.key))
                row[f"c2pa_present_{attack}"] = _flag(after.present)
                row[f"c2pa_valid_{attack}"] = _flag(after.valid)
        return row

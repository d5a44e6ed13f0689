"""C2PA provenance and IPTC/XMP AI disclosure, read from the image file's own bytes.

Reads the ORIGINAL file bytes (`item.image_path`): a manifest and an XMP packet live in the
file container, so any decoded-and-re-encoded copy has lost them.

C2PA claim-signer states (`c2pa_state`) and CAWG identity states (`cawg_identity_state`) are
`audit.provenance.trust`'s: trusted / valid_untrusted / invalid / absent / unreadable; only
the anchors the user gives (`trust`) can make a signer trusted. Reading is offline: OCSP and
remote-manifest fetching are switched off.

AI disclosure comes from two places, reported apart and combined:

* `c2pa_ai_declared`: a valid manifest's `c2pa.actions` names a generative-AI
  digitalSourceType;
* `xmp_ai_disclosed`: the file's XMP carries `Iptc4xmpExt:DigitalSourceType` with such a term
  (`audit.provenance.xmp`; many generators and platforms write only this);
* `ai_disclosed`: either one (under policy `trusted_only`, the C2PA part counts only for a
  trusted manifest).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from audit.environment import installed_versions
from audit.provenance.trust import (
    STATES,
    State,
    TrustSettings,
    c2pa_settings,
    cawg_state,
    check_pem,
    claim_state,
    trust_record,
)
from audit.provenance.xmp import AI_SOURCE_TYPES, read_source_types
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

__all__ = ["AI_SOURCE_TYPES", "STATES", "C2paOptions", "C2paReader", "C2paScorer", "State"]


class C2paOptions(ScorerOptions):
    # The anchors' content and the policy are named in `loads()`; their paths change no number.
    not_identity: ClassVar[frozenset[str]] = ScorerOptions.not_identity | {
        "trust_anchors",
        "trust",
    }

    trust: TrustSettings | None = Field(
        default=None, description="anchors (PEM), cawg_anchors (PEM) and policy"
    )
    trust_anchors: Path | None = Field(
        default=None, description="PEM file of root certificates you trust (= trust.anchors)"
    )
    robustness: bool = False
    attacks: list[str] = Field(default_factory=lambda: list(ATTACK_NAMES))

    @field_validator("trust_anchors")
    @classmethod
    def _pem_file(cls, v: Path | None) -> Path | None:
        return None if v is None else check_pem(v)

    @field_validator("trust")
    @classmethod
    def _trust_files(cls, v: TrustSettings | None) -> TrustSettings | None:
        return None if v is None else v.checked()

    @field_validator("attacks")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        return validate_attack_names(v)

    @model_validator(mode="after")
    def _one_anchor_option(self) -> C2paOptions:
        if self.trust_anchors is not None and self.trust is not None:
            raise ValueError("give trust.anchors or trust_anchors, not both")
        return self

    @property
    def trust_settings(self) -> TrustSettings | None:
        if self.trust_anchors is not None:
            return TrustSettings(anchors=self.trust_anchors)
        return self.trust


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
    """What one read of one file found; `ai` and `generator` are None when not known."""

    def __init__(
        self,
        state: State,
        ai: bool | None = None,
        generator: str | None = None,
        cawg: State | None = None,
    ) -> None:
        self.state = state
        self.ai = ai
        self.generator = generator
        if cawg is None:  # no manifest (or no file to read): no identity assertion either
            cawg = "unreadable" if state == "unreadable" else "absent"
        self.cawg: State = cawg

    @property
    def present(self) -> bool | None:
        return None if self.state == "unreadable" else self.state != "absent"

    @property
    def valid(self) -> bool | None:
        return None if self.state == "unreadable" else self.state in ("valid_untrusted", "trusted")


class C2paReader:
    """Reads manifests with fixed, offline settings; one native context for many files."""

    def __init__(self, trust: TrustSettings | None = None) -> None:
        import c2pa

        self._anchored = trust is not None and trust.anchors is not None
        self._context = c2pa.Context.from_dict(c2pa_settings(trust))

    def close(self) -> None:
        self._context.close()

    def read(self, data: bytes, mime: str | None = None) -> C2paReading:
        import c2pa

        try:
            reader = c2pa.Reader.try_create(mime, io.BytesIO(data), None, self._context)
        except (c2pa.C2paError.NotSupported, c2pa.C2paError.Other, c2pa.C2paError.Io) as exc:
            # The asset itself could not be parsed: nothing can be said about provenance.
            log.warning("c2pa could not parse the image: %s", exc)
            return C2paReading("unreadable")
        except c2pa.C2paError as exc:
            # A manifest store is there but cannot be decoded or verified.
            log.info("c2pa manifest unreadable: %s", exc)
            return C2paReading("invalid", ai=False, cawg="unreadable")
        if reader is None:
            return C2paReading("absent", ai=False)
        with reader:
            raw = reader.get_validation_state()
            results = reader.get_validation_results()
            manifest = reader.get_active_manifest() or {}
        state = claim_state(raw, self._anchored)
        ai = state in ("valid_untrusted", "trusted") and declares_ai(manifest)
        return C2paReading(
            state, ai=ai, generator=claim_generator(manifest), cawg=cawg_state(results, manifest)
        )


def _flag(value: bool | None) -> Value:
    return None if value is None else float(value)


class C2paScorer(ImageScorer[C2paOptions]):
    """C2PA manifest state, CAWG identity state, XMP DigitalSourceType and AI disclosure."""

    name = "c2pa"
    version = "2"

    @classmethod
    def check(cls, options: ScorerOptions | None = None) -> list[Requirement]:
        return [package_requirement("c2pa", "c2pa-python>=0.29")]

    def loads(self) -> dict[str, str]:
        """The validating c2pa version and the trust settings: anchors by content digest
        (they decide `trusted`) and the policy. Recorded in run.json with the instance."""
        out = installed_versions(["c2pa-python"])
        out.update(trust_record(self.options.trust_settings, file_digest))
        return out

    def metrics(self) -> list[Metric]:
        states = " / ".join(STATES)
        out = [
            Metric("c2pa_present", "higher", "binary", "the file carries a C2PA manifest"),
            Metric(
                "c2pa_state",
                "none",
                "category",
                f"{states} (trusted: the signing chain ends in a given anchor)",
            ),
            Metric(
                "c2pa_trusted",
                "higher",
                "binary",
                "the manifest validates and its signer chains to a given trust anchor",
            ),
            Metric(
                "cawg_identity_state",
                "none",
                "category",
                f"CAWG identity assertion: {states}",
            ),
            Metric(
                "c2pa_ai_declared",
                "higher",
                "binary",
                "a valid manifest declares generative-AI origin (trainedAlgorithmicMedia)",
            ),
            Metric("c2pa_claim_generator", "none", "category", "software that made the claim"),
            Metric(
                "xmp_digital_source_type",
                "none",
                "category",
                "IPTC DigitalSourceType term(s) in the file's XMP, e.g. trainedAlgorithmicMedia",
            ),
            Metric(
                "xmp_ai_disclosed",
                "higher",
                "binary",
                "XMP DigitalSourceType is trainedAlgorithmicMedia or "
                "compositeWithTrainedAlgorithmicMedia",
            ),
            Metric(
                "ai_disclosed",
                "higher",
                "binary",
                "AI origin disclosed by C2PA (c2pa_ai_declared) or XMP (xmp_ai_disclosed)",
            ),
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

    def score_batch(self, items: Sequence[ScoreItem]) -> list[dict[str, Value]]:
        reader = C2paReader(self.options.trust_settings)
        try:
            return [self._score_one(reader, item) for item in items]
        finally:
            reader.close()

    def _disclosed(self, found: C2paReading, xmp_ai: bool) -> Value:
        trust = self.options.trust_settings
        c2pa_counts = bool(found.ai) and (
            trust is None or trust.policy == "any_valid" or found.state == "trusted"
        )
        if c2pa_counts or xmp_ai:
            return 1.0
        return None if found.state == "unreadable" else 0.0

    def _score_one(self, reader: C2paReader, item: ScoreItem) -> dict[str, Value]:
        data = Path(item.image_path).read_bytes()  # the original bytes, never a re-encode
        found = reader.read(data)
        terms = read_source_types(data)
        xmp_ai = any(t in AI_SOURCE_TYPES for t in terms)
        row: dict[str, Value] = {
            "c2pa_present": _flag(found.present),
            "c2pa_state": found.state,
            "c2pa_trusted": None
            if found.state == "unreadable"
            else float(found.state == "trusted"),
            "cawg_identity_state": found.cawg,
            "c2pa_ai_declared": _flag(found.ai),
            "c2pa_claim_generator": found.generator,
            "xmp_digital_source_type": ",".join(dict.fromkeys(terms)) or None,
            # A file nobody could parse: no XMP found says nothing either.
            "xmp_ai_disclosed": None
            if found.state == "unreadable" and not xmp_ai
            else float(xmp_ai),
            "ai_disclosed": self._disclosed(found, xmp_ai),
        }
        if self.options.robustness:
            for attack in self.options.attacks:
                if found.state == "unreadable":  # unreadable original: attacks say nothing
                    after = C2paReading("unreadable")
                else:
                    after = reader.read(attack_bytes(attack, data, item.key))
                row[f"c2pa_present_{attack}"] = _flag(after.present)
                row[f"c2pa_valid_{attack}"] = _flag(after.valid)
        return row

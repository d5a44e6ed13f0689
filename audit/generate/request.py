"""GenerationRequest: one image to make. Its key decides caching, resume and pairing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from audit.config import SweepSpec
from audit.prompts.model import Prompt, PromptSuite
from audit.vocab import request_row

KEY_VERSION = 1  # bump only if the key's recipe changes (it would orphan every cached image)


@dataclass(frozen=True)
class GenerationRequest:
    model_id: str
    model_source: str
    model_fingerprint: str  # identifies the weights, not just the name
    dtype: str
    sampler: str
    steps: int
    guidance: float
    width: int
    height: int
    seed: int
    suite: str
    prompt_id: str
    prompt: str
    negative_prompt: str
    category: str = "uncategorized"
    expect_json: str = "{}"  # the prompt's expectations, carried to the scorers
    # A generation-time watermark embedded in the initial noise: the canonical JSON of its
    # key (`audit.generate.treering.TreeRingKey.canonical`), or "" for none.
    watermark: str = ""

    @cached_property
    def key(self) -> str:
        # Everything that decides the pixels, plus the labels that make a ledger row unique.
        # The category and expectations are descriptive only and stay out of the key. An
        # unmarked request hashes as it did before watermarks existed, so its cached images
        # stay valid; a marked one hashes its watermark too.
        fields = asdict(self)
        fields.pop("category")
        fields.pop("expect_json")
        if not self.watermark:
            fields.pop("watermark")
        fields["key_version"] = KEY_VERSION
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def cell(self) -> tuple[str, str, int, float, int, int]:
        """The request's values of audit.vocab.CELL, in that order: images in one cell share
        a scheduler set-up and can be batched together."""
        return (self.model_id, self.sampler, self.steps, self.guidance, self.width, self.height)

    def ledger_row(self) -> dict[str, object]:
        """This request as a row of the ledger's `requests` table."""
        return request_row(
            key=self.key, model=self.model_id, source=self.model_source,
            fingerprint=self.model_fingerprint, dtype=self.dtype, sampler=self.sampler,
            steps=self.steps, guidance=self.guidance, width=self.width, height=self.height,
            seed=self.seed, suite=self.suite, prompt_id=self.prompt_id, prompt=self.prompt,
            negative=self.negative_prompt, category=self.category, expect_json=self.expect_json,
        )  # fmt: skip


def prompt_request_fields(prompt: Prompt, suite: PromptSuite, negative: str) -> dict[str, Any]:
    return {
        "suite": suite.name,
        "prompt_id": prompt.id,
        "prompt": prompt.text,
        "negative_prompt": prompt.negative if prompt.negative is not None else negative,
        "category": prompt.category,
        "expect_json": prompt.expect.model_dump_json(exclude_defaults=True),
    }


def expand(
    spec: SweepSpec,
    suites: Iterable[PromptSuite],
    fingerprints: dict[str, str],
    sizes: Mapping[str, tuple[int, int]],
) -> Iterator[GenerationRequest]:
    """Cross models x samplers x steps x guidance x seeds x prompts, in a stable order.

    The order groups by model then cell, so an executor changes models and schedulers rarely.
    `sizes` maps model id -> (width, height) (`audit.generate.native_size.model_sizes`).
    """
    suites = list(suites)
    for model in spec.models:
        width, height = sizes[model.id]
        watermark = watermark_of(spec, model.id)
        for sampler in spec.samplers:
            for steps in spec.steps:
                for guidance in spec.guidance:
                    for suite in suites:
                        for prompt in suite.prompts:
                            fields = prompt_request_fields(prompt, suite, spec.negative_prompt)
                            for seed in spec.seeds:
                                yield GenerationRequest(
                                    model_id=model.id,
                                    model_source=model.source,
                                    model_fingerprint=fingerprints[model.id],
                                    dtype=model.dtype,
                                    sampler=sampler,
                                    steps=steps,
                                    guidance=float(guidance),
                                    width=width,
                                    height=height,
                                    seed=seed,
                                    watermark=watermark,
                                    **fields,
                                )


def watermark_of(spec: SweepSpec, model_id: str) -> str:
    """The watermark a model's images carry under `provenance.watermark` ("" for none)."""
    from audit.generate.treering import TreeRingKey

    mark = spec.provenance.watermark
    if mark is None or (mark.models is not None and model_id not in mark.models):
        return ""
    return TreeRingKey.from_spec(mark).canonical()

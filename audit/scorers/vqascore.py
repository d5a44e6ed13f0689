"""VQAScore: the probability that a vision-language model answers "Yes" when asked whether the
image shows the prompt, and Soft-TIFA over a suite's own questions.

Definition (t2v_metrics, github.com/linzhiqiu/t2v_metrics, v3.1 at 6ecb74f; Lin et al.,
"Evaluating Text-to-Visual Generation with Image-to-Text Generation", ECCV 2024): the
question ``question_template.format(prompt)`` (default 'Does this figure show "{}"? Please
answer yes or no.', t2v_metrics' default) goes to the model with the image through the
processor's chat template with the generation prompt added; ``vqa_score`` is the probability
of ``answer_template`` (default "Yes") as the answer: the geometric mean over its tokens of
each token's probability given the image, the question and the answer tokens before it
(``exp(-mean cross-entropy)``, as t2v_metrics' CLIP-FlanT5 and LLaVA-1.5 models compute it;
its transformers models (Qwen-VL, Gemma 3) take the joint probability of the generated answer
positions to the same power). For a one-token answer such as "Yes" this is the softmax of the
next-token logits at the answer token, exactly as every t2v_metrics model computes it. The
answer's tokens are those of ``tokenizer.encode(answer, add_special_tokens=False)``.

Both templates are options, so they are part of the score's identity, with the model (a
directory by the digest of its files, a hub id by the revision of its cached files) and the
dtype.

Suites that carry questions (GenEval 2, TIFA, DPG-Bench, OneIG-Bench; `expect.questions`)
also get Soft-TIFA (`audit.scorers.soft_tifa`, GenEval 2's definitions): per question the
probability of its expected answer, ``soft_tifa_am`` and ``soft_tifa_gm`` per image, and the
per-question scores as JSON in ``vqa_questions``. Question dependencies (DSG, DPG-Bench) are
kept in the suite and not applied to these soft scores.

Any transformers image-text-to-text model loads (`AutoModelForImageTextToText`, safetensors
only, never remote code): a hub id, taken from the Hugging Face cache when offline, or a
directory written by `save_pretrained`. The default is GenEval 2's VQA model,
Qwen/Qwen3-VL-8B-Instruct.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator

from audit.environment import pick_device
from audit.errors import UserError
from audit.scorers import soft_tifa
from audit.scorers.base import (
    ImageScorer,
    Metric,
    Requirement,
    ScoreItem,
    ScorerOptions,
    Value,
)
from audit.scorers.clip_hf import HFClipSource, dir_digest

DEFAULT_MODEL = "Qwen/Qwen3-VL-8B-Instruct"
QUESTION_TEMPLATE = 'Does this figure show "{}"? Please answer yes or no.'
ANSWER_TEMPLATE = "Yes"
FIELD = "scorers.vqascore.model"


class VqaOptions(ScorerOptions):
    # A hub id (org/name) or a directory written by save_pretrained.
    model: str = DEFAULT_MODEL
    revision: str | None = None  # branch, tag or commit of a hub model
    question_template: str = QUESTION_TEMPLATE  # "{}" is replaced by the prompt
    answer_template: str = Field(default=ANSWER_TEMPLATE, min_length=1)
    questions: bool = True  # also score the suite's own questions (Soft-TIFA)
    question_suffix: str = soft_tifa.QUESTION_TEMPLATE  # "{}": a suite question
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    batch_size: int = Field(default=8, ge=1)  # sequences (image, question) per forward pass
    device: str | None = None

    @field_validator("question_template", "question_suffix", "answer_template")
    @classmethod
    def _formats(cls, value: str) -> str:
        try:
            value.format("x")
        except (IndexError, KeyError, ValueError) as exc:
            raise ValueError(
                f"{value!r} is not a template: {exc}; write {{}} where the text goes "
                "and double other braces ({{ }})"
            ) from None
        return value


class VlmSource(HFClipSource):
    """A transformers image-text-to-text model: a local directory or a hub id."""

    saved_what = "model, processor and safetensors weights"
    example_id = DEFAULT_MODEL
    download_patterns = ("*.json", "*.jinja", "*.txt", "*.model", "*.safetensors")
    give_directory = "save it with save_pretrained and give `model: DIR`"

    def config_problem(self, config: dict[str, Any], what: str) -> Requirement | None:
        if "vision_config" in config:
            return None
        return Requirement(
            f"{what}: model_type {config.get('model_type')!r} has no vision tower "
            "(no vision_config)",
            False,
            "give an image-text-to-text model (LLaVA, Qwen2-VL, Qwen3-VL, Gemma 3, "
            "PaliGemma, Idefics3, ...)",
        )

    def loads(self) -> dict[str, str]:
        path = self.path
        if path is not None:
            return {"vqa_model": "transformers-dir", "weights": dir_digest(path)}
        cached = self._cached("config.json")
        revision = cached.parent.name if cached is not None else (self.revision or "main")
        return {"vqa_model": self.value, "revision": revision}

    def load_vlm(self, device: str, dtype: str) -> tuple[Any, Any]:
        """(model, processor) in eval mode on `device`."""
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor
        from transformers.utils import logging

        logging.disable_progress_bar()
        lacking = [r for r in self.requirements() if not r.ok]
        if lacking:
            raise UserError(lacking[0].what, field=FIELD, fix=lacking[0].fix)
        source = str(self.path) if self.path is not None else self.value
        kwargs: dict[str, Any] = {"revision": self.revision, "trust_remote_code": False}
        try:
            model = AutoModelForImageTextToText.from_pretrained(
                source, dtype=getattr(torch, dtype), use_safetensors=True, **kwargs
            )
            processor = AutoProcessor.from_pretrained(source, **kwargs)
        except Exception as exc:  # not an image-text-to-text model, files missing, offline ...
            raise UserError(
                f"could not load {self.value!r} as an image-text-to-text model: "
                f"{type(exc).__name__}: {exc}",
                field=FIELD,
                fix=self.fix(),
            ) from None
        return model.to(device).eval(), processor


@dataclass(frozen=True)
class Ask:
    """One question to one image: its text, and the tokens whose probability is wanted."""

    image: Any
    text: str
    forced: tuple[int, ...] = ()  # answer tokens, each scored given the ones before it
    forms: tuple[int, ...] = ()  # first tokens of answer forms, next-token probabilities summed


class VqaModel:
    """A loaded image-text-to-text model asked many questions in batches.

    Each question is rendered with the processor's chat template (generation prompt added;
    a processor without one, such as PaliGemma's, gets the bare question), encoded with its
    image by the processor with right padding, and the answer tokens are placed right after
    each sequence's last token, so every real token keeps the position it has alone.
    """

    def __init__(self, model: Any, processor: Any, device: str) -> None:
        self.model, self.processor, self.device = model, processor, device
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.keep = "logits_to_keep" in inspect.signature(model.forward).parameters
        self.prefix_lm = getattr(model.config, "model_type", "") == "paligemma"

    def tokens(self, text: str) -> tuple[int, ...]:
        return tuple(self.tokenizer.encode(text, add_special_tokens=False))

    def prompt(self, question: str) -> str:
        if not getattr(self.processor, "chat_template", None):
            return question
        content = [{"type": "image"}, {"type": "text", "text": question}]
        messages = [{"role": "user", "content": content}]
        return str(
            self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        )

    def encode(self, texts: list[str], images: list[Any]) -> dict[str, Any]:
        """The processor's batch, right-padded; special tokens added as the processor's own
        apply_chat_template adds them (not when the template already starts with BOS)."""
        bos = getattr(self.tokenizer, "bos_token", None)
        add = not (bos and all(t.startswith(bos) for t in texts))
        before = self.tokenizer.padding_side
        self.tokenizer.padding_side = "right"
        try:
            return dict(
                self.processor(
                    text=texts,
                    images=[[im] for im in images],
                    padding=True,
                    add_special_tokens=add,
                    return_tensors="pt",
                )
            )
        finally:
            self.tokenizer.padding_side = before

    def ask(self, asks: Sequence[Ask]) -> list[float]:
        """Per ask: the geometric mean probability of its forced tokens, or the summed
        next-token probability of its forms' first tokens."""
        import torch

        if self.prefix_lm and any(len(a.forced) > 1 for a in asks):
            raise UserError(
                "PaliGemma attends both ways within the prompt, so only a one-token answer "
                "can be scored",
                field="scorers.vqascore.answer_template",
                fix="use a one-token answer such as Yes",
            )
        texts = [self.prompt(a.text) for a in asks]
        batch = self.encode(texts, [a.image for a in asks])
        ids, mask = batch.pop("input_ids"), batch.pop("attention_mask")
        lengths = [int(n) for n in mask.sum(1)]
        extra = [len(a.forced) for a in asks]
        width = max(n + k for n, k in zip(lengths, extra, strict=True))
        pad = self.tokenizer.pad_token_id or 0
        new_ids = torch.full((len(asks), width), pad, dtype=ids.dtype)
        new_mask = torch.zeros((len(asks), width), dtype=mask.dtype)
        # Per-token tensors beside input_ids (Gemma 3's token_type_ids, Qwen-VL's
        # mm_token_type_ids) grow with the answer tokens, which are text (type 0).
        per_token = {
            k: v
            for k, v in batch.items()
            if k.endswith("token_type_ids") and torch.is_tensor(v) and v.shape[:2] == ids.shape
        }
        grown = {k: v.new_zeros((len(asks), width, *v.shape[2:])) for k, v in per_token.items()}
        for i, (n, ask) in enumerate(zip(lengths, asks, strict=True)):
            new_ids[i, :n] = ids[i, :n]
            new_ids[i, n : n + len(ask.forced)] = torch.tensor(ask.forced, dtype=ids.dtype)
            new_mask[i, : n + len(ask.forced)] = 1
            for k, v in per_token.items():
                grown[k][i, :n] = v[i, :n]
        # Logits wanted: the prompt's last position and one per forced token but the last.
        count = max(max(extra), 1)
        positions = torch.tensor(
            [
                [n - 1 + min(j, max(k, 1) - 1) for j in range(count)]
                for n, k in zip(lengths, extra, strict=True)
            ]
        )
        inputs: dict[str, Any] = {
            **batch,
            **grown,
            "input_ids": new_ids,
            "attention_mask": new_mask,
        }
        dtype = self.model.dtype
        inputs = {
            k: (v.to(self.device, dtype) if torch.is_floating_point(v) else v.to(self.device))
            if torch.is_tensor(v)
            else v
            for k, v in inputs.items()
        }
        with torch.inference_mode():
            if self.keep:
                logits = self.model(**inputs, logits_to_keep=positions.to(self.device)).logits
            else:
                full = self.model(**inputs).logits
                index = positions.to(full.device)[..., None].expand(-1, -1, full.shape[-1])
                logits = full.gather(1, index)
            logp = torch.log_softmax(logits.float(), dim=-1).cpu()
        out = []
        for i, ask in enumerate(asks):
            if ask.forced:
                picked = logp[i, torch.arange(len(ask.forced)), torch.tensor(ask.forced)]
                out.append(float(picked.mean().exp()))
            else:
                forms = sorted(set(ask.forms))
                out.append(float(logp[i, 0, forms].exp().sum()))
        return out


class VqaScorer(ImageScorer[VqaOptions]):
    name = "vqascore"
    version = "1"
    offline = False  # the model's weights come from the hub or a directory the user gives

    def __init__(self, options: VqaOptions | None = None) -> None:
        super().__init__(options)
        self.batch_size = self.options.batch_size
        self.source = VlmSource(self.options.model, self.options.revision)
        self._vlm: VqaModel | None = None

    @classmethod
    def from_model(cls, model: Any, processor: Any, options: VqaOptions | None = None) -> VqaScorer:
        """A scorer around a model already loaded (benchmarks)."""
        scorer = cls(options)
        scorer._vlm = VqaModel(model, processor, str(next(model.parameters()).device))
        return scorer

    @classmethod
    def check(cls, options: ScorerOptions | None = None) -> list[Requirement]:
        opts = options if isinstance(options, VqaOptions) else VqaOptions()
        return VlmSource(opts.model, opts.revision).requirements()

    def metrics(self) -> list[Metric]:
        out = [
            Metric(
                "vqa_score",
                "higher",
                description="probability of the answer template ('Yes') to the question "
                "whether the image shows the prompt (t2v_metrics' VQAScore)",
            )
        ]
        if self.options.questions:
            out += [
                Metric(
                    "soft_tifa_am",
                    "higher",
                    description="mean over the prompt's questions of the probability of the "
                    "expected answer (GenEval 2's Soft-TIFA AM; atom-level)",
                ),
                Metric(
                    "soft_tifa_gm",
                    "higher",
                    description="geometric mean over the prompt's questions of the probability "
                    "of the expected answer (GenEval 2's Soft-TIFA GM; prompt-level)",
                ),
                Metric(
                    "vqa_questions",
                    "none",
                    "category",
                    "per-question soft scores as JSON, {question id: probability}",
                ),
            ]
        return out

    def loads(self) -> dict[str, str]:
        return self.source.loads()

    def _model(self) -> VqaModel:
        if self._vlm is None:
            device = pick_device(self.options.device or "auto")
            model, processor = self.source.load_vlm(device, self.options.dtype)
            self._vlm = VqaModel(model, processor, device)
        return self._vlm

    def score_batch(self, items: Sequence[ScoreItem]) -> list[dict[str, Value]]:
        vlm = self._model()
        opts = self.options
        asks: list[Ask] = []
        owners: list[tuple[int, str | None]] = []  # (item index, question id or None)
        for index, item in enumerate(items):
            image = item.image()
            answer = vlm.tokens(opts.answer_template.format(item.prompt_text))
            if not answer:
                raise UserError(
                    "the answer template encodes to no tokens",
                    field="scorers.vqascore.answer_template",
                    fix="give a non-empty answer such as Yes",
                )
            asks.append(Ask(image, opts.question_template.format(item.prompt_text), answer))
            owners.append((index, None))
            questions = getattr(item.expect, "questions", ()) if opts.questions else ()
            for q in questions:
                forms = [vlm.tokens(f) for f in soft_tifa.answer_forms(q.answer)]
                firsts = tuple(t[0] for t in forms if t)
                asks.append(Ask(image, opts.question_suffix.format(q.question), forms=firsts))
                owners.append((index, q.id))
        scores: list[float] = []
        for start in range(0, len(asks), self.batch_size):
            scores += vlm.ask(asks[start : start + self.batch_size])
        rows: list[dict[str, Value]] = [{} for _ in items]
        per_question: list[dict[str, float]] = [{} for _ in items]
        for (index, qid), score in zip(owners, scores, strict=True):
            if qid is None:
                rows[index]["vqa_score"] = score
            else:
                per_question[index][qid] = score
        for row, found in zip(rows, per_question, strict=True):
            if not opts.questions:
                continue
            values = list(found.values())
            row["soft_tifa_am"] = soft_tifa.arithmetic_mean(values)
            row["soft_tifa_gm"] = soft_tifa.geometric_mean(values)
            row["vqa_questions"] = json.dumps(found, sort_keys=False) if found else None
        return rows

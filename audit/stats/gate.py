"""The CI regression gate: does a candidate model do worse than a baseline?

Images pair on (prompt_id, seed, sampler, steps, guidance): the same prompt, seed and
settings under the two models. Each metric of the gate file gets one verdict:

* regressed    -- significantly worse by more than the metric's margin (Holm-adjusted
                  one-sided p < alpha); this and only this makes the exit code 1;
* improved     -- significantly better (Holm-adjusted one-sided p < alpha);
* pass         -- neither, and the interval of the effect rules out a shortfall beyond the
                  margin (its lower bound >= -margin);
* inconclusive -- neither, and the data cannot rule such a shortfall out (too few pairs, a
                  wide interval, a set-level metric without intervals); the note says why;
* skipped      -- the metric is in neither run and the gate file says `missing_metrics: skip`.

Statistics and sign conventions are in `audit.stats.compare`. Holm's correction runs over
the metrics that were tested, separately for the regression and the improvement p-values.

Directions: which way is better is declared once, by the scorer that emits a metric (the
frames' catalogue, from the ledger's metrics table; `audit.vocab.IMAGE_METRICS` for the
columns generation writes). A gate file says which metrics gate and by what margin; it may
give a `direction` only for a metric no catalogue declares (a column of an exported file),
and one that contradicts the declaration is an error.

The gate computes and returns a `GateResult`; `audit.report` writes it as JUnit or Markdown.

Missing metrics: a metric in neither run is an error (exit 2) unless the gate file sets
`missing_metrics: skip`; the shipped audit/gates/default.yaml does, because it lists metrics of
scorers a sweep may not run, while a metric someone wrote into their own gate file is one
they expect to be measured. A metric present in only one of the two runs is always an error:
skipping it would let a candidate hide a regression by not running a scorer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from audit.config import read_yaml
from audit.errors import EXIT_OK, EXIT_REGRESSION, UserError, error_from_validation
from audit.stats.columns import FramesLike, is_binary, numeric_column
from audit.stats.compare import (
    Comparison,
    compare_binary,
    compare_continuous,
    compare_set,
    holm,
)
from audit.vocab import DESCRIPTIVE, IMAGE_METRICS, PAIR_KEY, SETTINGS, Metric

DEFAULT_GATE_PATH = Path(__file__).resolve().parents[1] / "gates" / "default.yaml"

Verdict = Literal["pass", "regressed", "improved", "inconclusive", "skipped"]


class GateMetric(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    direction: Literal["higher", "lower"] | None = Field(
        None, description="only for a metric no scorer declares (e.g. a column of an export)"
    )
    margin: float = Field(0.0, ge=0.0, description="tolerated shortfall, in metric units")
    kind: Literal["auto", "binary", "continuous"] = "auto"
    test: Literal["auto", "mcnemar", "bootstrap", "wilcoxon"] = "auto"


class GateConfig(BaseModel):
    """A gate file (GATE.yaml)."""

    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(0.05, gt=0.0, lt=0.5)
    metrics: list[GateMetric] = Field(min_length=1)
    min_pairs: int = Field(10, ge=2, description="fewer pairs with values: inconclusive")
    missing_metrics: Literal["error", "skip"] = "error"
    allow_unpaired: bool = Field(
        False,
        description="compare the pairs the runs share instead of refusing runs whose "
        "suites, prompts, seeds or settings differ",
    )
    n_resamples: int = Field(4000, ge=100)
    seed: int = 0
    _source: str = PrivateAttr(default="gate file")

    @model_validator(mode="after")
    def _unique_names(self) -> GateConfig:
        names = [m.name for m in self.metrics]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"metric(s) listed twice: {', '.join(repeated)}")
        return self

    @property
    def source(self) -> str:
        return self._source


@dataclass
class MetricVerdict:
    name: str
    direction: str
    margin: float
    kind: str  # binary | continuous | set
    test: str
    verdict: Verdict
    n: int = 0
    base_mean: float = float("nan")
    cand_mean: float = float("nan")
    delta: float = float("nan")  # candidate - baseline, metric units
    effect: float = float("nan")  # delta signed so that > 0 means the candidate is better
    ci_low: float = float("nan")  # interval of effect, two-sided 1 - 2 alpha
    ci_high: float = float("nan")
    p_regress: float = float("nan")
    p_regress_adj: float = float("nan")
    p_improve: float = float("nan")
    p_improve_adj: float = float("nan")
    note: str = ""


@dataclass
class GateResult:
    verdicts: list[MetricVerdict]
    alpha: float
    n_pairs: int
    baseline: str
    candidate: str
    confidence: float
    notes: list[str] = field(default_factory=list)

    @property
    def regressed(self) -> list[MetricVerdict]:
        return [v for v in self.verdicts if v.verdict == "regressed"]

    @property
    def exit_code(self) -> int:
        return EXIT_REGRESSION if self.regressed else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["exit_code"] = self.exit_code
        return out


def load_gate_config(path: str | Path) -> GateConfig:
    """Read and validate a gate file; every problem is a UserError naming file and field."""
    path = Path(path)
    return parse_gate_config(read_yaml(path, what="gate file"), source=str(path))


def parse_gate_config(raw: Any, source: str = "gate file") -> GateConfig:
    if not isinstance(raw, Mapping):
        raise UserError(
            "a gate file is a mapping with `alpha` and `metrics`",
            file=source,
            field="(top level)",
            fix="see audit/gates/default.yaml for an example",
        )
    try:
        config = GateConfig.model_validate(dict(raw))
    except ValidationError as exc:
        raise error_from_validation(
            exc,
            file=source,
            fix="fields: alpha, metrics[name, margin, kind, test, direction], min_pairs, "
            "missing_metrics, allow_unpaired, n_resamples, seed",
        ) from None
    config._source = source
    return config


def run_gate(
    baseline: FramesLike,
    candidate: FramesLike,
    gate_config: GateConfig | Mapping[str, Any],
    *,
    baseline_model: str | None = None,
    candidate_model: str | None = None,
) -> GateResult:
    """Compare candidate against baseline metric by metric (see the module docstring)."""
    config = gate_config if isinstance(gate_config, GateConfig) else parse_gate_config(gate_config)
    base_images = _one_model(baseline.images, baseline_model, "baseline")
    cand_images = _one_model(candidate.images, candidate_model, "candidate")
    base_name, cand_name = str(base_images["model"].iat[0]), str(cand_images["model"].iat[0])
    notes: list[str] = []
    pairs = pair_images(base_images, cand_images, config.allow_unpaired, notes)

    verdicts: list[MetricVerdict] = []
    tested: list[tuple[MetricVerdict, float]] = []  # verdict to fill, margin
    for index, gm in enumerate(config.metrics):
        measured = _measured_as(
            gm.name, index, (baseline, base_images), (candidate, cand_images), config
        )
        if measured is None:
            direction = _declared_direction(gm, (baseline, candidate)) or "none"
            note = "in neither run (missing_metrics: skip)"
            verdicts.append(
                MetricVerdict(gm.name, direction, gm.margin, "-", "-", "skipped", note=note)
            )
            continue
        direction = _direction(gm, index, baseline, candidate, config.source)
        if measured == "image":
            verdict, comparison = _image_metric(gm, direction, index, pairs, baseline, config)
        else:
            verdict, comparison = _set_metric(
                gm, direction, baseline.sets, candidate.sets, base_name, cand_name, config
            )
        verdicts.append(verdict)
        if comparison is not None:
            _fill(verdict, comparison)
            tested.append((verdict, gm.margin))

    _decide(tested, config.alpha)
    return GateResult(
        verdicts=verdicts,
        alpha=config.alpha,
        n_pairs=len(pairs),
        baseline=base_name,
        candidate=cand_name,
        confidence=1.0 - 2.0 * config.alpha,
        notes=notes,
    )


# --- pairing ---------------------------------------------------------------------------


def pair_images(
    base: pd.DataFrame, cand: pd.DataFrame, allow_unpaired: bool, notes: list[str]
) -> pd.DataFrame:
    """Baseline and candidate rows side by side (columns suffixed _base and _cand)."""
    for side, frame in (("baseline", base), ("candidate", cand)):
        missing = [c for c in (*PAIR_KEY, "prompt") if c not in frame.columns]
        if missing:
            raise UserError(
                f"the {side} images frame lacks column(s) {', '.join(missing)}",
                fix="pass a run directory or an export written by `t2i-audit export`",
            )
    base, cand = _normalised_keys(base), _normalised_keys(cand)
    _check_prompts(base, cand)
    if not allow_unpaired:
        _check_suites(base, cand)
    for side, frame in (("baseline", base), ("candidate", cand)):
        dup = frame.duplicated(list(PAIR_KEY), keep=False)
        if dup.any():
            example = frame.loc[dup, list(PAIR_KEY)].iloc[0].to_dict()
            raise UserError(
                f"the {side} has {int(dup.sum())} images sharing a (prompt_id, seed, sampler, "
                f"steps, guidance), e.g. {example}: pairs would be ambiguous",
                fix="gate one run per side, generated at one image size",
            )
    pairs = base.merge(cand, on=list(PAIR_KEY), how="inner", suffixes=("_base", "_cand"))
    n_base, n_cand = len(base) - len(pairs), len(cand) - len(pairs)
    if len(pairs) == 0:
        raise UserError(
            "the baseline and the candidate share no (prompt_id, seed, sampler, steps, "
            "guidance): nothing to pair. " + _difference(base, cand),
            fix="generate the candidate with the baseline's suite, seeds and settings",
        )
    if n_base or n_cand:
        if not allow_unpaired:
            raise UserError(
                f"{n_base} baseline and {n_cand} candidate images have no partner. "
                + _difference(base, cand),
                fix="generate the candidate with the baseline's suite, seeds and settings, "
                "or set `allow_unpaired: true` in the gate file to compare the shared pairs",
            )
        notes.append(
            f"compared the {len(pairs)} shared pairs; dropped {n_base} baseline and "
            f"{n_cand} candidate images without a partner (allow_unpaired)"
        )
    return pairs


def _normalised_keys(frame: pd.DataFrame) -> pd.DataFrame:
    # Keys come from YAML, SQLite, CSV or parquet: make equal values compare equal.
    out = frame.copy()
    out["prompt_id"] = out["prompt_id"].astype(str)
    out["sampler"] = out["sampler"].astype(str)
    out["seed"] = pd.to_numeric(out["seed"]).astype("int64")
    out["steps"] = pd.to_numeric(out["steps"]).astype("int64")
    out["guidance"] = pd.to_numeric(out["guidance"]).astype("float64").round(6)
    return out


def _check_prompts(base: pd.DataFrame, cand: pd.DataFrame) -> None:
    texts = (
        base[["prompt_id", "prompt"]]
        .drop_duplicates("prompt_id")
        .merge(cand[["prompt_id", "prompt"]].drop_duplicates("prompt_id"), on="prompt_id")
    )
    differ = texts.loc[texts["prompt_x"] != texts["prompt_y"], "prompt_id"].tolist()
    if differ:
        raise UserError(
            f"{len(differ)} prompt id(s) name different prompt texts in the two runs: "
            f"{_some(differ)}",
            fix="the runs used different versions of the suite: regenerate with one version",
        )


def _check_suites(base: pd.DataFrame, cand: pd.DataFrame) -> None:
    if "suite" not in base.columns or "suite" not in cand.columns:
        return
    b = set(base["suite"].dropna().astype(str))
    c = set(cand["suite"].dropna().astype(str))
    if b != c:
        raise UserError(
            f"the runs used different prompt suites: baseline {_some(sorted(b))}, "
            f"candidate {_some(sorted(c))}",
            fix="generate the candidate with the baseline's suite, or set "
            "`allow_unpaired: true` in the gate file to compare the prompts they share",
        )


def _difference(base: pd.DataFrame, cand: pd.DataFrame) -> str:
    parts = []
    for label, cols in (
        ("prompt ids", ["prompt_id"]),
        ("seeds", ["seed"]),
        ("settings (sampler, steps, guidance)", list(SETTINGS)),
    ):
        b = set(base[cols].itertuples(index=False, name=None))
        c = set(cand[cols].itertuples(index=False, name=None))
        flat = lambda s: [x[0] if len(x) == 1 else x for x in sorted(s)]  # noqa: E731
        if b - c:
            parts.append(f"{label} only in the baseline: {_some(flat(b - c))}")
        if c - b:
            parts.append(f"{label} only in the candidate: {_some(flat(c - b))}")
    return "; ".join(parts) + "." if parts else ""


def _one_model(images: pd.DataFrame, requested: str | None, side: str) -> pd.DataFrame:
    if images.empty:
        raise UserError(f"the {side} has no images", fix=f"check the {side} path")
    models = sorted(images["model"].astype(str).unique())
    if requested is not None:
        if requested not in models:
            raise UserError(
                f"the {side} has no model '{requested}'",
                fix=f"choose one of: {', '.join(models)}",
            )
        return images[images["model"].astype(str) == requested].reset_index(drop=True)
    if len(models) > 1:
        raise UserError(
            f"the {side} holds {len(models)} models ({', '.join(models)}); the gate compares one",
            fix=f"name the {side} model (e.g. --{side}-model {models[0]})",
        )
    return images.reset_index(drop=True)


# --- metrics ---------------------------------------------------------------------------


Measured = Literal["image", "set"]


def _locate(name: str, frames: FramesLike, images: pd.DataFrame) -> Measured | None:
    if name in images.columns and name not in DESCRIPTIVE:
        return "image"
    sets = frames.sets
    if sets is not None and not sets.empty and name in set(sets["metric"].astype(str)):
        return "set"
    return None


def _known_metrics(frames: FramesLike, images: pd.DataFrame) -> set[str]:
    names = {c for c in images.columns if c not in DESCRIPTIVE}
    if frames.sets is not None and not frames.sets.empty:
        names |= set(frames.sets["metric"].astype(str))
    return names


def _measured_as(
    name: str,
    index: int,
    base: tuple[FramesLike, pd.DataFrame],
    cand: tuple[FramesLike, pd.DataFrame],
    config: GateConfig,
) -> Measured | None:
    """Where both runs measure `name`: per image or per set; None when neither run has it
    and the gate file skips such metrics. Every other case is a UserError with its fix."""
    where = f"metrics.{index}.name"
    src_base, src_cand = _locate(name, *base), _locate(name, *cand)
    if src_base is None and src_cand is None:
        if config.missing_metrics == "skip":
            return None
        known = sorted(_known_metrics(*base) | _known_metrics(*cand))
        raise UserError(
            f"metric '{name}' is in neither run",
            file=config.source,
            field=where,
            fix=f"use a metric the runs have ({', '.join(known) or 'none'}), remove it, "
            "or set `missing_metrics: skip`",
        )
    if src_base is None or src_cand is None:
        lacking = "baseline" if src_base is None else "candidate"
        raise UserError(
            f"metric '{name}' is in only one run: the {lacking} lacks it",
            file=config.source,
            field=where,
            fix=f"score the {lacking} run with the scorer that emits '{name}', "
            "or remove the metric from the gate file",
        )
    if src_base != src_cand:
        raise UserError(
            f"metric '{name}' is per-image in one run and set-level in the other",
            file=config.source,
            field=where,
            fix="compare runs scored by the same scorer version",
        )
    return src_base


def _declaration(frames: FramesLike, name: str) -> Metric | None:
    """How the run's scorers declared `name` (catalogue first, then generation's columns)."""
    known = (frames.catalog or {}).get(name)
    return known if known is not None else IMAGE_METRICS.get(name)


def _declared_direction(gm: GateMetric, runs: tuple[FramesLike, ...]) -> str | None:
    """The declared direction, else the gate file's; for metrics that are not tested."""
    for frames in runs:
        known = _declaration(frames, gm.name)
        if known is not None and known.direction in ("higher", "lower"):
            return str(known.direction)
    return gm.direction


def _direction(
    gm: GateMetric, index: int, baseline: FramesLike, candidate: FramesLike, source: str
) -> str:
    """Which way is better for a tested metric: its scorer's declaration; the gate file's
    `direction` only where no scorer declares one (a column of an exported file)."""
    field = f"metrics.{index}.direction"
    declared = {
        str(known.direction)
        for frames in (baseline, candidate)
        if (known := _declaration(frames, gm.name)) is not None
    }
    if len(declared) > 1:
        raise UserError(
            f"the two runs' scorers declare different directions for '{gm.name}' "
            f"({', '.join(sorted(declared))})",
            file=source,
            field=f"metrics.{index}.name",
            fix="score both runs with the same scorer version",
        )
    if declared:
        (direction,) = declared
        if direction not in ("higher", "lower"):
            raise UserError(
                f"the scorer of '{gm.name}' declares no better direction: it cannot be gated",
                file=source,
                field=f"metrics.{index}.name",
                fix="remove the metric from the gate file, or gate a metric with a direction",
            )
        if gm.direction is not None and gm.direction != direction:
            raise UserError(
                f"the gate says '{gm.direction}' is better for '{gm.name}', its scorer "
                f"declares '{direction}'",
                file=source,
                field=field,
                fix="remove `direction` from this metric: its scorer declares it",
            )
        return direction
    if gm.direction is None:
        raise UserError(
            f"no scorer declares which way is better for '{gm.name}' (neither run's metric "
            "catalogue has it, as with a column of an exported file)",
            file=source,
            field=field,
            fix="add `direction: higher` or `direction: lower` to this metric, or gate run "
            "directories, whose ledgers declare their metrics",
        )
    return gm.direction


def _image_metric(
    gm: GateMetric,
    direction: str,
    index: int,
    pairs: pd.DataFrame,
    baseline: FramesLike,
    config: GateConfig,
) -> tuple[MetricVerdict, Comparison | None]:
    where = f"metrics.{index}"
    b_col = numeric_column(pairs[f"{gm.name}_base"])
    c_col = numeric_column(pairs[f"{gm.name}_cand"])
    if b_col is None or c_col is None:
        raise UserError(
            f"metric '{gm.name}' is not numeric (a category metric cannot be gated)",
            file=config.source,
            field=f"{where}.name",
            fix="gate a numeric metric, e.g. a rate derived from it",
        )
    b, c = b_col.to_numpy(), c_col.to_numpy()
    known = _declaration(baseline, gm.name)
    values = np.concatenate([b, c])
    binary_values = is_binary(values)
    if gm.kind == "auto":
        kind = str(known.kind) if known is not None and known.kind != "category" else None
        kind = kind or ("binary" if binary_values else "continuous")
    else:
        kind = gm.kind
    if kind == "binary" and not binary_values and not np.isnan(values).all():
        raise UserError(
            f"metric '{gm.name}' is declared binary but has values other than 0 and 1",
            file=config.source,
            field=f"{where}.kind",
            fix="set kind: continuous (or auto)",
        )
    test = gm.test if gm.test != "auto" else ("mcnemar" if kind == "binary" else "bootstrap")
    if test == "mcnemar" and kind != "binary":
        raise UserError(
            f"McNemar's test needs a binary metric; '{gm.name}' is continuous",
            file=config.source,
            field=f"{where}.test",
            fix="use test: bootstrap or wilcoxon (or auto)",
        )
    ok = ~(np.isnan(b) | np.isnan(c))
    n = int(ok.sum())
    verdict = MetricVerdict(gm.name, direction, gm.margin, kind, test, "inconclusive", n=n)
    if n < config.min_pairs:
        verdict.note = f"only {n} pair(s) with values (min_pairs {config.min_pairs})"
        if n:
            verdict.base_mean, verdict.cand_mean = float(b[ok].mean()), float(c[ok].mean())
        return verdict, None
    sign = 1.0 if direction == "higher" else -1.0
    if test == "mcnemar":
        return verdict, compare_binary(b[ok], c[ok], sign, gm.margin, config.alpha)
    comparison = compare_continuous(
        b[ok], c[ok], sign, gm.margin, config.alpha, test, config.n_resamples, config.seed
    )
    return verdict, comparison


def _set_metric(
    gm: GateMetric,
    direction: str,
    base_sets: pd.DataFrame,
    cand_sets: pd.DataFrame,
    base_model: str,
    cand_model: str,
    config: GateConfig,
) -> tuple[MetricVerdict, Comparison | None]:
    """Cell-level values (FID) use the scorers' intervals; per-prompt values (diversity
    across seeds) pair on (cell, prompt) and go through the paired continuous test."""
    verdict = MetricVerdict(gm.name, direction, gm.margin, "set", "set-normal", "inconclusive")
    keys = [c for c in (*SETTINGS, "width", "height") if c in base_sets and c in cand_sets]
    merged = _set_rows_of(base_sets, gm.name, base_model).merge(
        _set_rows_of(cand_sets, gm.name, cand_model),
        on=[*keys, "prompt_id"],
        suffixes=("_base", "_cand"),
    )
    verdict.n = len(merged)
    if merged.empty:
        verdict.note = "no cell has this set-level metric in both runs"
        return verdict, None
    differ = merged["label_base"] != merged["label_cand"]
    if differ.any():
        first = merged[differ].iloc[0]
        raise UserError(
            f"'{gm.name}' was measured differently in the two runs: "
            f"'{first['label_base']}' vs '{first['label_cand']}'",
            file=config.source,
            field="metrics",
            fix="score both runs against the same reference with the same extractor",
        )
    b = merged["value_base"].to_numpy(dtype=np.float64)
    c = merged["value_cand"].to_numpy(dtype=np.float64)
    verdict.base_mean, verdict.cand_mean = float(b.mean()), float(c.mean())
    sign = 1.0 if direction == "higher" else -1.0
    if (merged["prompt_id"] != "").any():
        if gm.test == "mcnemar":
            raise UserError(
                f"McNemar's test needs a binary metric; '{gm.name}' is continuous",
                file=config.source,
                field="metrics",
                fix="use test: bootstrap or wilcoxon (or auto)",
            )
        verdict.test = "wilcoxon" if gm.test == "wilcoxon" else "bootstrap"
        if len(merged) < config.min_pairs:
            verdict.note = (
                f"only {len(merged)} (cell, prompt) pair(s) (min_pairs {config.min_pairs})"
            )
            return verdict, None
        test = verdict.test
        return verdict, compare_continuous(
            b, c, sign, gm.margin, config.alpha, test, config.n_resamples, config.seed
        )
    if np.array_equal(b, c):
        # The same measurement on both sides (e.g. a run gated against itself): no spread.
        same = compare_set(b, b, b, c, c, c, sign, gm.margin, config.alpha)
        return verdict, replace(same, detail="identical values in both runs")
    bounds = merged[["ci_low_base", "ci_high_base", "ci_low_cand", "ci_high_cand"]]
    if bounds.isna().any().any():
        verdict.note = "the set-level scorer reported no interval: cannot test the difference"
        return verdict, None
    return verdict, compare_set(
        b,
        bounds["ci_low_base"].to_numpy(dtype=np.float64),
        bounds["ci_high_base"].to_numpy(dtype=np.float64),
        c,
        bounds["ci_low_cand"].to_numpy(dtype=np.float64),
        bounds["ci_high_cand"].to_numpy(dtype=np.float64),
        sign,
        gm.margin,
        config.alpha,
    )


def _set_rows_of(sets: pd.DataFrame, metric: str, model: str) -> pd.DataFrame:
    picked = sets[(sets["metric"].astype(str) == metric) & (sets["model"].astype(str) == model)]
    out = _normalised_settings(picked)
    for column in ("prompt_id", "label"):
        out[column] = out[column].fillna("").astype(str) if column in out.columns else ""
    for column in ("value", "ci_low", "ci_high"):
        values = out[column] if column in out.columns else np.nan
        out[column] = pd.to_numeric(values, errors="coerce")
    return out.dropna(subset=["value"])


def _normalised_settings(sets: pd.DataFrame) -> pd.DataFrame:
    out = sets.copy()
    out["sampler"] = out["sampler"].astype(str)
    out["steps"] = pd.to_numeric(out["steps"]).astype("int64")
    out["guidance"] = pd.to_numeric(out["guidance"]).astype("float64").round(6)
    return out


def _fill(verdict: MetricVerdict, c: Comparison) -> None:
    verdict.test = c.test
    verdict.n = c.n
    verdict.base_mean, verdict.cand_mean = c.base_mean, c.cand_mean
    verdict.delta, verdict.effect = c.delta, c.effect
    verdict.ci_low, verdict.ci_high = c.ci_low, c.ci_high
    verdict.p_regress, verdict.p_improve = c.p_regress, c.p_improve
    verdict.note = c.detail


def _decide(tested: list[tuple[MetricVerdict, float]], alpha: float) -> None:
    if not tested:
        return
    p_reg = holm(np.array([v.p_regress for v, _ in tested]))
    p_imp = holm(np.array([v.p_improve for v, _ in tested]))
    for (v, margin), pr, pi in zip(tested, p_reg, p_imp, strict=True):
        v.p_regress_adj, v.p_improve_adj = float(pr), float(pi)
        if pr < alpha:
            v.verdict = "regressed"
        elif pi < alpha:
            v.verdict = "improved"
        elif v.ci_low >= -margin:
            v.verdict = "pass"
        else:
            v.verdict = "inconclusive"
            v.note = (
                f"the interval [{v.ci_low:.4g}, {v.ci_high:.4g}] reaches below "
                f"{-margin if margin else 0:g} (minus the margin): a shortfall beyond the "
                "margin is not ruled out; more pairs would decide. " + v.note
            )


def _some(items: list[Any], limit: int = 5) -> str:
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")

"""The gate end to end: config, pairing, verdicts, exit codes, bad input."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit.errors import EXIT_OK, EXIT_REGRESSION, UserError
from audit.stats.compare import compare_binary, compare_continuous
from audit.stats.gate import (
    DEFAULT_GATE_PATH,
    GateConfig,
    load_gate_config,
    parse_gate_config,
    run_gate,
)
from audit.vocab import PAIR_KEY, Metric
from tests.synthetic import SyntheticFrames, synthetic_frames

KEY = list(PAIR_KEY)


def _pair(
    quality: float, n_prompts: int = 60, seed: int = 0
) -> tuple[SyntheticFrames, SyntheticFrames]:
    both = synthetic_frames(
        models=("base", "cand"),
        n_prompts=n_prompts,
        seeds=(0, 1, 2),
        quality={"cand": quality},
        seed=seed,
    )
    return _only(both, "base"), _only(both, "cand")


def _only(frames: SyntheticFrames, model: str) -> SyntheticFrames:
    images = frames.images[frames.images["model"] == model].reset_index(drop=True)
    sets = frames.sets[frames.sets["model"] == model].reset_index(drop=True)
    return dataclasses.replace(frames, images=images, sets=sets)


def _with_images(frames: SyntheticFrames, images: pd.DataFrame) -> SyntheticFrames:
    return dataclasses.replace(frames, images=images.reset_index(drop=True))


def _gate(*metrics: dict, **extra) -> GateConfig:  # type: ignore[type-arg,no-untyped-def]
    return parse_gate_config({"metrics": list(metrics), **extra})


CLIP = {"name": "clip_score", "margin": 0.25}  # its scorer declares higher is better


def _verdict(result, name):  # type: ignore[no-untyped-def]
    return next(v for v in result.verdicts if v.name == name)


def test_default_gate_file_loads() -> None:
    config = load_gate_config(DEFAULT_GATE_PATH)
    names = {m.name: m for m in config.metrics}
    assert {"clip_score", "ocr_exact", "count_correct", "toy_count_correct", "nsfw_flag"} <= set(
        names
    )
    # Directions come from the scorers' declarations, never from the shipped gate file.
    assert all(m.direction is None for m in config.metrics)
    base, cand = _pair(quality=0.0)
    verdicts = {v.name: v for v in run_gate(base, cand, config).verdicts}
    assert verdicts["nsfw_flag"].direction == "lower" and verdicts["brisque"].direction == "lower"
    assert verdicts["nan_or_black"].direction == "lower"  # declared by generation itself
    assert verdicts["clip_score"].direction == "higher"
    assert config.missing_metrics == "skip" and config.alpha == 0.05


def test_a_clear_regression_fails_the_gate() -> None:
    base, cand = _pair(quality=-1.5)
    result = run_gate(base, cand, load_gate_config(DEFAULT_GATE_PATH))
    clip = _verdict(result, "clip_score")
    assert clip.verdict == "regressed" and clip.effect < -0.5
    assert clip.p_regress_adj >= clip.p_regress
    assert result.exit_code == EXIT_REGRESSION
    assert _verdict(result, "toy_count_correct").verdict == "skipped"
    assert result.baseline == "base" and result.candidate == "cand"


def test_an_improvement_passes_the_gate() -> None:
    base, cand = _pair(quality=+1.5)
    result = run_gate(base, cand, _gate(CLIP))
    assert _verdict(result, "clip_score").verdict == "improved"
    assert result.exit_code == EXIT_OK


def test_identical_runs_pass_every_metric() -> None:
    base, _ = _pair(quality=0.0)
    renamed = _with_images(base, base.images.assign(model="same-weights"))
    renamed = dataclasses.replace(renamed, sets=base.sets.assign(model="same-weights"))
    result = run_gate(base, renamed, load_gate_config(DEFAULT_GATE_PATH))
    tested = [v for v in result.verdicts if v.verdict != "skipped"]
    assert len(tested) >= 7
    assert all(v.verdict == "pass" for v in tested), [(v.name, v.verdict) for v in tested]
    assert result.exit_code == EXIT_OK


def test_verdict_uses_the_paired_statistics() -> None:
    base, cand = _pair(quality=-0.4, seed=5)
    config = _gate(CLIP, {"name": "count_correct"})
    result = run_gate(base, cand, config)
    merged = base.images.merge(cand.images, on=KEY, suffixes=("_b", "_c"))
    ref = compare_continuous(
        merged["clip_score_b"].to_numpy(),
        merged["clip_score_c"].to_numpy(),
        1.0,
        0.25,
        0.05,
        "bootstrap",
        config.n_resamples,
        config.seed,
    )
    clip = _verdict(result, "clip_score")
    assert (clip.effect, clip.ci_low, clip.ci_high, clip.n) == pytest.approx(
        (ref.effect, ref.ci_low, ref.ci_high, ref.n)
    )
    counted = merged.dropna(subset=["count_correct_b", "count_correct_c"])
    ref_b = compare_binary(
        counted["count_correct_b"].to_numpy(),
        counted["count_correct_c"].to_numpy(),
        1.0,
        0.0,
        0.05,
    )
    count = _verdict(result, "count_correct")
    assert count.test == "mcnemar" and count.n == len(counted) == 240
    assert count.p_regress == pytest.approx(ref_b.p_regress)
    # Holm over two metrics: the smaller p doubles.
    ps = sorted([clip.p_regress, count.p_regress])
    assert min(clip.p_regress_adj, count.p_regress_adj) == pytest.approx(min(1.0, 2 * ps[0]))


def test_metric_absent_from_both_runs() -> None:
    base, cand = _pair(quality=0.0)
    skipping = _gate(
        CLIP, {"name": "geneval_overall", "direction": "higher"}, missing_metrics="skip"
    )
    assert _verdict(run_gate(base, cand, skipping), "geneval_overall").verdict == "skipped"
    strict = _gate(CLIP, {"name": "geneval_overall", "direction": "higher"})
    with pytest.raises(UserError) as err:
        run_gate(base, cand, strict)
    assert "geneval_overall" in str(err.value) and "metrics.1.name" in str(err.value)
    assert "clip_score" in str(err.value)  # the fix lists what the runs do have


def test_metric_in_only_one_run_is_an_error_even_when_skipping() -> None:
    base, cand = _pair(quality=0.0)
    cand = _with_images(cand, cand.images.drop(columns=["brisque"]))
    config = _gate(CLIP, {"name": "brisque"}, missing_metrics="skip")
    with pytest.raises(UserError, match="candidate lacks"):
        run_gate(base, cand, config)


def test_pairing_problems_are_named() -> None:
    base, cand = _pair(quality=0.0)
    other_seeds = _with_images(cand, cand.images.assign(seed=cand.images["seed"] + 100))
    with pytest.raises(UserError, match="share no") as err:
        run_gate(base, other_seeds, _gate(CLIP))
    assert "seeds only in the baseline: 0, 1, 2" in str(err.value)

    other_suite = _with_images(cand, cand.images.assign(suite="drawbench"))
    with pytest.raises(UserError, match="different prompt suites") as err:
        run_gate(base, other_suite, _gate(CLIP))
    assert "drawbench" in str(err.value) and "synthetic" in str(err.value)

    edited = cand.images.copy()
    edited.loc[edited["prompt_id"] == "p007", "prompt"] = "something else"
    with pytest.raises(UserError, match="p007"):
        run_gate(base, _with_images(cand, edited), _gate(CLIP))

    fewer = _with_images(cand, cand.images[~cand.images["prompt_id"].isin(["p003", "p004"])])
    with pytest.raises(UserError) as err:
        run_gate(base, fewer, _gate(CLIP))
    assert "prompt ids only in the baseline: p003, p004" in str(err.value)
    result = run_gate(base, fewer, _gate(CLIP, allow_unpaired=True))
    assert result.n_pairs == len(fewer.images) and "dropped" in result.notes[0]

    doubled = _with_images(cand, pd.concat([cand.images, cand.images.head(1)]))
    with pytest.raises(UserError, match="ambiguous"):
        run_gate(base, doubled, _gate(CLIP))


def test_several_models_need_a_choice() -> None:
    both = synthetic_frames(models=("a", "b"), n_prompts=12)
    with pytest.raises(UserError, match="holds 2 models"):
        run_gate(both, both, _gate(CLIP))
    result = run_gate(both, both, _gate(CLIP), baseline_model="a", candidate_model="b")
    assert (result.baseline, result.candidate) == ("a", "b")
    with pytest.raises(UserError, match="no model 'c'"):
        run_gate(both, both, _gate(CLIP), baseline_model="c")


def test_gate_file_mistakes_are_user_errors() -> None:
    base, cand = _pair(quality=0.0)
    with pytest.raises(UserError, match="metrics.0.direction"):
        run_gate(base, cand, _gate({"name": "clip_score", "direction": "lower"}))
    with pytest.raises(UserError, match="metrics.0.test"):
        run_gate(base, cand, _gate({**CLIP, "test": "mcnemar"}))
    with pytest.raises(UserError, match="metrics.0.kind"):
        run_gate(base, cand, _gate({**CLIP, "kind": "binary"}))
    with pytest.raises(UserError, match="listed twice"):
        _gate(CLIP, CLIP)
    with pytest.raises(UserError, match="metrics.0.margin"):
        _gate({**CLIP, "margin": -1})
    with pytest.raises(UserError, match="thresholds"):
        parse_gate_config({"metrics": [CLIP], "thresholds": {}})
    with pytest.raises(UserError, match="alpha"):
        _gate(CLIP, alpha=0.7)


def test_gate_file_loading(tmp_path: Path) -> None:
    good = tmp_path / "gate.yaml"
    good.write_text("alpha: 0.01\nmetrics:\n  - {name: clip_score, direction: higher}\n")
    assert load_gate_config(good).alpha == 0.01
    assert load_gate_config(good).source == str(good)
    bad = tmp_path / "bad.yaml"
    bad.write_text("metrics: [\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_gate_config(bad)
    with pytest.raises(UserError, match="not found"):
        load_gate_config(tmp_path / "missing.yaml")
    listed = tmp_path / "list.yaml"
    listed.write_text("- clip_score\n")
    with pytest.raises(UserError, match="mapping"):
        load_gate_config(listed)


def test_few_pairs_are_inconclusive_and_binary_kind_is_inferred() -> None:
    base, cand = _pair(quality=0.0, n_prompts=6)
    base = _with_images(base, base.images.assign(my_ok=(base.images["seed"] % 2).astype(float)))
    cand = _with_images(cand, cand.images.assign(my_ok=(cand.images["seed"] % 2).astype(float)))
    result = run_gate(
        base,
        cand,
        _gate(
            {"name": "ocr_exact"},
            {"name": "my_ok", "direction": "higher"},  # no scorer declares it
            min_pairs=30,
        ),
    )
    ocr = _verdict(result, "ocr_exact")  # 2 text prompts x 3 seeds x 4 cells = 24 pairs
    assert (
        ocr.verdict == "inconclusive" and "only 24 pair(s) with values (min_pairs 30)" in ocr.note
    )
    assert _verdict(result, "my_ok").test == "mcnemar"


def test_set_level_metrics() -> None:
    base, cand = _pair(quality=0.0)
    fid = {"name": "fid", "margin": 2.0}
    worse = dataclasses.replace(
        cand,
        sets=cand.sets.assign(
            value=cand.sets["value"] + 8,
            ci_low=cand.sets["ci_low"] + 8,
            ci_high=cand.sets["ci_high"] + 8,
        ),
    )
    v = _verdict(run_gate(base, worse, _gate(fid)), "fid")
    assert v.kind == "set" and v.verdict == "regressed" and v.n == len(base.sets)
    no_ci = dataclasses.replace(worse, sets=worse.sets.assign(ci_low=np.nan, ci_high=np.nan))
    v = _verdict(run_gate(base, no_ci, _gate(fid)), "fid")
    assert v.verdict == "inconclusive" and "no interval" in v.note
    relabelled = dataclasses.replace(cand, sets=cand.sets.assign(label="inception/legacy vs x"))
    with pytest.raises(UserError, match="measured differently"):
        run_gate(base, relabelled, _gate(fid))


def test_per_prompt_set_metrics_pair_on_cell_and_prompt() -> None:
    base, cand = _pair(quality=0.0)
    rng = np.random.default_rng(3)
    cells = base.sets[["sampler", "steps", "guidance", "width", "height"]]
    rows = []
    for cell in cells.to_dict("records"):
        for p in range(12):
            rows.append(
                {
                    **cell,
                    "prompt_id": f"p{p:03d}",
                    "metric": "diversity_clip",
                    "value": 0.4 + 0.05 * rng.normal(),
                    "label": "1 - cosine",
                }
            )
    div = pd.DataFrame(rows)

    def with_div(frames: SyntheticFrames, model: str, shift: float) -> SyntheticFrames:
        extra = div.assign(model=model, value=div["value"] + shift)
        return dataclasses.replace(frames, sets=pd.concat([frames.sets, extra]))

    # Not in the synthetic catalogue, so the gate file says which way is better.
    config = _gate({"name": "diversity_clip", "direction": "higher", "margin": 0.01})
    same = run_gate(with_div(base, "base", 0.0), with_div(cand, "cand", 0.0), config)
    v = _verdict(same, "diversity_clip")
    assert v.verdict == "pass" and v.n == 48 and v.test == "bootstrap"
    worse = run_gate(with_div(base, "base", 0.0), with_div(cand, "cand", -0.05), config)
    assert _verdict(worse, "diversity_clip").verdict == "regressed"


def test_direction_comes_from_the_declaration() -> None:
    base, cand = _pair(quality=-1.5)
    # Repeating the declared direction is harmless; contradicting it is an error that names
    # the gate file, the field and the fix.
    agreeing = _gate({**CLIP, "direction": "higher"})
    assert _verdict(run_gate(base, cand, agreeing), "clip_score").verdict == "regressed"
    config = parse_gate_config(
        {"metrics": [CLIP, {"name": "brisque", "direction": "higher"}]}, source="mine.yaml"
    )
    with pytest.raises(UserError) as err:
        run_gate(base, cand, config)
    text = str(err.value)
    assert "mine.yaml" in text and "metrics.1.direction" in text
    assert "declares 'lower'" in text and "remove `direction`" in text


def test_undeclared_metric_needs_a_direction_from_the_gate_file() -> None:
    base, cand = _pair(quality=0.0)
    score = (base.images["seed"] % 2).astype(float)
    base = _with_images(base, base.images.assign(plugin_score=score))
    cand = _with_images(cand, cand.images.assign(plugin_score=score))
    config = parse_gate_config({"metrics": [{"name": "plugin_score"}]}, source="plugin.yaml")
    with pytest.raises(UserError) as err:
        run_gate(base, cand, config)
    text = str(err.value)
    assert "plugin.yaml" in text and "metrics.0.direction" in text
    assert "direction: higher" in text and "plugin_score" in text
    given = _gate({"name": "plugin_score", "direction": "lower"})
    assert _verdict(run_gate(base, cand, given), "plugin_score").direction == "lower"


def test_export_without_catalogue_takes_the_gate_files_direction() -> None:
    # Exported files carry no metric catalogue: the gate file's direction is all there is,
    # while generation's own columns stay declared.
    base, cand = _pair(quality=-1.5)
    base, cand = (dataclasses.replace(f, catalog={}) for f in (base, cand))
    with pytest.raises(UserError, match="metrics.0.direction"):
        run_gate(base, cand, _gate(CLIP))
    result = run_gate(base, cand, _gate({**CLIP, "direction": "higher"}, {"name": "nan_or_black"}))
    assert _verdict(result, "clip_score").verdict == "regressed"
    assert _verdict(result, "nan_or_black").direction == "lower"


def test_metrics_without_a_better_direction_or_with_two_cannot_gate() -> None:
    base, cand = _pair(quality=0.0)
    spread = Metric("brisque", "none", "continuous", "no better direction")
    base_none, cand_none = (
        dataclasses.replace(f, catalog={**f.catalog, "brisque": spread}) for f in (base, cand)
    )
    with pytest.raises(UserError, match="declares no better direction"):
        run_gate(base_none, cand_none, _gate({"name": "brisque"}))
    flipped = Metric("brisque", "higher", "continuous", "another version")
    disagreeing = dataclasses.replace(cand, catalog={**cand.catalog, "brisque": flipped})
    with pytest.raises(UserError, match="declare different directions"):
        run_gate(base, disagreeing, _gate({"name": "brisque"}))


def test_labelled_columns_gate_under_their_own_name() -> None:
    base, cand = _pair(quality=0.0)
    column = "wm_bit_accuracy@wm2"
    declared = Metric(column, "higher", "continuous", "bit accuracy of the second watermark")
    frames = []
    for frames_, shift in ((base, 0.0), (cand, -0.2)):
        rng = np.random.default_rng(7)
        values = np.clip(0.95 + 0.02 * rng.normal(size=len(frames_.images)) + shift, 0, 1)
        labelled = _with_images(frames_, frames_.images.assign(**{column: values}))
        frames.append(dataclasses.replace(labelled, catalog={**labelled.catalog, column: declared}))
    result = run_gate(frames[0], frames[1], _gate({"name": column, "margin": 0.05}))
    v = _verdict(result, column)
    assert v.verdict == "regressed" and v.direction == "higher" and v.kind == "continuous"

"""The `treering` scorer on the built-in toy model: marked images found, unmarked ones not."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.bench.treering import condition, threshold_at_fpr
from audit.config import ModelSpec, RuntimeSpec
from audit.errors import UserError
from audit.generate.diffusers_backend import DiffusersGenerator
from audit.generate.request import GenerationRequest
from audit.generate.treering import TreeRingKey
from audit.prompts.model import Expectations
from audit.scorers.base import ScoreItem
from audit.scorers.treering import TreeRingScorer

TOY = ModelSpec(id="toy", source="builtin:toy-shapes")
KEY = TreeRingKey(key_seed=20230531, radius=7, channel=-1)


def request(prompt: str, seed: int, watermark: str) -> GenerationRequest:
    return GenerationRequest(
        model_id="toy", model_source=TOY.source, model_fingerprint="x", dtype="float32",
        sampler="ddim", steps=25, guidance=3.0, width=64, height=64, seed=seed, suite="t",
        prompt_id=prompt, prompt=prompt, negative_prompt="", watermark=watermark,
    )  # fmt: skip


@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory) -> list[ScoreItem]:
    folder = tmp_path_factory.mktemp("treering")
    generator = DiffusersGenerator(TOY, RuntimeSpec(device="cpu"))
    # Two prompts whose marked images `t2i-audit bench treering` detects at seed 0 (the
    # toy detects most marked images, not all: the bench measures how many).
    prompts = ["a picture of three purple squares", "two blue squares"]
    batch = [request(p, 0, w) for w in (KEY.canonical(), "") for p in prompts]
    out = []
    for image in generator.generate(batch):
        r = image.request
        path = folder / f"{r.key}.png"
        path.write_bytes(image.png)
        row = {"source": r.model_source, "dtype": r.dtype, "model": r.model_id}
        out.append(ScoreItem(r.key, path, r.prompt, r.prompt_id, Expectations(), row))
    return out


def test_marked_toy_images_are_detected_and_unmarked_ones_are_not(
    items: list[ScoreItem],
) -> None:
    options = TreeRingScorer.parse_options(
        {"key_seed": KEY.key_seed, "radius": 7, "inversion_steps": 5, "attacks": ["jpeg90"]}
    )
    rows = TreeRingScorer(options).score_batch(items)  # type: ignore[arg-type]
    marked, plain = rows[:2], rows[2:]
    for row in marked:
        assert row["treering_p_value"] < 3e-3, row  # type: ignore[operator]
        assert row["treering_detected"] == 1.0
        assert row["treering_p_value_jpeg90"] is not None
    for row in plain:
        assert row["treering_p_value"] > 0.05, row  # type: ignore[operator]
        assert row["treering_detected"] == 0.0
    # The reference's L1 distance agrees: marked noise lies nearer the key.
    near = [float(r["treering_distance"]) for r in marked]  # type: ignore[arg-type]
    far = [float(r["treering_distance"]) for r in plain]  # type: ignore[arg-type]
    assert max(near) < min(far)
    # A different key is not found in the marked images.
    other = TreeRingScorer.parse_options({"key_seed": 1, "radius": 7, "inversion_steps": 5})
    assert all(
        r["treering_detected"] == 0.0
        for r in TreeRingScorer(other).score_batch(items[:2])  # type: ignore[arg-type]
    )


def test_robustness_curves_per_jpeg_strength(items: list[ScoreItem]) -> None:
    options = TreeRingScorer.parse_options(
        {"key_seed": KEY.key_seed, "radius": 7, "inversion_steps": 5, "curves": ["jpeg"]}
    )
    (row,) = TreeRingScorer(options).score_batch(items[:1])  # type: ignore[arg-type]
    qualities = (90, 70, 50, 30, 10)
    assert {row[f"trc_detected_jpeg_{q}"] for q in qualities} <= {0.0, 1.0}
    assert row["trc_detected_jpeg_90"] == 1.0  # the clean image is detected; mild JPEG too
    psnr = [float(row[f"trc_psnr_jpeg_{q}"]) for q in qualities]  # type: ignore[arg-type]
    assert psnr == sorted(psnr, reverse=True)  # stronger compression costs more


def test_an_image_with_no_model_to_invert_with_is_not_applicable(tmp_path: Path) -> None:
    item = ScoreItem("k" * 64, tmp_path / "none.png", "p", "p", Expectations(), {})
    (row,) = TreeRingScorer().score_batch([item])
    assert set(row) == {m.name for m in TreeRingScorer().metrics()}
    assert all(v is None for v in row.values())


def test_options_are_checked() -> None:
    for bad in ({"radius": 0}, {"attacks": ["nope"]}, {"fpr": 1.5}, {"channel": -3}):
        with pytest.raises(UserError) as err:
            TreeRingScorer.parse_options(bad)
        assert err.value.field is not None and err.value.field.startswith("scorers.treering")


def test_threshold_keeps_the_false_positive_rate_at_most_the_target() -> None:
    null = [i / 100 for i in range(1, 101)]  # 0.01 .. 1.00
    t = threshold_at_fpr(null, 0.01)
    assert t == 0.02 and sum(p < t for p in null) == 1
    c = condition("clean", null, [0.001, 0.015, 0.5, 0.0], 0.01)
    assert c.fpr == 0.01 and c.detection == 0.75
    assert c.nominal_fpr == 0.0 and c.nominal_detection == 0.5
    assert threshold_at_fpr([0.3, 0.2], 0.01) == 0.2

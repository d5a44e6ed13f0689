"""The pixel reader against the world's own ground truth."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from audit.toyworld import reader, world
from audit.toyworld.validate import reader_accuracy


def test_reader_is_exact_on_1000_procedural_samples() -> None:
    acc = reader_accuracy(1000, seed=12345)
    assert acc == {"count_accuracy": 1.0, "color_accuracy": 1.0, "position_accuracy": 1.0}


def test_reader_boxes_match_the_drawn_boxes() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        scene = world.sample_count(rng, 3, "green", "triangle")
        found = reader.read(world.render(scene))
        assert sorted(f.box for f in found) == sorted(s.box for s in scene.shapes)


def _degrade(scene: world.Scene, rng: np.random.Generator) -> Image.Image:
    """Tint the background, add noise and blur, as a generated image would be."""
    a = world.render(scene).astype(np.float32)
    background = np.all(a == np.array(scene.background), -1)
    a[background] += rng.uniform(-30, 10, size=3)
    a += rng.normal(0, 8, a.shape)
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    return img.filter(ImageFilter.GaussianBlur(0.8))


def test_reader_survives_tinted_noisy_blurred_images() -> None:
    rng = np.random.default_rng(1)
    scenes = world.dataset(9, 200)
    ok = sum(reader.counts(reader.read(_degrade(s, rng))) == s.counts() for s in scenes)
    assert ok == len(scenes)


def test_glyphs_are_not_shapes() -> None:
    rng = np.random.default_rng(2)
    assert reader.read(world.render(world.sample_glyph(rng, "AB7"))) == []


def test_classify_hand_made_masks() -> None:
    square = np.ones((12, 12), bool)
    yy, xx = np.mgrid[:15, :15]
    circle = (yy - 7) ** 2 + (xx - 7) ** 2 <= 49
    triangle = np.array([[abs(x - 7) <= y / 2 for x in range(15)] for y in range(15)])
    assert reader.classify(square) == "square"
    assert reader.classify(circle) == "circle"
    assert reader.classify(triangle) == "triangle"


def test_pil_and_array_inputs_agree() -> None:
    scene = world.dataset(5, 1)[0]
    arr = world.render(scene)
    assert reader.read(arr) == reader.read(Image.fromarray(arr))

"""The procedural world: seeded, and every caption and image agrees with its scene."""

from __future__ import annotations

import numpy as np

from audit.toyworld import vocab, world


def test_same_seed_same_dataset_and_pixels() -> None:
    a, b = world.dataset(3, 40), world.dataset(3, 40)
    assert a == b
    assert all(np.array_equal(world.render(x), world.render(y)) for x, y in zip(a, b, strict=True))
    assert world.dataset(4, 40) != a


def test_images_are_64px_on_a_light_background() -> None:
    for scene in world.dataset(0, 50):
        img = world.render(scene)
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8
        border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
        assert (border >= 228).all()  # objects never touch the border


def test_mixture_covers_every_shape_colour_count_and_relation() -> None:
    scenes = world.dataset(0, 600)
    kinds = {s.kind for s in scenes}
    assert kinds == {"count", "pair", "glyph"}
    assert {x.shape for s in scenes for x in s.shapes} == set(world.SHAPES)
    assert {x.color for s in scenes for x in s.shapes} == set(world.COLORS)
    assert len(world.COLORS) >= 5
    assert {len(s.shapes) for s in scenes if s.kind == "count"} == {1, 2, 3, 4}
    assert {s.relation for s in scenes if s.kind == "pair"} == set(world.RELATIONS)


def test_captions_state_the_truth() -> None:
    for scene in world.dataset(1, 300, glyph_ok=vocab.char_split):
        if scene.kind == "count":
            n, s = len(scene.shapes), scene.shapes[0]
            for cap in scene.captions:
                assert s.color in cap and s.shape in cap
                assert (world.NUMBER_WORDS[n] in cap.split()) or (n == 1 and cap.startswith("a "))
        elif scene.kind == "pair":
            a, b = scene.shapes
            assert scene.relation is not None
            assert world.holds(scene.relation, a.center, b.center, margin=10)
            first = scene.captions[0]
            assert first == f"a {a.color} {a.shape} {scene.relation} a {b.color} {b.shape}"
        else:
            assert 1 <= len(scene.text) <= 3 and all(c in world.GLYPHS for c in scene.text)
            assert all(f"'{scene.text}'" in cap for cap in scene.captions)


def test_count_caption_examples() -> None:
    assert world.count_captions(3, "red", "circle")[0] == "three red circles"
    assert world.count_captions(1, "blue", "square")[0] == "a blue square"
    assert "the letters 'AB'" in world.glyph_captions("AB")


def test_shapes_never_touch() -> None:
    for scene in world.dataset(2, 300):
        boxes = [s.box for s in scene.shapes]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert world._apart(a, b)

"""The procedural toy world: scenes, their captions and their 64x64 renderings.

A scene is the ground truth (shapes with colour and box, or a short glyph string); the image
and every caption are derived from it, so the truth travels with each sample. Everything is
drawn from a `numpy.random.Generator`, so a seed fixes the whole dataset.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

SIZE = 64
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
# Hues far apart so that a generated image's colours stay readable; RGB is the pure tone.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "yellow": (235, 195, 20),
    "green": (40, 160, 60),
    "blue": (40, 90, 220),
    "purple": (150, 60, 200),
}
COLORS: tuple[str, ...] = tuple(PALETTE)
NUMBER_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four")
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
GLYPHS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
INK = (20, 20, 20)
MIN_SIDE, MAX_SIDE = 11, 19
GAP = 3  # pixels between any two shapes' boxes, so components never touch

Kind = Literal["count", "pair", "glyph"]


@dataclass(frozen=True)
class Shape:
    shape: str
    color: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 inclusive

    @property
    def center(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return ((x0 + x1) / 2, (y0 + y1) / 2)


@dataclass(frozen=True)
class Scene:
    kind: Kind
    background: tuple[int, int, int]
    shapes: tuple[Shape, ...] = ()
    text: str = ""
    # pair scenes: shapes[0] <relation> shapes[1]
    relation: str | None = None
    text_box: tuple[int, int] = (0, 0)
    font_size: int = 0
    captions: tuple[str, ...] = field(default=())

    def counts(self) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for s in self.shapes:
            out[(s.shape, s.color)] = out.get((s.shape, s.color), 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plural(shape: str, n: int) -> str:
    return shape if n == 1 else shape + "s"


def _place(
    rng: np.random.Generator, sides: list[int], taken: list[tuple[int, int, int, int]]
) -> list[tuple[int, int, int, int]] | None:
    boxes: list[tuple[int, int, int, int]] = []
    for side in sides:
        for _ in range(200):
            x0 = int(rng.integers(1, SIZE - side))
            y0 = int(rng.integers(1, SIZE - side))
            box = (x0, y0, x0 + side - 1, y0 + side - 1)
            if all(_apart(box, other) for other in taken + boxes):
                boxes.append(box)
                break
        else:
            return None
    return boxes


def _apart(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[2] + GAP < b[0] or b[2] + GAP < a[0] or a[3] + GAP < b[1] or b[3] + GAP < a[1]


def holds(relation: str, a: tuple[float, float], b: tuple[float, float], margin: float) -> bool:
    """Whether centre `a` is <relation> centre `b` with at least `margin` pixels to spare."""
    dx, dy = a[0] - b[0], a[1] - b[1]
    if relation == "left of":
        return dx < -margin
    if relation == "right of":
        return dx > margin
    if relation == "above":
        return dy < -margin
    if relation == "below":
        return dy > margin
    raise ValueError(f"unknown relation {relation!r}")


def _background(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(228, 256, size=3))  # type: ignore[return-value]


def count_captions(n: int, color: str, shape: str) -> tuple[str, ...]:
    word = NUMBER_WORDS[n]
    noun = plural(shape, n)
    first = f"a {color} {shape}" if n == 1 else f"{word} {color} {noun}"
    return (
        first,
        f"{word} {color} {noun}",
        f"a picture of {word} {color} {noun}",
        f"{word} {color} {noun} on a white background",
    )


def pair_captions(a: Shape, relation: str, b: Shape) -> tuple[str, ...]:
    sa, sb = f"{a.color} {a.shape}", f"{b.color} {b.shape}"
    inv = INVERSE[relation]
    out = [f"a {sa} {relation} a {sb}", f"a {sb} {inv} a {sa}"]
    if relation in ("left of", "right of"):
        out.append(f"a {sa} to the {relation} a {sb}")
        out.append(f"a {sb} to the {inv} a {sa}")
    else:
        out.append(f"a picture of a {sa} {relation} a {sb}")
    return tuple(out)


def glyph_captions(text: str) -> tuple[str, ...]:
    out = [f"the text '{text}'", f"a sign that says '{text}'"]
    if text.isalpha():
        out.append(f"the letters '{text}'" if len(text) > 1 else f"the letter '{text}'")
    if text.isdigit():
        out.append(f"the number '{text}'")
    return tuple(out)


def sample_count(rng: np.random.Generator, n: int, color: str, shape: str) -> Scene:
    while True:
        sides = [int(rng.integers(MIN_SIDE, MAX_SIDE + 1)) for _ in range(n)]
        boxes = _place(rng, sides, [])
        if boxes is not None:
            break
    shapes = tuple(Shape(shape, color, box) for box in boxes)
    return Scene("count", _background(rng), shapes, captions=count_captions(n, color, shape))


def sample_pair(
    rng: np.random.Generator, a: tuple[str, str], relation: str, b: tuple[str, str]
) -> Scene:
    """Two objects (shape, colour) with a clear `relation`: the asked axis dominates."""
    while True:
        sides = [int(rng.integers(MIN_SIDE, MAX_SIDE + 1)) for _ in range(2)]
        boxes = _place(rng, sides, [])
        if boxes is None:
            continue
        sa, sb = Shape(a[1], a[0], boxes[0]), Shape(b[1], b[0], boxes[1])
        (ax, ay), (bx, by) = sa.center, sb.center
        along = abs(ax - bx) if relation in ("left of", "right of") else abs(ay - by)
        across = abs(ay - by) if relation in ("left of", "right of") else abs(ax - bx)
        if holds(relation, sa.center, sb.center, margin=12) and across < along * 0.6:
            break
    # a: (color, shape); b likewise
    return Scene(
        "pair",
        _background(rng),
        (sa, sb),
        relation=relation,
        captions=pair_captions(sa, relation, sb),
    )


def sample_glyph(rng: np.random.Generator, text: str) -> Scene:
    n = len(text)
    font_size = int(rng.integers(20, 29)) if n < 3 else int(rng.integers(17, 23))
    width = int(font_size * 0.72 * n)
    x = int(rng.integers(2, max(3, SIZE - width - 2)))
    y = int(rng.integers(4, max(5, SIZE - font_size - 8)))
    return Scene(
        "glyph",
        _background(rng),
        text=text,
        text_box=(x, y),
        font_size=font_size,
        captions=glyph_captions(text),
    )


def random_glyph_text(rng: np.random.Generator, char_split: Any = None) -> str:
    """1-3 characters, all letters, all digits or mixed; `char_split(text)` may veto."""
    while True:
        n = int(rng.integers(1, 4))
        style = int(rng.integers(0, 3))
        pool = GLYPHS[:26] if style == 0 else GLYPHS[26:] if style == 1 else GLYPHS
        text = "".join(pool[int(i)] for i in rng.integers(0, len(pool), size=n))
        if char_split is None or char_split(text):
            return text


def sample_scene(rng: np.random.Generator, *, glyph_ok: Any = None) -> Scene:
    """One scene from the training mixture: 50% counting, 35% pairs, 15% glyphs."""
    u = float(rng.random())
    if u < 0.5:
        n = int(rng.integers(1, 5))
        return sample_count(rng, n, COLORS[int(rng.integers(len(COLORS)))], _shape(rng))
    if u < 0.85:
        while True:
            a = (COLORS[int(rng.integers(len(COLORS)))], _shape(rng))
            b = (COLORS[int(rng.integers(len(COLORS)))], _shape(rng))
            if a != b:
                break
        return sample_pair(rng, a, RELATIONS[int(rng.integers(4))], b)
    return sample_glyph(rng, random_glyph_text(rng, glyph_ok))


def _shape(rng: np.random.Generator) -> str:
    return SHAPES[int(rng.integers(len(SHAPES)))]


def render(scene: Scene) -> np.ndarray:
    """The scene as a (64, 64, 3) uint8 array; no anti-aliasing, so pixels are exact."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (SIZE, SIZE), scene.background)
    draw = ImageDraw.Draw(img)
    for s in scene.shapes:
        rgb = PALETTE[s.color]
        x0, y0, x1, y1 = s.box
        if s.shape == "circle":
            draw.ellipse((x0, y0, x1, y1), fill=rgb)
        elif s.shape == "square":
            draw.rectangle((x0, y0, x1, y1), fill=rgb)
        else:
            draw.polygon(((x0 + x1) / 2, y0, x0, y1, x1, y1), fill=rgb)
    if scene.text:
        from PIL import ImageFont

        font = ImageFont.load_default(size=scene.font_size)
        draw.text(scene.text_box, scene.text, fill=INK, font=font)
    return np.asarray(img, dtype=np.uint8).copy()


def dataset(seed: int, n: int, *, glyph_ok: Any = None) -> list[Scene]:
    """`n` scenes from `seed`; the same seed gives the same list on any machine."""
    rng = np.random.default_rng(seed)
    return [sample_scene(rng, glyph_ok=glyph_ok) for _ in range(n)]

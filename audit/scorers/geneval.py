"""GenEval-style composition checks on detections: pure functions, no model inside.

Rules follow GenEval's `evaluate_images.py` (Ghosh et al., 2023):

* a detection counts when its score is above 0.3, or above 0.9 for a counting prompt
  (GenEval raises the threshold for the whole image when the prompt is a counting prompt);
* detections of a class are ordered most confident first as `np.argsort(scores)[::-1]`
  orders them, so of two equal scores the one listed later comes first;
* at most 16 detections per class, then greedy overlap suppression within each class only,
  off by default: GenEval's `max_overlap` is 1.0 (its Mask2Former already deduplicates) and
  it never suppresses across classes. When on, overlap is GenEval's `compute_iou`, which
  counts box corners as inclusive pixels (+1 on each side), and a box is dropped when its
  overlap with a kept one reaches the limit;
* colour and position are judged on the most confident `count` detections of a class;
* "A left of B" needs the centre offset, less 0.1 of the two boxes' summed size per axis, to
  point mostly left.

Expectation semantics are GenEval's metadata, carried 1:1 by the importer
(`audit.prompts.model.ObjectExpectation`):

* `objects[k].count = N` means at least N (`None`: at least one); the most confident N are
  the ones whose colour and position are judged.
* `exclude[k].count = M` means fewer than M (`None`: none at all). An exact count N is
  written as GenEval writes it: include N plus exclude N+1 of the same class.
* `objects[k].position = (relation, j)` means object k is <relation> object j.

A prompt is a counting prompt (GenEval tag "counting") when an object asks for two or more,
or an exclude bounds a class the prompt also includes. Only such prompts get `count_correct`.

Callers: the detector-based `counting` scorer and the pixel-exact `toycount` scorer. Both turn
an image into `Detection`s (label, score, box, optional colour) and call `judge` (or `select`,
`classify_colors`, `judge_selected` step by step when colours come from a classifier).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from audit.errors import UserError

if TYPE_CHECKING:
    from audit.prompts.model import Expectations, ObjectExpectation

GENEVAL_COLORS: tuple[str, ...] = (
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "brown",
    "black",
    "white",
)
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels, y grows downwards


@dataclass(frozen=True)
class Detection:
    """One detected object. `color` is filled in by a colour classifier or by the caller."""

    label: str
    score: float
    box: Box
    color: str | None = None


@dataclass(frozen=True)
class Rules:
    """GenEval's numbers; each is a scorer option."""

    threshold: float = 0.3
    counting_threshold: float = 0.9
    max_per_class: int = 16
    nms_iou: float = 1.0  # GenEval's max_overlap: 1.0 keeps overlapping boxes (its default)
    position_margin: float = 0.1

    def threshold_for(self, expect: Expectations) -> float:
        return self.counting_threshold if is_counting(expect) else self.threshold


def normalize(name: str) -> str:
    """Class names compare case- and whitespace-insensitively."""
    return " ".join(name.lower().split())


def is_counting(expect: Expectations) -> bool:
    """GenEval's counting prompts, recognised by shape since items carry no tag."""
    included = {normalize(obj.name) for obj in expect.objects}
    return any(obj.count is not None and obj.count >= 2 for obj in expect.objects) or any(
        normalize(obj.name) in included for obj in expect.exclude
    )


def class_names(expect: Expectations) -> list[str]:
    """Every class the prompt mentions (include and exclude), normalised, in first-seen order."""
    names: dict[str, None] = {}
    for obj in (*expect.objects, *expect.exclude):
        names.setdefault(normalize(obj.name), None)
    return list(names)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two pixel boxes (continuous coordinates)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def geneval_iou(a: Box, b: Box) -> float:
    """GenEval's `compute_iou`: corners are inclusive pixel indices, so a box from x0 to x1
    is x1 - x0 + 1 pixels wide (boxes that touch overlap by one pixel row)."""

    def area(box: Box) -> float:
        return max(box[2] - box[0] + 1, 0.0) * max(box[3] - box[1] + 1, 0.0)

    inter = area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    union = area(a) + area(b) - inter
    return inter / union if union else 0.0


def by_confidence(dets: Sequence[Detection]) -> list[Detection]:
    """Most confident first, equal scores in reverse list order: `argsort(scores)[::-1]`
    with numpy's stable order for ties, as GenEval sorts a class's detections."""
    ascending = sorted(range(len(dets)), key=lambda i: dets[i].score)
    return [dets[i] for i in reversed(ascending)]


def select(
    detections: Iterable[Detection],
    threshold: float,
    *,
    max_per_class: int = 16,
    nms_iou: float = 1.0,
) -> dict[str, list[Detection]]:
    """Group by class, keep scores above `threshold`, cap per class, then greedy NMS.

    The order of steps is GenEval's: sort by score (`by_confidence`), threshold, keep the
    first `max_per_class`, then drop any box of the same class whose `geneval_iou` with a
    kept one is `nms_iou` or more (`nms_iou` 1.0: none dropped).
    """
    by_class: dict[str, list[Detection]] = {}
    for det in detections:
        by_class.setdefault(normalize(det.label), []).append(det)
    groups: dict[str, list[Detection]] = {}
    for name, dets in by_class.items():
        ranked = [d for d in by_confidence(dets) if d.score > threshold]
        pending = ranked[:max_per_class]
        kept: list[Detection] = []
        while pending:
            best = pending.pop(0)
            kept.append(best)
            if nms_iou != 1.0:
                pending = [d for d in pending if geneval_iou(best.box, d.box) < nms_iou]
        if kept:
            groups[name] = kept
    return groups


def relative_position(a: Box, b: Box, margin: float = 0.1) -> set[str]:
    """Relations of box `a` to box `b` (GenEval's rule): "left of", "right of", "above", "below".

    The centre offset is shrunk per axis by `margin` times the two boxes' summed size; a
    relation holds when the shrunk offset, divided by the full offset's length, exceeds 0.5
    along that direction. Boxes too close on both axes have no relation.
    """
    ca = ((a[0] + a[2]) / 2, (a[1] + a[3]) / 2)
    cb = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    dims = (abs(a[2] - a[0]) + abs(b[2] - b[0]), abs(a[3] - a[1]) + abs(b[3] - b[1]))
    offset = (ca[0] - cb[0], ca[1] - cb[1])
    revised = [
        max(abs(o) - margin * d, 0.0) * (1.0 if o > 0 else -1.0 if o < 0 else 0.0)
        for o, d in zip(offset, dims, strict=True)
    ]
    if all(abs(r) < 1e-3 for r in revised):
        return set()
    norm = (offset[0] ** 2 + offset[1] ** 2) ** 0.5
    dx, dy = revised[0] / norm, revised[1] / norm
    relations = set()
    if dx < -0.5:
        relations.add("left of")
    if dx > 0.5:
        relations.add("right of")
    if dy < -0.5:
        relations.add("above")
    if dy > 0.5:
        relations.add("below")
    return relations


def _need(obj: ObjectExpectation) -> int:
    """How many instances GenEval looks at: the stated count, else one."""
    return 1 if obj.count is None else obj.count


def classify_colors(
    groups: Mapping[str, Sequence[Detection]],
    expect: Expectations,
    classify: Callable[[str, list[Box]], list[str]],
) -> dict[str, list[Detection]]:
    """Fill in `color` on the detections whose colour a check will read.

    Those are, for each object with an expected colour, the most confident `count` (or one)
    detections of its class. `classify(class_name, boxes)` returns one colour name per box.
    """
    wanted: dict[str, int] = {}
    for obj in expect.objects:
        if obj.color is not None:
            name = normalize(obj.name)
            wanted[name] = max(wanted.get(name, 0), _need(obj))
    out = {name: list(dets) for name, dets in groups.items()}
    for name, n in wanted.items():
        dets = out.get(name, [])[:n]
        todo = [i for i, d in enumerate(dets) if d.color is None]
        if not todo:
            continue
        colors = classify(name, [dets[i].box for i in todo])
        if len(colors) != len(todo):
            raise ValueError(f"colour classifier returned {len(colors)} labels for {len(todo)}")
        for i, color in zip(todo, colors, strict=True):
            out[name][i] = dataclasses.replace(dets[i], color=color)
    return out


@dataclass(frozen=True)
class Verdict:
    """Per-image judgement. Sub-checks are None where the prompt expects nothing of the kind.

    `correct` is GenEval's per-image correctness: every include and exclude clause holds.
    The sub-checks look at one aspect each: `color_correct` and `position_correct` are False
    when the objects they need are missing, and `position_correct` ignores colour.
    """

    objects_present: bool | None
    count_correct: bool | None
    color_correct: bool | None
    position_correct: bool | None
    correct: bool
    reasons: tuple[str, ...] = ()

    def row(self) -> dict[str, float | None]:
        def num(flag: bool | None) -> float | None:
            return None if flag is None else float(flag)

        return {
            "objects_present": num(self.objects_present),
            "count_correct": num(self.count_correct),
            "color_correct": num(self.color_correct),
            "position_correct": num(self.position_correct),
            "geneval_score": float(self.correct),
        }


def _all(flags: list[bool]) -> bool | None:
    return all(flags) if flags else None


def _position_holds(
    found: Sequence[Detection], targets: Sequence[Detection], relation: str, margin: float
) -> tuple[bool, str]:
    for det in found:
        for target in targets:
            seen = relative_position(det.box, target.box, margin)
            if relation not in seen:
                return False, " and ".join(sorted(seen)) or "no clear relation"
    return True, ""


def judge_selected(
    expect: Expectations,
    groups: Mapping[str, Sequence[Detection]],
    *,
    position_margin: float = 0.1,
) -> Verdict:
    """Judge detections already thresholded and deduplicated (see `select`).

    Detections of a class must be sorted most confident first. Where a colour is expected,
    the detections it reads must carry `color` (see `classify_colors`).
    """
    reasons: list[str] = []
    correct = True
    present: list[bool] = []
    counts: list[bool] = []
    colors: list[bool] = []
    positions: list[bool] = []
    found_by_object: list[list[Detection]] = []  # the most confident `need` of each class
    ok_by_object: list[bool] = []  # GenEval's matched_groups, as flags

    for obj in expect.objects:
        name = normalize(obj.name)
        all_found = list(groups.get(name, ()))
        need = _need(obj)
        found = all_found[:need]
        ok = len(found) >= need
        if need >= 1:
            present.append(len(all_found) >= 1)
        counts.append(ok)
        if not ok:
            correct = False
            reasons.append(f"expected {name}>={need}, found {len(all_found)}")
        if obj.color is not None:
            if any(d.color is None for d in found):
                raise ValueError(f"detections of '{name}' need colours: call classify_colors")
            n_color = sum(normalize(d.color or "") == normalize(obj.color) for d in found)
            color_ok = len(found) == need and n_color == need
            colors.append(color_ok)
            if ok and not color_ok:
                ok = correct = False
                found_colors = ", ".join(sorted(d.color or "" for d in found))
                reasons.append(f"expected {obj.color} {name}>={need}, found {found_colors}")
        found_by_object.append(found)
        ok_by_object.append(ok)

    # Positions second, in order, so a target's own failed position makes it no target
    # (GenEval); a target listed later is judged on presence and colour only.
    for k, obj in enumerate(expect.objects):
        if obj.position is None:
            continue
        relation, index = obj.position
        if not (0 <= index < len(expect.objects) and index != k):
            raise UserError(
                f"position refers to object {index}, which is not another object of the prompt",
                field=f"expect.objects[{k}].position",
                fix="use the index (from 0) of another object in the same list",
            )
        found, target = found_by_object[k], found_by_object[index]
        both = len(found) == _need(obj) and len(target) == _need(expect.objects[index])
        positions.append(both and _position_holds(found, target, relation, position_margin)[0])
        if not ok_by_object[k]:
            continue
        name = normalize(obj.name)
        if not ok_by_object[index]:
            ok_by_object[k] = correct = False
            reasons.append(f"no target for {name} to be {relation}")
            continue
        holds, got = _position_holds(found, target, relation, position_margin)
        if not holds:
            ok_by_object[k] = correct = False
            reasons.append(f"expected {name} {relation} target, found {got} target")

    for obj in expect.exclude:
        name = normalize(obj.name)
        limit = 1 if obj.count is None else obj.count
        n = len(groups.get(name, ()))
        counts.append(n < limit)
        if n >= limit:
            correct = False
            reasons.append(f"expected {name}<{limit}, found {n}")

    return Verdict(
        objects_present=_all(present),
        count_correct=_all(counts) if is_counting(expect) else None,
        color_correct=_all(colors),
        position_correct=_all(positions),
        correct=correct,
        reasons=tuple(reasons),
    )


def judge(expect: Expectations, detections: Iterable[Detection], rules: Rules = Rules()) -> Verdict:
    """Threshold, deduplicate and judge in one call, for detections that carry colours already."""
    groups = select(
        detections,
        rules.threshold_for(expect),
        max_per_class=rules.max_per_class,
        nms_iou=rules.nms_iou,
    )
    return judge_selected(expect, groups, position_margin=rules.position_margin)


# --- colour classifiers -------------------------------------------------------------------


class ColorClassifier(Protocol):
    """Names the colour of each boxed object; answers are members of `palette`."""

    name: str
    palette: tuple[str, ...]

    def classify(self, image: Any, class_name: str, boxes: Sequence[Box]) -> list[str]: ...


def crop_box(image: Any, box: Box) -> Any:
    """The box's pixels, clipped to the image and at least one pixel wide and high."""
    width, height = image.size
    x0 = min(max(int(round(box[0])), 0), width - 1)
    y0 = min(max(int(round(box[1])), 0), height - 1)
    x1 = min(max(int(round(box[2])), x0 + 1), width)
    y1 = min(max(int(round(box[3])), y0 + 1), height)
    return image.crop((x0, y0, x1, y1))


class HsvColorClassifier:
    """Offline colour namer: per-pixel HSV rules, majority vote over the box's central part.

    Not GenEval's method (that is CLIP zero-shot, see `ClipColorClassifier`); it needs no
    weights and suits flat-coloured objects. Only the central `center` fraction of the box's
    width and height votes, so background at the box edges weighs little.
    """

    name = "hsv"
    palette = GENEVAL_COLORS

    def __init__(self, center: float = 0.5) -> None:
        if not 0.0 < center <= 1.0:
            raise ValueError("center must be in (0, 1]")
        self.center = center

    def classify(self, image: Any, class_name: str, boxes: Sequence[Box]) -> list[str]:
        return [self._one(image, box) for box in boxes]

    def _one(self, image: Any, box: Box) -> str:
        import numpy as np

        x0, y0, x1, y1 = box
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        hw, hh = (x1 - x0) * self.center / 2, (y1 - y0) * self.center / 2
        crop = crop_box(image.convert("RGB"), (cx - hw, cy - hh, cx + hw, cy + hh))
        rgb = np.asarray(crop, dtype=np.float64).reshape(-1, 3) / 255.0
        names = pixel_color_names(rgb)
        votes = np.bincount(names, minlength=len(GENEVAL_COLORS))
        return GENEVAL_COLORS[int(votes.argmax())]


def pixel_color_names(rgb: Any) -> Any:
    """Index into GENEVAL_COLORS for each row of an (N, 3) array of RGB values in [0, 1]."""
    import numpy as np

    idx = {c: i for i, c in enumerate(GENEVAL_COLORS)}
    mx = rgb.max(axis=1)
    mn = rgb.min(axis=1)
    chroma = mx - mn
    sat = np.where(mx > 0, chroma / np.where(mx > 0, mx, 1), 0.0)
    val = mx
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    safe = np.where(chroma > 0, chroma, 1.0)
    hue = np.select(
        [mx == r, mx == g],
        [((g - b) / safe) % 6, (b - r) / safe + 2],
        (r - g) / safe + 4,
    )
    hue = (hue * 60.0) % 360.0

    out = np.full(len(rgb), idx["red"], dtype=np.int64)
    red = (hue < 15) | (hue >= 345)
    out[(hue >= 15) & (hue < 45)] = idx["orange"]
    out[(hue >= 45) & (hue < 70)] = idx["yellow"]
    out[(hue >= 70) & (hue < 165)] = idx["green"]
    out[(hue >= 165) & (hue < 255)] = idx["blue"]
    out[(hue >= 255) & (hue < 315)] = idx["purple"]
    out[(hue >= 315) & (hue < 345)] = idx["pink"]
    # Light reds read as pink; dark, dull reds and dark oranges as brown.
    out[red & (sat < 0.5) & (val > 0.7)] = idx["pink"]
    out[red & (val < 0.7) & (sat < 0.8)] = idx["brown"]
    out[(hue >= 15) & (hue < 45) & (val < 0.65)] = idx["brown"]
    # Achromatic pixels: the palette has no grey, so split by brightness.
    grey = sat < 0.2
    out[grey & (val >= 0.55)] = idx["white"]
    out[grey & (val < 0.55)] = idx["black"]
    out[val < 0.2] = idx["black"]
    return out


class ClipColorClassifier:
    """GenEval's colour rule: CLIP zero-shot over the palette on the object's crop.

    Text classifiers are GenEval's three templates per colour, averaged after
    normalisation (as clip_benchmark does), cached per class name.
    """

    name = "clip"
    TEMPLATES = (
        "a photo of a {c} {cls}",
        "a photo of a {c}-colored {cls}",
        "a photo of a {c} object",
    )

    def __init__(
        self,
        model: Any,
        preprocess: Callable[[Any], Any],
        tokenizer: Callable[[list[str]], Any],
        *,
        device: str = "cpu",
        palette: tuple[str, ...] = GENEVAL_COLORS,
    ) -> None:
        self.model = model
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.device = device
        self.palette = palette
        self._text: dict[str, Any] = {}

    @classmethod
    def load(cls, arch: str, pretrained: str, *, device: str = "cpu") -> ClipColorClassifier:
        """Load open_clip `arch` with weights `pretrained` (a tag such as "openai" or a file)."""
        import open_clip

        model, _, preprocess = open_clip.create_model_and_transforms(
            arch, pretrained=pretrained, device=device
        )
        model.eval()
        return cls(model, preprocess, open_clip.get_tokenizer(arch), device=device)

    def _text_classifier(self, class_name: str) -> Any:
        import torch

        if class_name not in self._text:
            rows = []
            with torch.inference_mode():
                for color in self.palette:
                    texts = [t.format(c=color, cls=class_name) for t in self.TEMPLATES]
                    emb = self.model.encode_text(self.tokenizer(texts).to(self.device)).float()
                    emb = emb / emb.norm(dim=-1, keepdim=True)
                    mean = emb.mean(dim=0)
                    rows.append(mean / mean.norm())
            self._text[class_name] = torch.stack(rows, dim=1)  # (dim, n_colors)
        return self._text[class_name]

    def classify(self, image: Any, class_name: str, boxes: Sequence[Box]) -> list[str]:
        import torch

        if not boxes:
            return []
        weights = self._text_classifier(class_name)
        rgb = image.convert("RGB")
        batch = torch.stack([self.preprocess(crop_box(rgb, box)) for box in boxes])
        with torch.inference_mode():
            feats = self.model.encode_image(batch.to(self.device)).float()
            feats = feats / feats.norm(dim=-1, keepdim=True)
            best = (feats @ weights).argmax(dim=1).tolist()
        return [self.palette[i] for i in best]

"""GenEval-style checks on hand-built detections, against hand-worked answers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageColor, ImageDraw

from audit.errors import UserError
from audit.prompts.model import Expectations, ObjectExpectation
from audit.scorers.geneval import (
    GENEVAL_COLORS,
    ClipColorClassifier,
    Detection,
    HsvColorClassifier,
    Rules,
    by_confidence,
    class_names,
    classify_colors,
    geneval_iou,
    iou,
    is_counting,
    judge,
    judge_selected,
    pixel_color_names,
    relative_position,
    select,
)


def obj(name: str, **kw: object) -> ObjectExpectation:
    return ObjectExpectation(name=name, **kw)  # type: ignore[arg-type]


def det(label: str, box: tuple[float, float, float, float], score: float = 0.95, color=None):
    return Detection(label=label, score=score, box=box, color=color)


# --- geometry -------------------------------------------------------------------------------


def test_iou_hand_values() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0
    # overlap 5x10 = 50, union 100 + 100 - 50 = 150
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_relative_position_hand_values() -> None:
    # Two 10x10 boxes, A's centre 30 px left of B's: margin 0.1 * 20 = 2 px per axis.
    a, b = (0, 0, 10, 10), (30, 0, 40, 10)
    assert relative_position(a, b) == {"left of"}
    assert relative_position(b, a) == {"right of"}
    # Image y grows downwards: smaller y is "above".
    top, bottom = (0, 0, 10, 10), (0, 30, 10, 40)
    assert relative_position(top, bottom) == {"above"}
    assert relative_position(bottom, top) == {"below"}
    # Offset 1.5 px < margin 2 px on both axes: no relation at all.
    assert relative_position((0, 0, 10, 10), (1.5, 1.5, 11.5, 11.5)) == set()
    # Exact diagonal: each shrunk component is (30 - 2) / (30 * sqrt 2) = 0.66 > 0.5.
    assert relative_position((0, 0, 10, 10), (30, 30, 40, 40)) == {"left of", "above"}
    # A steep diagonal: the x component falls under 0.5, only "above" remains.
    assert relative_position((0, 0, 10, 10), (10, 40, 20, 50)) == {"above"}


def _reference_relations(a: np.ndarray, b: np.ndarray, margin: float) -> set[str]:
    """GenEval's rule written independently with numpy arrays (2x2 corner layout)."""
    boxes = np.stack([a, b]).reshape(2, 2, 2)
    centers = boxes.mean(axis=1)
    dims = np.abs(boxes[:, 1, :] - boxes[:, 0, :])
    offset = centers[0] - centers[1]
    revised = np.maximum(np.abs(offset) - margin * dims.sum(axis=0), 0) * np.sign(offset)
    if np.all(np.abs(revised) < 1e-3):
        return set()
    dx, dy = revised / np.linalg.norm(offset)
    out = set()
    for flag, rel in ((dx < -0.5, "left of"), (dx > 0.5, "right of"), (dy < -0.5, "above")):
        if flag:
            out.add(rel)
    if dy > 0.5:
        out.add("below")
    return out


def test_relative_position_matches_numpy_reference_on_random_boxes() -> None:
    rng = np.random.default_rng(0)
    for _ in range(500):
        xy = rng.uniform(0, 100, size=(2, 2))
        wh = rng.uniform(1, 40, size=(2, 2))
        a = np.concatenate([xy[0], xy[0] + wh[0]])
        b = np.concatenate([xy[1], xy[1] + wh[1]])
        margin = float(rng.choice([0.0, 0.1, 0.3]))
        got = relative_position(tuple(a), tuple(b), margin)  # type: ignore[arg-type]
        assert got == _reference_relations(a, b, margin)


# --- selection --------------------------------------------------------------------------


def test_select_thresholds_strictly_sorts_caps_and_merges_case() -> None:
    dets = [
        det("Dog", (0, 0, 10, 10), 0.5),
        det("dog", (20, 0, 30, 10), 0.9),
        det("dog", (40, 0, 50, 10), 0.3),  # not above 0.3: dropped
        det("cat", (0, 20, 10, 30), 0.31),
    ]
    groups = select(dets, 0.3)
    assert [d.score for d in groups["dog"]] == [0.9, 0.5]
    assert [d.score for d in groups["cat"]] == [0.31]
    capped = select([det("dog", (i, 0, i + 1, 1), 0.5 + i / 100) for i in range(20)], 0.3)
    assert len(capped["dog"]) == 16 and capped["dog"][0].score == pytest.approx(0.69)


def test_select_nms_keeps_best_of_overlapping_boxes_only_when_enabled() -> None:
    dets = [
        det("dog", (0, 0, 10, 10), 0.9),
        det("dog", (1, 0, 11, 10), 0.8),  # GenEval's IoU 110/132 = 0.83 with the first
        det("dog", (30, 0, 40, 10), 0.7),
        det("cat", (1, 0, 11, 10), 0.6),  # other class: never suppressed by a dog
    ]
    assert len(select(dets, 0.3)["dog"]) == 3  # GenEval default: NMS off
    kept = select(dets, 0.3, nms_iou=0.5)
    assert [d.score for d in kept["dog"]] == [0.9, 0.7]
    assert len(kept["cat"]) == 1
    assert len(select(dets, 0.3, nms_iou=0.85)["dog"]) == 3  # 0.83 < 0.85 survives


# --- ties and overlap against GenEval's own code --------------------------------------------
#
# Recorded once from djghosh13/geneval at commit af4902f (evaluation/evaluate_images.py,
# `evaluate_image` and `compute_iou` run unchanged) with numpy 1.23.5 (GenEval pins 1.23.1)
# and CPython 3.11.7: mmdet, torch and open_clip were stubbed, `inference_detector` returned
# the detections below as its per-class (n, 5) float32 arrays, in the order listed, and
# `color_classification` returned each box's colour from this table. Options were GenEval's
# defaults (threshold 0.3, counting_threshold 0.9, max_objects 16, position_threshold 0.1)
# and max_overlap 1.0 unless a case names another. REFERENCE holds what it returned: whether
# the image was correct and the boxes it kept per class, in its order.

GENEVAL_CASES: dict[str, dict] = {
    "tie_colour": {
        "include": [{"class": "car", "count": 1, "color": "red"}],
        "detections": [("car", (0, 0, 30, 30), 0.8, "red"), ("car", (50, 0, 80, 30), 0.8, "blue")],
    },
    "tie_colour_swapped": {
        "include": [{"class": "car", "count": 1, "color": "red"}],
        "detections": [("car", (0, 0, 30, 30), 0.8, "blue"), ("car", (50, 0, 80, 30), 0.8, "red")],
    },
    "tie_position": {
        "include": [
            {"class": "cat", "count": 1},
            {"class": "dog", "count": 1, "position": ["right of", 0]},
        ],
        "detections": [
            ("cat", (0, 40, 20, 60), 0.7, None),
            ("cat", (80, 40, 99, 60), 0.7, None),
            ("dog", (45, 40, 65, 60), 0.9, None),
        ],
    },
    "three_way_tie": {
        "include": [{"class": "cup", "count": 2, "color": "green"}],
        "exclude": [{"class": "cup", "count": 3}],
        "detections": [
            ("cup", (0, 0, 10, 10), 0.95, "green"),
            ("cup", (20, 0, 30, 10), 0.95, "green"),
            ("cup", (40, 0, 50, 10), 0.95, "red"),
        ],
    },
    "overlap_default_keeps_both": {
        "include": [{"class": "apple", "count": 2}],
        "exclude": [{"class": "apple", "count": 3}],
        "detections": [
            ("apple", (10, 10, 50, 50), 0.95, None),
            ("apple", (14, 10, 54, 50), 0.93, None),
        ],
    },
    "overlap_with_max_overlap_0_5": {
        "max_overlap": 0.5,
        "include": [{"class": "apple", "count": 2}],
        "exclude": [{"class": "apple", "count": 3}],
        "detections": [
            ("apple", (10, 10, 50, 50), 0.95, None),
            ("apple", (14, 10, 54, 50), 0.93, None),
        ],
    },
    "no_suppression_across_classes": {
        "max_overlap": 0.5,
        "include": [{"class": "cat", "count": 1}, {"class": "dog", "count": 1}],
        "detections": [("cat", (10, 10, 50, 50), 0.95, None), ("dog", (10, 10, 50, 50), 0.6, None)],
    },
    "touching_boxes_overlap_by_a_pixel": {
        "max_overlap": 0.04,
        "include": [{"class": "apple", "count": 2}],
        "exclude": [{"class": "apple", "count": 3}],
        "detections": [
            ("apple", (0, 0, 10, 10), 0.95, None),
            ("apple", (10, 0, 20, 10), 0.94, None),
        ],
    },
}

REFERENCE: dict[str, tuple[bool, dict[str, list[tuple[float, ...]]]]] = {
    "tie_colour": (False, {"car": [(50, 0, 80, 30), (0, 0, 30, 30)]}),
    "tie_colour_swapped": (True, {"car": [(50, 0, 80, 30), (0, 0, 30, 30)]}),
    "tie_position": (
        False,
        {"cat": [(80, 40, 99, 60), (0, 40, 20, 60)], "dog": [(45, 40, 65, 60)]},
    ),
    "three_way_tie": (False, {"cup": [(40, 0, 50, 10), (20, 0, 30, 10), (0, 0, 10, 10)]}),
    "overlap_default_keeps_both": (True, {"apple": [(10, 10, 50, 50), (14, 10, 54, 50)]}),
    "overlap_with_max_overlap_0_5": (False, {"apple": [(10, 10, 50, 50)]}),
    "no_suppression_across_classes": (True, {"cat": [(10, 10, 50, 50)], "dog": [(10, 10, 50, 50)]}),
    "touching_boxes_overlap_by_a_pixel": (False, {"apple": [(0, 0, 10, 10)]}),
}

# compute_iou as printed by the same run
REFERENCE_IOU = [
    ((0, 0, 10, 10), (1, 0, 11, 10), 0.8333333333333334),
    ((0, 0, 10, 10), (10, 0, 20, 10), 0.047619047619047616),
    ((0, 0, 9, 9), (20, 20, 29, 29), 0.0),
    ((2.5, 3.0, 40.5, 31.0), (10.0, 8.0, 44.0, 36.5), 0.5371225577264653),
]


def _geneval_expect(case: dict) -> Expectations:
    def objs(items: list[dict]) -> tuple[ObjectExpectation, ...]:
        out = []
        for item in items:
            fields = {k: v for k, v in item.items() if k != "class"}
            if "position" in fields:
                fields["position"] = tuple(fields["position"])
            out.append(obj(item["class"], **fields))
        return tuple(out)

    return Expectations(objects=objs(case["include"]), exclude=objs(case.get("exclude", [])))


@pytest.mark.parametrize("name", sorted(GENEVAL_CASES))
def test_ties_and_overlap_match_genevals_code(name: str) -> None:
    case = GENEVAL_CASES[name]
    expect = _geneval_expect(case)
    rules = Rules(nms_iou=case.get("max_overlap", 1.0))
    dets = [det(label, box, score, color) for label, box, score, color in case["detections"]]
    groups = select(dets, rules.threshold_for(expect), nms_iou=rules.nms_iou)
    correct, kept = REFERENCE[name]
    assert {k: [d.box for d in v] for k, v in groups.items()} == kept
    assert judge(expect, dets, rules).correct is correct


@pytest.mark.parametrize(("a", "b", "expected"), REFERENCE_IOU)
def test_geneval_iou_counts_inclusive_pixels(a, b, expected) -> None:  # type: ignore[no-untyped-def]
    assert geneval_iou(a, b) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_by_confidence_puts_the_later_of_equal_scores_first() -> None:
    dets = [det("x", (i, 0, i + 1, 1), s) for i, s in enumerate([0.5, 0.9, 0.5, 0.9, 0.7])]
    assert [d.box[0] for d in by_confidence(dets)] == [3, 1, 4, 2, 0]


def test_counting_scorer_defaults_to_genevals_overlap_rule() -> None:
    from audit.scorers.counting import CountingOptions, CountingScorer

    assert CountingOptions().nms_iou == 1.0
    assert CountingScorer().rules() == Rules()


# --- judging: one case per GenEval task ----------------------------------------------------


def test_single_and_two_object() -> None:
    one = Expectations(objects=(obj("dog", count=1),))
    assert judge(one, [det("dog", (0, 0, 10, 10))]).row() == {
        "objects_present": 1.0,
        "count_correct": None,
        "color_correct": None,
        "position_correct": None,
        "geneval_score": 1.0,
    }
    missed = judge(one, [det("dog", (0, 0, 10, 10), score=0.25)])  # under 0.3
    assert missed.objects_present is False and missed.correct is False
    assert missed.reasons == ("expected dog>=1, found 0",)

    two = Expectations(objects=(obj("cat", count=1), obj("dog", count=1)))
    both = [det("cat", (0, 0, 9, 9)), det("dog", (20, 0, 29, 9)), det("dog", (40, 0, 49, 9))]
    assert judge(two, both).correct  # extra dogs are fine: count is a minimum
    assert judge(two, both[:1]).row()["geneval_score"] == 0.0


def counting(n: int, name: str = "apple") -> Expectations:
    return Expectations(objects=(obj(name, count=n),), exclude=(obj(name, count=n + 1),))


def test_counting_is_exact_through_include_and_exclude() -> None:
    boxes = [det("apple", (i * 12, 0, i * 12 + 10, 10), 0.95) for i in range(5)]
    expect = counting(3)
    assert is_counting(expect)
    assert judge(expect, boxes[:3]).row()["count_correct"] == 1.0
    assert judge(expect, boxes[:3]).correct
    too_many = judge(expect, boxes[:4])
    assert too_many.count_correct is False and not too_many.correct
    assert too_many.reasons == ("expected apple<4, found 4",)
    too_few = judge(expect, boxes[:2])
    assert too_few.count_correct is False and too_few.objects_present is True


def test_counting_prompt_uses_the_stricter_threshold() -> None:
    boxes = [det("apple", (i * 12, 0, i * 12 + 10, 10), s) for i, s in enumerate([0.95, 0.95, 0.8])]
    assert not judge(counting(3), boxes).correct  # 0.8 is under 0.9: only two apples
    assert judge(counting(2), boxes).correct
    # The same boxes under a non-counting prompt: 0.8 counts, threshold 0.3.
    plain = Expectations(objects=(obj("apple", count=1),))
    assert not is_counting(plain)
    assert Rules().threshold_for(plain) == 0.3 and Rules().threshold_for(counting(2)) == 0.9
    assert judge(counting(3), boxes, Rules(counting_threshold=0.5)).correct


def test_colors_judge_the_most_confident_instances_only() -> None:
    expect = Expectations(objects=(obj("car", count=1, color="red"),))
    red_first = [det("car", (0, 0, 9, 9), 0.9, "red"), det("car", (20, 0, 29, 9), 0.6, "blue")]
    assert judge(expect, red_first).row()["color_correct"] == 1.0
    blue_first = [det("car", (0, 0, 9, 9), 0.9, "blue"), det("car", (20, 0, 29, 9), 0.6, "red")]
    verdict = judge(expect, blue_first)
    assert verdict.color_correct is False and not verdict.correct
    assert verdict.reasons == ("expected red car>=1, found blue",)
    # Missing object: the colour cannot hold either.
    assert judge(expect, []).color_correct is False


def test_color_attribution_two_objects() -> None:
    expect = Expectations(objects=(obj("cup", count=1, color="blue"), obj("bench", color="green")))
    good = [det("cup", (0, 0, 9, 9), color="blue"), det("bench", (20, 0, 29, 9), color="green")]
    assert judge(expect, good).correct
    swapped = [det("cup", (0, 0, 9, 9), color="green"), det("bench", (20, 0, 29, 9), color="blue")]
    out = judge(expect, swapped)
    assert out.objects_present is True and out.color_correct is False and not out.correct


def test_missing_colours_are_a_programming_error() -> None:
    expect = Expectations(objects=(obj("car", color="red"),))
    with pytest.raises(ValueError, match="classify_colors"):
        judge(expect, [det("car", (0, 0, 9, 9))])


def position(relation: str) -> Expectations:
    # "a dog <relation> a bench": bench first, dog placed relative to object 0.
    return Expectations(
        objects=(obj("bench", count=1), obj("dog", count=1, position=(relation, 0)))
    )


def test_position_relation_and_margin() -> None:
    bench = det("bench", (50, 40, 90, 60))
    dog_left = det("dog", (0, 40, 30, 60))
    assert judge(position("left of"), [bench, dog_left]).row()["position_correct"] == 1.0
    wrong = judge(position("right of"), [bench, dog_left])
    assert wrong.position_correct is False and not wrong.correct
    assert wrong.reasons == ("expected dog right of target, found left of target",)
    # Centres 8 px apart horizontally, margin 0.1 * (40 + 40) = 8 px: no relation.
    close = [det("bench", (50, 40, 90, 60)), det("dog", (42, 40, 82, 60))]
    assert judge(position("left of"), close).position_correct is False
    assert judge(position("left of"), close, Rules(position_margin=0.0)).correct
    # Without the target object there is nothing to be left of.
    alone = judge(position("left of"), [dog_left])
    assert alone.position_correct is False and "no target for dog to be left of" in alone.reasons


def test_position_target_later_in_the_list() -> None:
    expect = Expectations(objects=(obj("dog", position=("left of", 1)), obj("bench")))
    assert judge(expect, [det("bench", (50, 40, 90, 60)), det("dog", (0, 40, 30, 60))]).correct
    bad = Expectations(objects=(obj("dog", position=("left of", 0)),))
    with pytest.raises(UserError, match="position"):
        judge(bad, [det("dog", (0, 0, 9, 9))])


def test_position_ignores_colour_but_geneval_score_does_not() -> None:
    expect = Expectations(
        objects=(obj("bench"), obj("dog", color="brown", position=("left of", 0)))
    )
    dets = [det("bench", (50, 40, 90, 60)), det("dog", (0, 40, 30, 60), color="black")]
    verdict = judge(expect, dets)
    assert verdict.position_correct is True
    assert verdict.color_correct is False and not verdict.correct


def test_exclude_clause() -> None:
    expect = Expectations(objects=(obj("cat"),), exclude=(obj("dog"),))
    assert not is_counting(expect)  # excluding another class is no counting prompt
    assert judge(expect, [det("cat", (0, 0, 9, 9))]).correct
    with_dog = judge(expect, [det("cat", (0, 0, 9, 9)), det("dog", (20, 0, 29, 9))])
    assert not with_dog.correct and with_dog.objects_present is True
    assert with_dog.count_correct is None


def test_class_names_cover_include_and_exclude_once() -> None:
    expect = Expectations(objects=(obj("Cat"), obj("dog")), exclude=(obj("cat", count=3),))
    assert class_names(expect) == ["cat", "dog"]


# --- colours --------------------------------------------------------------------------------


def test_classify_colors_asks_only_for_the_instances_it_reads() -> None:
    expect = Expectations(objects=(obj("car", count=2, color="red"), obj("dog")))
    groups = select(
        [det("car", (i * 10, 0, i * 10 + 9, 9), 0.9 - i / 10) for i in range(4)]
        + [det("dog", (0, 20, 9, 29))],
        0.3,
    )
    calls: list[tuple[str, int]] = []

    def fake(name: str, boxes: list) -> list[str]:
        calls.append((name, len(boxes)))
        return ["red"] * len(boxes)

    colored = classify_colors(groups, expect, fake)
    assert calls == [("car", 2)]
    assert [d.color for d in colored["car"]] == ["red", "red", None, None]
    assert judge_selected(expect, colored).correct


CSS_TO_GENEVAL = {
    "red": "red",
    "darkred": "red",
    "crimson": "red",
    "orange": "orange",
    "darkorange": "orange",
    "yellow": "yellow",
    "gold": "yellow",
    "green": "green",
    "lime": "green",
    "forestgreen": "green",
    "blue": "blue",
    "navy": "blue",
    "royalblue": "blue",
    "purple": "purple",
    "indigo": "purple",
    "pink": "pink",
    "hotpink": "pink",
    "deeppink": "pink",
    "brown": "brown",
    "saddlebrown": "brown",
    "sienna": "brown",
    "black": "black",
    "white": "white",
    "ivory": "white",
}


def test_pixel_color_names_on_css_named_colours() -> None:
    rgb = np.array([ImageColor.getrgb(n) for n in CSS_TO_GENEVAL], dtype=float) / 255
    got = [GENEVAL_COLORS[i] for i in pixel_color_names(rgb)]
    assert got == list(CSS_TO_GENEVAL.values())


def test_hsv_classifier_reads_the_object_not_the_background() -> None:
    img = Image.new("RGB", (64, 64), "white")
    draw = ImageDraw.Draw(img)
    draw.ellipse((4, 4, 28, 28), fill="blue")  # a disc: its box corners are background
    draw.rectangle((36, 36, 60, 60), fill="saddlebrown")
    # Some background leaks into the box; the central half is all object.
    got = HsvColorClassifier().classify(img, "thing", [(2, 2, 30, 30), (34, 34, 62, 62)])
    assert got == ["blue", "brown"]
    # Voting over the whole box would let the white background win for the small disc.
    tiny = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(tiny).ellipse((24, 24, 40, 40), fill="red")
    box = (8.0, 8.0, 56.0, 56.0)
    assert HsvColorClassifier(center=1.0).classify(tiny, "x", [box]) == ["white"]
    assert HsvColorClassifier(center=0.3).classify(tiny, "x", [box]) == ["red"]


class _ColourWordClip:
    """A stand-in CLIP: text embeds as a one-hot of the colour word, images as HSV votes."""

    def encode_text(self, tokens):
        return tokens.float() + 0.01

    def encode_image(self, batch):
        import torch

        rgb = batch.permute(0, 2, 3, 1).reshape(batch.shape[0], -1, 3).numpy()
        votes = [np.bincount(pixel_color_names(p), minlength=10) for p in rgb]
        return torch.tensor(np.stack(votes), dtype=torch.float32)


def _colour_tokens(texts: list[str]):
    import torch

    rows = []
    for t in texts:
        words = t.replace("-colored", " ").split()
        rows.append([float(c in words) for c in GENEVAL_COLORS])
    return torch.tensor(rows)


def _to_tensor(img: Image.Image):
    import torch

    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)


def test_clip_classifier_crops_each_box_and_picks_the_best_colour() -> None:
    img = Image.new("RGB", (64, 32), "green")
    ImageDraw.Draw(img).rectangle((32, 0, 63, 31), fill="purple")

    def preprocess(crop: Image.Image):
        return _to_tensor(crop.resize((8, 8)))

    clf = ClipColorClassifier(_ColourWordClip(), preprocess, _colour_tokens)
    assert clf.classify(img, "car", [(0, 0, 32, 32), (32, 0, 64, 32)]) == ["green", "purple"]
    assert clf.classify(img, "car", []) == []
    assert set(clf._text) == {"car"}  # one text classifier per class, cached


def test_clip_classifier_runs_a_tiny_random_open_clip_model() -> None:
    import open_clip
    import torch

    torch.manual_seed(0)
    model = open_clip.CLIP(
        embed_dim=16,
        vision_cfg=open_clip.CLIPVisionCfg(
            layers=1, width=32, head_width=16, patch_size=8, image_size=32
        ),
        text_cfg=open_clip.CLIPTextCfg(
            context_length=16, vocab_size=49408, width=32, heads=2, layers=1
        ),
    ).eval()
    tokenizer = open_clip.get_tokenizer("ViT-B-32", context_length=16)

    def preprocess(crop: Image.Image):
        return _to_tensor(crop.resize((32, 32)))

    clf = ClipColorClassifier(model, preprocess, tokenizer)
    img = Image.new("RGB", (64, 64), "orange")
    got = clf.classify(img, "teddy bear", [(0, 0, 32, 32), (10, 10, 60, 60), (70, 70, 90, 90)])
    assert len(got) == 3 and set(got) <= set(GENEVAL_COLORS)
    assert clf._text["teddy bear"].shape == (16, 10)

"""CountingScorer end to end on drawn images, with a blob detector standing in for OWLv2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from audit.errors import UserError
from audit.prompts.model import Expectations, ObjectExpectation
from audit.scorers.base import ScoreItem
from audit.scorers.counting import METRIC_NAMES, CountingOptions, CountingScorer
from audit.scorers.detectors import haar_requirement
from audit.scorers.geneval import Detection, HsvColorClassifier
from audit.scorers.registry import default_registry


class BlobDetector:
    """Finds non-white blobs; blobs over 400 px are "car"s, smaller ones "apple"s."""

    name = "blobs"
    classes: tuple[str, ...] | None = None

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def detect(self, image, class_names):
        from scipy import ndimage

        self.asked.append(list(class_names))
        ink = np.asarray(image.convert("L")) < 240
        labels, n = ndimage.label(ink)
        out = []
        for k, sl in enumerate(ndimage.find_objects(labels), start=1):
            area = int((labels[sl] == k).sum())
            label = "car" if area > 400 else "apple"
            if label in class_names:
                box = (sl[1].start, sl[0].start, sl[1].stop, sl[0].stop)
                out.append(Detection(label=label, score=0.95, box=tuple(map(float, box))))
        return out


def obj(name: str, **kw) -> ObjectExpectation:
    return ObjectExpectation(name=name, **kw)


def draw(path: Path, shapes: list[tuple[str, tuple[int, int, int, int], str]]) -> Path:
    img = Image.new("RGB", (64, 64), "white")
    d = ImageDraw.Draw(img)
    for kind, box, color in shapes:
        (d.ellipse if kind == "disc" else d.rectangle)(box, fill=color)
    img.save(path)
    return path


def item(path: Path, expect: Expectations, key: str | None = None) -> ScoreItem:
    return ScoreItem(
        key=key or path.stem,
        image_path=path,
        prompt_text="test prompt",
        prompt_id=path.stem,
        expect=expect,
    )


def apples(n: int) -> list[tuple[str, tuple[int, int, int, int], str]]:
    return [("disc", (2 + 12 * i, 2, 11 + 12 * i, 11), "red") for i in range(n)]


def scorer(**options) -> tuple[CountingScorer, BlobDetector]:
    det = BlobDetector()
    opts = CountingOptions(color="hsv", **options)
    return CountingScorer.with_components(det, HsvColorClassifier(), opts), det


def counting(n: int, name: str = "apple") -> Expectations:
    return Expectations(objects=(obj(name, count=n),), exclude=(obj(name, count=n + 1),))


def test_counting_prompts(tmp_path: Path) -> None:
    s, det = scorer()
    three = draw(tmp_path / "three.png", apples(3))
    four = draw(tmp_path / "four.png", apples(4))
    rows = s.score_batch(
        [item(three, counting(3)), item(four, counting(3)), item(four, counting(4))]
    )
    assert [r["count_correct"] for r in rows] == [1.0, 0.0, 1.0]
    assert [r["geneval_score"] for r in rows] == [1.0, 0.0, 1.0]
    assert rows[1]["objects_present"] == 1.0 and rows[1]["color_correct"] is None
    assert det.asked == [["apple"]] * 3
    assert all(set(r) == set(METRIC_NAMES) for r in rows)


def test_colour_position_and_attribute_binding(tmp_path: Path) -> None:
    s, _ = scorer()
    # A red apple (small disc) left of a blue car (big rectangle).
    img = draw(
        tmp_path / "scene.png",
        [("disc", (2, 20, 14, 32), "red"), ("rect", (30, 10, 62, 50), "blue")],
    )
    left = Expectations(
        objects=(obj("car", color="blue"), obj("apple", color="red", position=("left of", 0)))
    )
    right = Expectations(objects=(obj("car"), obj("apple", position=("right of", 0))))
    swapped = Expectations(objects=(obj("car", color="red"), obj("apple", color="blue")))
    rows = s.score_batch([item(img, left, "l"), item(img, right, "r"), item(img, swapped, "s")])
    assert rows[0] == {
        "objects_present": 1.0,
        "count_correct": None,
        "color_correct": 1.0,
        "position_correct": 1.0,
        "geneval_score": 1.0,
    }
    assert rows[1]["position_correct"] == 0.0 and rows[1]["geneval_score"] == 0.0
    assert rows[1]["color_correct"] is None
    assert rows[2]["objects_present"] == 1.0 and rows[2]["color_correct"] == 0.0


def test_items_without_a_verdict_get_none(tmp_path: Path) -> None:
    s, det = scorer()
    img = draw(tmp_path / "a.png", apples(1))
    no_objects = item(img, Expectations(text=("HELLO",)), "text-only")
    grey = item(img, Expectations(objects=(obj("apple", color="gray"),)), "grey")
    rows = s.score_batch([no_objects, grey])
    assert rows == [dict.fromkeys(METRIC_NAMES)] * 2
    assert det.asked == []  # nothing was detected for them

    class FacesOnly(BlobDetector):
        classes = ("face",)

    closed = CountingScorer.with_components(FacesOnly(), HsvColorClassifier())
    assert closed.score_batch([item(img, counting(1))]) == [dict.fromkeys(METRIC_NAMES)]


def test_thresholds_come_from_the_options(tmp_path: Path) -> None:
    img = draw(tmp_path / "two.png", apples(2))
    # Blob scores are 0.95: above GenEval's 0.9, below a stricter 0.97.
    assert scorer()[0].score_batch([item(img, counting(2))])[0]["count_correct"] == 1.0
    strict = scorer(counting_threshold=0.97)[0]
    assert strict.score_batch([item(img, counting(2))])[0]["objects_present"] == 0.0


def test_metrics_and_registry() -> None:
    assert default_registry().get("counting") is CountingScorer
    names = [m.name for m in CountingScorer().metrics()]
    assert names == list(METRIC_NAMES)
    assert all(m.kind == "binary" and m.direction == "higher" for m in CountingScorer().metrics())


def test_bad_options_are_user_errors() -> None:
    with pytest.raises(UserError) as err:
        CountingScorer.parse_options({"threshold": 1.5}, source="sweep.yaml")
    assert err.value.field == "scorers.counting.threshold" and err.value.file == "sweep.yaml"
    with pytest.raises(UserError):
        CountingScorer.parse_options({"detector": "yolo"})


def test_check_explains_missing_weights_offline(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    opts = CountingOptions(model="t2i-audit-tests/no-such-owlv2", clip_pretrained="no-such-tag")
    reqs = CountingScorer.check(opts)
    lacking = [r for r in reqs if not r.ok]
    owl = next(r for r in lacking if "OWLv2" in r.what)
    assert "hf download t2i-audit-tests/no-such-owlv2" in owl.fix
    clip = next(r for r in lacking if "CLIP" in r.what)
    assert "color: hsv" in clip.fix

    offline_only = CountingScorer.check(CountingOptions(detector="haar", color="hsv"))
    assert offline_only == [haar_requirement()]


def test_check_accepts_a_local_owlv2_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")
    reqs = CountingScorer.check(CountingOptions(model=str(tmp_path), color="hsv"))
    assert all(r.ok for r in reqs), reqs


def drawn_face_64() -> Image.Image:
    """A grey cartoon face the frontal-face cascade finds (as in test_detectors, at 64 px)."""
    from PIL import ImageFilter

    img = Image.new("L", (64, 64), 200)
    d = ImageDraw.Draw(img)
    d.ellipse((12, 7, 52, 59), fill=170)
    for x0 in (20, 35):
        d.ellipse((x0, 23, x0 + 9, 28), fill=40)  # eyes
        d.rectangle((x0 - 2, 18, x0 + 10, 20), fill=60)  # brows
    d.polygon([(32, 29), (29, 40), (35, 40)], fill=140)
    d.ellipse((24, 45, 40, 50), fill=70)
    return img.filter(ImageFilter.GaussianBlur(1)).convert("RGB")


@pytest.mark.skipif(not haar_requirement().ok, reason="needs OpenCV < 5 with Haar cascades")
def test_haar_scorer_counts_drawn_faces(tmp_path: Path) -> None:
    face = drawn_face_64()
    two = Image.new("RGB", (148, 64), (200, 200, 200))
    two.paste(face, (0, 0))
    two.paste(face, (84, 0))
    two.save(tmp_path / "two.png")
    s = CountingScorer(CountingOptions(detector="haar", color="hsv", counting_threshold=0.99))
    rows = s.score_batch(
        [
            item(tmp_path / "two.png", counting(2, "people"), "two"),
            item(tmp_path / "two.png", counting(1, "person"), "one"),
            item(tmp_path / "two.png", counting(1, "dog"), "dog"),
        ]
    )
    assert [r["count_correct"] for r in rows] == [1.0, 0.0, None]


def _fake_hub_cache(root: Path, repo_id: str, files: list[str]) -> None:
    """The layout huggingface_hub writes: refs/main names a snapshot holding the files."""
    repo = root / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    snap = repo / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    for name in files:
        (snap / name).write_bytes(b"x")


def test_check_default_options_against_the_hub_cache(tmp_path: Path, monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    empty = CountingScorer.check(CountingOptions())
    assert [r.ok for r in empty if "weights" in r.what] == [False, False]

    _fake_hub_cache(
        tmp_path, "google/owlv2-base-patch16-ensemble", ["config.json", "model.safetensors"]
    )
    _fake_hub_cache(
        tmp_path, "timm/vit_large_patch14_clip_224.openai", ["open_clip_model.safetensors"]
    )
    cached = CountingScorer.check(CountingOptions())
    assert all(r.ok for r in cached), cached
    assert sum("in the Hugging Face cache" in r.what for r in cached) == 2

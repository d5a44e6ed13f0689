"""Detectors: OWLv2 on a tiny random model built in code, Haar cascades on real and drawn faces."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFilter

from audit.errors import UserError
from audit.scorers.detectors import (
    HaarDetector,
    Owlv2Detector,
    haar_requirement,
    owlv2_detections,
    owlv2_requirement,
)
from audit.scorers.geneval import iou

# --- OWLv2 ---------------------------------------------------------------------------------


def test_owlv2_boxes_scale_by_the_longer_side_and_clip_to_the_image() -> None:
    import torch

    # 128 wide, 64 high: OWLv2 padded it to 128x128 at the bottom, so y scales by 128 too.
    logits = torch.tensor([[3.0, -1.0], [-2.0, 0.5], [-9.0, -9.0], [4.0, 0.0]])
    boxes = torch.tensor(
        [
            [0.25, 0.25, 0.5, 0.5],  # -> (0, 0, 64, 64)
            [0.75, 0.125, 0.25, 0.25],  # -> (80, 0, 112, 32)
            [0.5, 0.5, 0.2, 0.2],  # score sigmoid(-9) ~ 1e-4: below the floor
            [0.5, 0.75, 0.2, 0.2],  # wholly in the padding (y 83..109): dropped
        ]
    )
    got = owlv2_detections(logits, boxes, (128, 64), ["cat", "dog"], min_score=0.1)
    assert [d.label for d in got] == ["cat", "dog"]
    assert got[0].box == pytest.approx((0.0, 0.0, 64.0, 64.0))
    assert got[1].box == pytest.approx((80.0, 0.0, 112.0, 32.0))
    assert got[0].score == pytest.approx(1 / (1 + torch.exp(torch.tensor(-3.0)).item()))
    assert got[1].score == pytest.approx(1 / (1 + torch.exp(torch.tensor(-0.5)).item()))


def _clip_tokenizer():
    """A CLIP BPE tokenizer from the vocabulary open_clip ships: no download."""
    from open_clip.tokenizer import SimpleTokenizer
    from transformers import CLIPTokenizer

    simple = SimpleTokenizer()
    specials = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}
    vocab = {specials.get(k, k): v for k, v in simple.encoder.items()}
    merges = [tuple(p) for p, _ in sorted(simple.bpe_ranks.items(), key=lambda kv: kv[1])]
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=16)


@pytest.fixture(scope="module")
def tiny_owlv2():
    import torch
    from transformers import (
        Owlv2Config,
        Owlv2ForObjectDetection,
        Owlv2ImageProcessor,
        Owlv2Processor,
    )

    processor = Owlv2Processor(
        image_processor=Owlv2ImageProcessor(size={"height": 64, "width": 64}),
        tokenizer=_clip_tokenizer(),
    )
    config = Owlv2Config(
        text_config={
            "vocab_size": 49408,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 16,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 64,
            "patch_size": 16,
        },
        projection_dim=32,
    )
    torch.manual_seed(0)
    model = Owlv2ForObjectDetection(config).eval()
    # A zero last box layer leaves OWLv2's grid prior: one patch-sized box per patch,
    # centred at ((i + 1) / 4, (j + 1) / 4) of the padded square.
    torch.nn.init.zeros_(model.box_head.dense2.weight)
    torch.nn.init.zeros_(model.box_head.dense2.bias)
    return model, processor


def test_tokenizer_from_open_clip_vocab_matches_open_clip() -> None:
    from open_clip.tokenizer import SimpleTokenizer

    text = "a photo of a teddy bear"
    ids = _clip_tokenizer()(text)["input_ids"]
    assert ids[1:-1] == SimpleTokenizer().encode(text)


def test_owlv2_detector_end_to_end_on_a_tiny_model(tiny_owlv2) -> None:
    import torch

    model, processor = tiny_owlv2
    image = Image.new("RGB", (96, 64), (200, 30, 30))
    names = ["cat", "dog"]
    found = Owlv2Detector(model, processor, min_score=0.0).detect(image, names)

    # Boxes: the grid prior scaled by the longer side (96), clipped to 96x64; the bottom
    # row lies in the padding and disappears.
    expected = []
    for j in range(4):
        for i in range(4):
            cx, cy = 24.0 * (i + 1), 24.0 * (j + 1)
            box = (cx - 12, cy - 12, min(cx + 12, 96.0), min(cy + 12, 64.0))
            if box[3] > box[1]:
                expected.append(box)
    assert len(found) == len(expected) == 12
    for d, box in zip(found, expected, strict=True):
        assert d.box == pytest.approx(box, abs=0.05)

    # Scores and labels: the same as transformers' own post-processing of the same forward.
    queries = ["a photo of a cat", "a photo of a dog"]
    inputs = processor(text=[queries], images=image, return_tensors="pt")
    with torch.inference_mode():
        out = model(**inputs)
    ref = processor.post_process_grounded_object_detection(
        out, threshold=0.0, target_sizes=[(64, 96)], text_labels=[names]
    )[0]
    kept = [k for k, b in enumerate(ref["boxes"].tolist()) if min(b[3], 64) > b[1]]
    assert [d.label for d in found] == [ref["text_labels"][k] for k in kept]
    assert [d.score for d in found] == pytest.approx([ref["scores"][k].item() for k in kept])

    high = Owlv2Detector(model, processor, min_score=0.5).detect(image, names)
    assert [d for d in found if d.score > 0.5] == high
    assert Owlv2Detector(model, processor).detect(image, []) == []


def test_owlv2_loads_from_a_local_directory_offline(tiny_owlv2, tmp_path, monkeypatch) -> None:
    model, processor = tiny_owlv2
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert owlv2_requirement(str(tmp_path)).ok
    loaded = Owlv2Detector.load(str(tmp_path), min_score=0.0)
    image = Image.new("RGB", (64, 64), (10, 120, 240))
    direct = Owlv2Detector(model, processor, min_score=0.0).detect(image, ["bird"])
    again = loaded.detect(image, ["bird"])
    assert len(again) == len(direct) == 16
    assert [v for d in again for v in d.box] == pytest.approx([v for d in direct for v in d.box])
    assert [d.score for d in again] == pytest.approx([d.score for d in direct])


def test_owlv2_missing_weights_offline_say_how_to_fix(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    req = owlv2_requirement("t2i-audit-tests/no-such-owlv2")
    assert not req.ok and "HF_HUB_OFFLINE" in req.what
    assert "hf download t2i-audit-tests/no-such-owlv2" in req.fix and "haar" in req.fix
    with pytest.raises(UserError) as err:
        Owlv2Detector.load("t2i-audit-tests/no-such-owlv2")
    assert err.value.field == "scorers.counting.model" and "save_pretrained" in str(err.value)
    (tmp_path / "config.json").write_text("{}")
    half = owlv2_requirement(str(tmp_path))
    assert not half.ok and "model.safetensors" in half.fix
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")  # either one set means offline
    assert owlv2_requirement("t2i-audit-tests/no-such-owlv2").ok  # online: downloads later


# --- Haar ----------------------------------------------------------------------------------


def _cv2_has_cascades() -> bool:
    import cv2

    return hasattr(cv2, "CascadeClassifier")


def test_haar_requirement_tells_whether_opencv_has_cascades() -> None:
    req = haar_requirement()
    assert req.ok == _cv2_has_cascades()
    if not req.ok:
        assert "opencv-python<5" in req.fix
        with pytest.raises(UserError):
            HaarDetector()


needs_cascades = pytest.mark.skipif(
    not _cv2_has_cascades(),
    reason="the installed cv2 is OpenCV 5 without CascadeClassifier; install opencv-python<5",
)


def drawn_face(size: int = 128) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A grey cartoon face (brows, eyes, nose, mouth on an oval) and the oval's box."""
    s = size / 128
    img = Image.new("L", (size, size), 200)
    d = ImageDraw.Draw(img)
    oval = (int(24 * s), int(14 * s), int(104 * s), int(118 * s))
    d.ellipse(oval, fill=170)
    for x0 in (40, 70):
        d.ellipse((x0 * s, 46 * s, (x0 + 18) * s, 56 * s), fill=40)  # eyes
        d.rectangle(((x0 - 4) * s, 36 * s, (x0 + 20) * s, 40 * s), fill=60)  # brows
    d.polygon([(64 * s, 58 * s), (58 * s, 80 * s), (70 * s, 80 * s)], fill=140)
    d.ellipse((48 * s, 90 * s, 80 * s, 100 * s), fill=70)
    return img.filter(ImageFilter.GaussianBlur(2 * s)).convert("RGB"), oval


@needs_cascades
def test_haar_finds_the_drawn_face_and_nothing_on_blank_images() -> None:
    detector = HaarDetector()
    image, oval = drawn_face()
    faces = detector.detect(image, ["face"])
    assert len(faces) == 1
    box = faces[0].box
    assert iou(box, tuple(map(float, oval))) > 0.5  # type: ignore[arg-type]
    assert all(0 <= v <= 128 for v in box) and faces[0].score == 1.0
    # A portrait counts as a person, under whatever name the prompt used.
    people = detector.detect(image, ["woman"])
    assert [(p.label, p.box) for p in people] == [("woman", box)]
    blank = Image.new("RGB", (128, 128), (120, 160, 200))
    assert detector.detect(blank, ["face", "person"]) == []
    with pytest.raises(ValueError, match="haar"):
        detector.detect(image, ["dog"])


@needs_cascades
@pytest.mark.skipif(importlib.util.find_spec("skimage") is None, reason="needs scikit-image")
def test_haar_finds_the_astronaut_face_shipped_with_scikit_image() -> None:
    import skimage

    path = Path(skimage.__file__).parent / "data" / "astronaut.png"
    image = Image.open(path).convert("RGB").resize((256, 256))
    faces = HaarDetector().detect(image, ["face"])
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    # The face centre, read off the picture by eye at 256 px: about (113, 58).
    assert x0 < 113 < x1 and y0 < 58 < y1
    assert 30 < x1 - x0 < 90

"""Object detectors behind one small interface, for the counting and composition scorer.

* `Owlv2Detector`: open vocabulary (OWLv2 through transformers); weights from a hub id or a
  local directory saved with `save_pretrained`.
* `HaarDetector`: faces and people only, from the Haar cascades OpenCV < 5 ships; offline.

Detectors return every box above their own low floor (`min_score`); GenEval's thresholds and
deduplication are applied afterwards by `audit.scorers.geneval.select`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from audit.environment import hub_offline
from audit.errors import UserError
from audit.scorers.base import Requirement
from audit.scorers.geneval import Box, Detection
from audit.scorers.identity import file_digest, tree_digest
from audit.scorers.packaged_files import package_dir

OWLV2_DEFAULT = "google/owlv2-base-patch16-ensemble"


class Detector(Protocol):
    """`classes` is None for an open vocabulary, else the only names `detect` accepts."""

    name: str
    classes: tuple[str, ...] | None

    def detect(self, image: Any, class_names: Sequence[str]) -> list[Detection]: ...


# --- OWLv2 -------------------------------------------------------------------------------


def owlv2_detections(
    logits: Any,
    pred_boxes: Any,
    image_size: tuple[int, int],
    class_names: Sequence[str],
    min_score: float,
) -> list[Detection]:
    """Turn one image's OWLv2 outputs into pixel-space detections.

    `logits` is (num_boxes, num_queries); `pred_boxes` is (num_boxes, 4) as relative
    (cx, cy, w, h). OWLv2 pads the image at the bottom/right to a square before resizing, so
    relative coordinates scale by the longer side; boxes are then clipped to the image.
    Each box takes its best-scoring query, as transformers' post-processing does.
    """
    import torch

    width, height = image_size
    side = float(max(width, height))
    probs = torch.sigmoid(logits.float())
    scores, labels = probs.max(dim=-1)
    cx, cy, w, h = pred_boxes.float().unbind(-1)
    corners = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1) * side
    limits = torch.tensor([width, height, width, height], dtype=corners.dtype)
    corners = torch.minimum(corners.clamp(min=0.0), limits)
    out = []
    for score, label, box in zip(scores.tolist(), labels.tolist(), corners.tolist(), strict=True):
        if score <= min_score or box[2] <= box[0] or box[3] <= box[1]:
            continue
        out.append(Detection(label=class_names[label], score=score, box=tuple(box)))  # type: ignore[arg-type]
    return out


class Owlv2Detector:
    """OWLv2 zero-shot detection, queried with the prompt's class names.

    Each name is asked as "a photo of a NAME" (the query form OWL-ViT's own examples use);
    a box takes the name whose query it matches best.
    """

    name = "owlv2"
    classes: tuple[str, ...] | None = None
    query_template = "a photo of a {}"

    def __init__(
        self, model: Any, processor: Any, *, device: str = "cpu", min_score: float = 0.1
    ) -> None:
        self.model = model.to(device).eval()
        self.processor = processor
        self.device = device
        self.min_score = min_score

    @classmethod
    def load(
        cls, source: str = OWLV2_DEFAULT, *, device: str = "cpu", min_score: float = 0.1
    ) -> Owlv2Detector:
        """Load from a hub id or a local directory; never downloads when HF_HUB_OFFLINE is set."""
        from transformers import Owlv2ForObjectDetection, Owlv2Processor

        local_only = hub_offline() or Path(source).is_dir()
        try:
            processor = Owlv2Processor.from_pretrained(source, local_files_only=local_only)
            model = Owlv2ForObjectDetection.from_pretrained(
                source, local_files_only=local_only, use_safetensors=True
            )
        except OSError as exc:
            raise UserError(
                f"cannot load OWLv2 weights from '{source}': {exc}".splitlines()[0],
                field="scorers.counting.model",
                fix=owlv2_fix(source),
            ) from None
        return cls(model, processor, device=device, min_score=min_score)

    def detect(self, image: Any, class_names: Sequence[str]) -> list[Detection]:
        import torch

        if not class_names:
            return []
        rgb = image.convert("RGB")
        queries = [self.query_template.format(name) for name in class_names]
        inputs = self.processor(text=[queries], images=rgb, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        with torch.inference_mode():
            outputs = self.model(**inputs)
        return owlv2_detections(
            outputs.logits[0].cpu(),
            outputs.pred_boxes[0].cpu(),
            rgb.size,
            class_names,
            self.min_score,
        )


def owlv2_fix(source: str) -> str:
    return (
        f"download the weights once with network access (`hf download {source}`), or save "
        "Owlv2ForObjectDetection and Owlv2Processor with save_pretrained to a directory and "
        "set scorers.counting.model to it; for faces and people only, use detector: haar"
    )


def owlv2_requirement(source: str) -> Requirement:
    """Whether OWLv2 weights can be loaded here without guessing: local dir, cache, or network."""
    what = f"OWLv2 weights '{source}'"
    path = Path(source)
    if path.is_dir():
        ok = (path / "config.json").is_file() and (path / "model.safetensors").is_file()
        return Requirement(
            what=what,
            ok=ok,
            fix=""
            if ok
            else f"{source} lacks config.json or model.safetensors; {owlv2_fix(source)}",
        )
    if hub_cached(source, "model.safetensors") and hub_cached(source, "config.json"):
        return Requirement(what=f"{what} (in the Hugging Face cache)", ok=True)
    if hub_offline():
        return Requirement(
            what=f"{what}: not in the Hugging Face cache and HF_HUB_OFFLINE is set",
            ok=False,
            fix=owlv2_fix(source),
        )
    return Requirement(what=f"{what} (downloaded on first use)", ok=True)


def detector_identity(kind: str, source: str) -> str:
    """What a detector loads, cheaply: a local OWLv2 directory's digest, a hub id as given,
    or the digest of the Haar cascade files OpenCV ships."""
    if kind == "haar":
        root = package_dir("cv2")
        files = [root / "data" / f for f in HAAR_FILES.values()] if root is not None else []
        if not files or not all(f.is_file() for f in files):
            return "haar:absent"
        return "haar:" + ",".join(file_digest(f) for f in files)
    path = Path(source).expanduser()
    return f"owlv2:{tree_digest(path)}" if path.is_dir() else f"owlv2:{source}"


def hub_cached(repo_id: str, filename: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        found = try_to_load_from_cache(repo_id, filename)
    except Exception:  # an id that is not a valid repo name is simply not cached
        return False
    return isinstance(found, str)


# --- Haar cascades ------------------------------------------------------------------------

# Name in a prompt -> what the cascades look for.
HAAR_SYNONYMS: dict[str, str] = {
    "face": "face",
    "faces": "face",
    "person": "person",
    "persons": "person",
    "people": "person",
    "human": "person",
    "man": "person",
    "men": "person",
    "woman": "person",
    "women": "person",
}
HAAR_FILES = {
    "face": "haarcascade_frontalface_default.xml",
    "person": "haarcascade_fullbody.xml",
}
HAAR_FIX = (
    "pip install 'opencv-python<5' (invisible-watermark needs opencv-python; OpenCV 5 dropped "
    "the Haar cascades) and uninstall any other OpenCV wheel sharing the cv2 folder"
)


def haar_requirement() -> Requirement:
    what = "OpenCV < 5 with Haar cascades (CascadeClassifier, cv2.data.haarcascades)"
    try:
        import cv2
    except ImportError:
        return Requirement(what=what, ok=False, fix=HAAR_FIX)
    folder = getattr(getattr(cv2, "data", None), "haarcascades", "")
    ok = hasattr(cv2, "CascadeClassifier") and all(
        Path(folder, f).is_file() for f in HAAR_FILES.values()
    )
    return Requirement(
        what=f"{what}; found OpenCV {cv2.__version__}", ok=ok, fix="" if ok else HAAR_FIX
    )


def _contains(outer: Box, inner: Box) -> bool:
    cx, cy = (inner[0] + inner[2]) / 2, (inner[1] + inner[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]


class HaarDetector:
    """Faces (frontal) and people (full body, or a face outside every body box) via OpenCV.

    Cascades give no calibrated confidence, so every kept box scores 1.0; `min_neighbors`
    is the cascade's own threshold. A portrait shows a face but rarely a full body, hence a
    face that lies in no body box counts as a person too.
    """

    name = "haar"
    classes: tuple[str, ...] | None = tuple(HAAR_SYNONYMS)

    def __init__(self, *, scale_factor: float = 1.1, min_neighbors: int = 5) -> None:
        req = haar_requirement()
        if not req.ok:
            raise UserError(
                req.what + " is missing", field="scorers.counting.detector", fix=req.fix
            )
        import cv2

        cv: Any = cv2  # OpenCV 5's stubs lack the cascade API this needs
        self._cascades = {
            kind: cv.CascadeClassifier(str(Path(cv.data.haarcascades, f)))
            for kind, f in HAAR_FILES.items()
        }
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors

    def _boxes(self, gray: Any, kind: str) -> list[Box]:
        found = self._cascades[kind].detectMultiScale(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors
        )
        return [(float(x), float(y), float(x + w), float(y + h)) for x, y, w, h in found]

    def detect(self, image: Any, class_names: Sequence[str]) -> list[Detection]:
        import numpy as np

        unknown = [n for n in class_names if n.lower().strip() not in HAAR_SYNONYMS]
        if unknown:
            raise ValueError(f"the haar detector knows only {sorted(HAAR_SYNONYMS)}, not {unknown}")
        gray = np.asarray(image.convert("L"))
        kinds = {HAAR_SYNONYMS[n.lower().strip()] for n in class_names}
        faces = self._boxes(gray, "face") if kinds else []
        boxes: dict[str, list[Box]] = {"face": faces}
        if "person" in kinds:
            bodies = self._boxes(gray, "person")
            loose = [f for f in faces if not any(_contains(b, f) for b in bodies)]
            boxes["person"] = bodies + loose
        return [
            Detection(label=n, score=1.0, box=box)
            for n in class_names
            for box in boxes[HAAR_SYNONYMS[n.lower().strip()]]
        ]
